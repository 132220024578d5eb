// Package modelstream is an embeddable SDK for model-as-data stream
// processing in Go.
//
// # Model as data
//
// A trained model is data, not code. Training systems publish models as
// messages on a Kafka topic: the key is the model's name, the value is
// the model's bytes exactly as its own tools wrote them (LightGBM text,
// XGBoost JSON, UBJSON or binary, scikit-learn trees, ONNX protobuf, a
// TensorFlow frozen graph or SavedModel, a PMML document, or
// modelstream's linear JSON), and headers carry the version, content hash, lineage and
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
// delivery is at least once, or exactly once with kafka.ExactlyOnce,
// which commits the scores and the offsets in one Kafka transaction.
// Records that cannot be decoded or scored go to a dead-letter topic
// with the reason.
//
// # Where to start
//
// Read package serving first: a Server, Activate and Score are the whole
// of embedding (README.md has the program). Import the formats you serve
// from serving/formats/...; serving/kafka puts the Server on a Kafka
// stream; serving/servingtest/kafkatest gives your tests an in-process
// broker. The rest is optional, one package per job.
//
// # How the packages fit
//
// Each package has one job:
//
//   - serving: the vocabulary (Record, Layout, Prediction, Descriptor,
//     Model, Scorer, Result, Provenance), the format registry and the
//     hot-swapping Server, with admission, validation before a swap and
//     named-input binding. Standard library only.
//   - serving/wire: the wire protocol (model messages, score, provenance,
//     dead-letter and audit headers), in one place, without a Kafka
//     client.
//   - serving/formats/leaves, linear, onnx, pmml, tensorflow, xgboost:
//     each decodes its model formats into a serving.Model and registers
//     them from its init (lightgbm, lightgbm-json, xgboost, sklearn;
//     linear; onnx, in pure Go or on ONNX Runtime; pmml;
//     tensorflow-graphdef, tensorflow-savedmodel; xgboost-json,
//     xgboost-ubj).
//   - serving/kafka: the sarama adapters (Source, Sink, ModelFeed,
//     Publisher), the JSON and CSV codecs, score encodings, exactly-once
//     transactions and OpenTelemetry tracing; serving/kafka/confluent:
//     the Confluent Schema Registry wire format, records in (Avro,
//     Protobuf, JSON Schema) and Avro scores out.
//   - serving/feedback: joins late ground truth to the scores it judges;
//     serving/feedback/feedbackkafka: reads both from Kafka.
//   - serving/quality: live quality of each version (accuracy, log-loss,
//     AUC, MAE, RMSE with confidence intervals) from joined outcomes.
//   - serving/metrics, serving/admin: Prometheus from the hooks, and an
//     http.Handler with an operator's page, models, history, quality,
//     rollouts, health and readiness.
//   - serving/servingtest, serving/servingtest/kafkatest: test doubles
//     and an in-process broker.
//   - speculative: combinators that are Scorers (latency budgets, votes,
//     A/B splits, blue/green, shadows, bandits);
//     speculative/canary: automated rollouts held by guardrails.
//   - registry: the versioned store, over a Storage; registry/bolt: the
//     durable Storage; registry/kafkafeed: the feed's resume point.
//   - governance: signatures, admission policy, replay guard, audit;
//     governance/govkafka: its Kafka side.
//   - training: learners, distillation, checkpoints and drift detection
//     (its own, or live drift reported from the joined truth) that
//     publish models; training/trainkafka: its Kafka side.
//
// Who may import whom, checked by this package's TestImportRules:
//
//   - serving imports only the standard library (and the module's
//     internal packages that do too), and nothing under
//     serving/ imports registry, governance, speculative or training,
//     except the two observers: serving/admin and serving/metrics show
//     and export the state of everything (live quality, rollouts,
//     audit), so they sit on top, and nothing imports them.
//   - Only the Kafka adapters link sarama: serving/kafka (and
//     serving/kafka/confluent), serving/feedback/feedbackkafka,
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
// whole idea on an embedded Kafka broker with no setup; examples/embed
// is README.md's embedding program;
// examples/speculative, examples/canary, examples/retrain and
// examples/scaleout show the combinators, an automated rollout,
// in-stream retraining and failover; examples/publish and examples/tail
// publish a model file and read a scores topic.
package modelstream
