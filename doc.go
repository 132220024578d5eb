// Package modelstream is an embeddable SDK for model-as-data stream
// processing in Go.
//
// # Model as data
//
// A trained model is data, not code. Training systems publish models as
// messages on a Kafka topic: the key is the model's name, the value is
// the model's bytes exactly as its own tools wrote them (LightGBM text,
// XGBoost JSON, UBJSON or binary, ONNX protobuf, or modelstream's linear
// JSON), and headers carry the version, content hash, lineage and
// signature. Every scoring process reads that topic, loads each new
// version and swaps it in while the data stream keeps flowing. No model
// is ever compiled into the scorer, and no scorer restarts to change its
// model.
//
// # The flow
//
// Records arrive on a data topic, read in a Kafka consumer group so that
// scaling out is adding instances and failover is Kafka moving
// partitions. Each record is decoded, scored, stamped with the provenance
// of the exact model version that scored it, and written to a scores
// topic; offsets are committed only after the score is acknowledged, so
// delivery is at least once. Records that cannot be decoded or scored go
// to a dead-letter topic with the reason.
//
// # Where to start
//
//   - serving: the vocabulary (Record, Prediction, Descriptor, Model,
//     Scorer, Result, Provenance), the format registry and the
//     hot-swapping Server.
//   - serving/formats/...: LightGBM, XGBoost and sklearn trees (leaves,
//     and xgboost for XGBoost JSON and UBJSON), ONNX, and the linear
//     format.
//   - serving/kafka: Source, Sink, ModelFeed and Publisher over Kafka.
//   - serving/servingtest and serving/servingtest/kafkatest: fake models
//     and an in-process Kafka cluster for your own tests.
//   - serving/metrics and serving/admin: Prometheus metrics from the
//     hooks, and an http.Handler with models, history, health and
//     readiness.
//   - speculative: latency budgets, votes, quality-based selection, A/B,
//     canary, blue/green and shadow traffic, each itself a Scorer.
//   - registry: versioned model store with aliases and time travel;
//     registry/kafkafeed resumes a ModelFeed from it.
//   - governance: signing, audit trail and provenance encoding;
//     governance/govkafka is its Kafka side.
//   - training: in-stream learners, distillation, checkpoints and drift
//     detection that publish new versions back as model messages.
//
// # How the packages fit
//
// Each package has one job:
//
//   - serving: the vocabulary, the format registry and the hot-swapping
//     Server, with admission and named-input binding. Standard library
//     only.
//   - serving/wire: the wire protocol (model messages, score, provenance,
//     dead-letter and audit headers), in one place, without a Kafka
//     client.
//   - serving/formats/x: decode one model format into a serving.Model.
//   - serving/kafka: the sarama adapters (Source, Sink, ModelFeed,
//     Publisher).
//   - serving/metrics, serving/admin, serving/quality: Prometheus from
//     the hooks, an HTTP handler, live quality statistics.
//   - serving/servingtest, serving/servingtest/kafkatest: test doubles
//     and an in-process broker.
//   - speculative: combinators that are Scorers.
//   - registry: the versioned store, over a Storage; registry/bolt: the
//     durable Storage; registry/kafkafeed: the feed's resume point.
//   - governance: signatures, admission policy, audit, provenance;
//     governance/govkafka: its Kafka side.
//   - training: learners that publish models; training/trainkafka: its
//     Kafka side.
//
// Who may import whom, checked by this package's TestImportRules:
//
//   - serving imports only the standard library, and nothing under
//     serving/ imports registry, governance, speculative or training,
//     except the two observers: serving/admin and serving/metrics show
//     and export the state of everything (live quality, rollouts,
//     audit), so they sit on top, and nothing imports them.
//   - Only the Kafka adapters link sarama: serving/kafka,
//     governance/govkafka, training/trainkafka, registry/kafkafeed (and
//     kafkatest, for tests). serving/metrics implements the Kafka hooks
//     without linking it.
//   - A format imports serving and its own runtime, never Kafka,
//     serving/wire or the packages above serving; model runtimes
//     (leaves, onnx-go, gorgonia, ONNX Runtime, protobuf) are linked
//     only by their format.
//   - Only registry/bolt links bbolt; registry and governance do not.
//   - Only serving/metrics links Prometheus.
//
// # Examples
//
// The examples folder has runnable programs; examples/quickstart runs the
// whole idea on an embedded Kafka broker with no setup, and
// examples/speculative, examples/retrain and examples/scaleout show the
// combinators, in-stream retraining and failover.
package modelstream
