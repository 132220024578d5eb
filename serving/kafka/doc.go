// Package kafka connects modelstream to Apache Kafka through
// github.com/IBM/sarama: models arrive on one topic and are hot-swapped
// into a serving.Server, records arrive on another and leave as scores.
//
// # Model messages
//
// A model travels as one Kafka message: the key is the model name, the
// value the raw model bytes exactly as the format's own tools write them,
// and the metadata sits in headers that share the prefix
// "modelstream.". The protocol is documented in one place, package
// serving/wire, which also defines the score and dead-letter records.
// Any Kafka tool can publish a model:
//
//	kcat -P -b 127.0.0.1:9092 -t models -k fraud \
//	    -H modelstream.format=linear -H modelstream.version=3 model.json
//
// [Publisher] writes a serving.Descriptor this way from Go, with an
// idempotent, acks=all producer.
//
// # Model feed
//
// Every scoring instance runs a [ModelFeed]. It reads all partitions of
// the models topic outside any consumer group, so every instance sees
// every model, from the oldest offset or from the offsets a durable
// registry remembered ([StartOffsets]). Each message is decoded, given
// a version if it has none (the same on every instance: see package
// wire), and activated with Server.Activate, so it passes the Server's
// admission (serving.WithAdmission, where package governance checks
// signatures) and validation like any other activation; a message that
// carries a location instead of bytes loads only where the Server's
// serving.LoadOptions.AllowLocations allows, nowhere by default, and only
// with the sha256 of its bytes (see serving.LoadOptions.AllowUnpinned). A bad
// message is
// logged, counted ([FeedStats]) and skipped, and the live model keeps
// serving; old versions met during replay are skipped quietly. The feed
// reads committed records only, so a model written in an aborted
// transaction never goes live. A slow message (a Location that does not
// answer, say) holds back only later messages of its own model name:
// names are handled concurrently, within bounds, and each name's
// versions in order; a message without a version, which the feed
// numbers, waits for the messages before it on its partition. An observer ([Observer]) sees the outcome and
// offset of every message, in offset order per partition.
//
// # Scoring a stream
//
// A [Source] reads the data topics named with [Topics] in a consumer
// group; it has no default topic, and checks at start that each exists.
// Each record's value is decoded into a serving.Record by a [Codec] — [JSON], [CSV],
// your own, or the Confluent Schema Registry codec of package
// serving/kafka/confluent ([RecordCodec]) — scored by any serving.Scorer
// (a Server slot from Server.Model, or a combinator from package
// speculative), and handed to a [Sink]. With [MaxBatch], the records
// already waiting on a partition, or arriving within [BatchWindow], are
// scored in one call when the Scorer is a serving.BatchScorer, as a
// Server slot is; each still gets its own score or dead letter. The Sink writes a wire.Score as JSON with the
// prediction, its provenance and the input's key, topic, partition and
// offset, and repeats the provenance in headers (wire.ProvenanceHeaders)
// so a consumer can trace a score without parsing it; with
// [ScoreEncoding](wire.ScoreCompact) the value leaves out the provenance
// and the key, which the record carries already, and takes a third to a
// half of the bytes. wire.DecodeScore reads either. A record that fails to decode or score (a panic of the
// Codec or Scorer included) goes, unchanged, to the dead-letter topic
// with the stage, the reason and its origin in headers, and the stream
// moves on; an input too large to fit with those headers is written
// without its value (wire.HeaderDLQTruncated). [Headers] converts a
// consumed message's headers for the wire package's parsers.
//
// # Named records
//
// A JSON array, or a CSV line, decodes into a positional record: the
// model reads its values in order. A JSON object, or CSV with a header
// line, decodes into a named record, with no schema to declare: its
// Layout lists the field names, text values go to Record.Text for
// categorical inputs, and the Server binds the names to the inputs of
// whichever model version is live, so a version that reads other, fewer
// or reordered fields swaps in as data. Records with the same fields in
// the same order share one interned Layout (the table is bounded), which
// is what lets the Server bind once per layout and version. A codec's
// Layout field pins the fields instead. A bad value, or a field the model
// needs and the record lacks, dead-letters the record with an error that
// names the field (a *serving.FieldError).
//
// A model that names no inputs (an ONNX model with one input tensor, as
// PyTorch exports them, say) is fed a named record by position, in the
// order of the record's own fields (see serving, "Named inputs"): an object
// written {"hour": 3, "amount": 250} by one producer and {"amount": 250,
// "hour": 3} by another reaches it in two orders, and one of them scores
// wrong without an error. Pin the codec's Layout to the order the model
// reads, JSON{Layout: lay}, to place every object's fields in that order.
//
// # Delivery and order
//
// Delivery is at-least-once by default ([ExactlyOnce] below is the
// option): an offset is committed only after the
// record's score or dead letter, and those of every earlier record of the
// partition, have been acknowledged by Kafka (acks=all, idempotent
// producer). Records of one partition are scored concurrently by a pool
// of workers but written in offset order, and at most [Window] records
// per partition are in flight, so memory stays bounded when the sink is
// slow (on top of the window, sarama's consumer reads ahead up to its
// ChannelBufferSize, 256 records per partition by default: see [Window]). Cancelling the context given to Source.Run stops reading,
// finishes the records in flight, commits, and leaves the group; a
// Scorer still busy after [DrainTimeout] has its context cancelled, and
// its records are left uncommitted for the next owner. A crash
// replays the records written since the last commit; the duplicates carry
// the same input topic, partition and offset, so a consumer can drop
// them.
//
// # Exactly once
//
// With [ExactlyOnce], a Source consumes, scores and produces in Kafka
// transactions. Each claimed partition has its own transactional
// producer, whose transactional.id names the group, the topic and the
// partition. Every [CommitInterval], or once half a [Window] of records
// is written, the partition's writer adds the offset after the records
// it wrote to the transaction, with the group member's generation
// (KIP-447), and commits: the scores, the dead letters and the consumed
// offset become visible together, or not at all.
//
// What it guarantees: a consumer of the scores and dead-letter topics
// that reads with isolation level read_committed sees exactly one output
// (a score or a dead letter) per input record, whatever crashes,
// restarts and rebalances happen in between. Zombies are fenced twice
// over. When a partition changes owner, the new owner's producer
// initialises the partition's transactional.id, which fences the
// previous owner's producer and aborts the transaction it left open at
// once, even when it died with SIGKILL. And the group coordinator
// refuses offsets sent with a generation that is over, while the new
// owner's offset fetch waits for a transaction that carries offsets to
// end (a stable fetch, which a read_committed consumer makes), so a
// member that lost the partition cannot commit behind its new owner's
// back. When a transaction fails, the writer aborts it and ends its
// claim, which ends the group session; the partitions are read again
// from their last commits, by this member or another. A record whose
// score the broker refuses for what it is (too large, invalid) is, after
// a second refusal with nothing else in its transaction, dead-lettered
// with [ErrWrite]; other failures are retried this way without end.
// The producer fails the writes it still held with the refusal's error,
// so each record whose write failed is a suspect: when read again, the
// suspects are written in parts of doubling size, each in a transaction
// of its own (the first alone, then two, four, and so on), and a part
// refused again is the new range. Up to half a Window of suspects with
// no poison record among them cost about log2 of their number in
// transactions, and naming a poison record a few aborts more.
//
// What it does not guarantee:
//   - Side effects inside a Scorer, a Codec or a hook run once per
//     attempt, not once: after an abort or a crash, records are scored
//     again. A Scorer that calls out (a feature store, a bandit's
//     reward) is at-least-once towards what it calls.
//   - A read_uncommitted consumer of the outputs sees the outputs of
//     aborted transactions too, and so duplicates.
//   - Inputs are read with read_committed: records of aborted
//     transactions on the data topics are never scored.
//   - [HookCommit], [HookDeadLetter] and [SourceStats] report a
//     transaction's records after it committed; a crash between the
//     commit and the hook loses the hook call, not the records.
//   - An output becomes visible when its transaction commits: latency
//     grows by up to one CommitInterval.
//   - A transaction a member left open when it died between sending
//     its offsets and ending the transaction holds the partition's next
//     offset fetch until the broker aborts it, at the transaction
//     timeout (10 seconds, Producer.Transaction.Timeout of the Sink's
//     Config; CommitInterval must be shorter). The window between the
//     two requests is one round trip.
//
// Why a producer per partition rather than one per instance with KIP-447
// alone: a transactional.id per instance would have to be stable across
// restarts and unique among live instances, which a Deployment's pods
// are not, and a transaction left open by an instance that died stays
// open, holding back read_committed readers of every partition it wrote
// to, until its timeout. A transactional.id per input partition needs no
// identity of the instance, and the partition's next owner aborts such a
// transaction as it starts. Each partition also commits on its own, so
// a failure rewinds one claim, and cooperative rebalancing works as is.
//
// What it costs: one producer, with its own connections, per claimed
// partition; a transaction per partition every half [Window] of records
// or CommitInterval (four requests to the coordinators); and outputs
// held back until the commit. BenchmarkExactlyOnce measured, on the
// embedded broker, exactly-once at 0.60-0.69 times the at-least-once
// throughput per CPU-second (the process's, broker included) at the
// default Window of 512, and 0.71-0.80 times at Window(2048), whose
// transactions are four times larger (go test ./serving/kafka -run '^$'
// -bench 'BenchmarkExactlyOnce$' -benchtime 2x, 5 runs at a load
// average of 15 to 19 on two cores, where the wall-clock ratios, from
// 0.36 to 1.0, measured the neighbours). A
// partition's writer spends most of its time waiting while a
// transaction commits: for the acknowledgements of its last writes (55-65% of the
// writer's time at Window 512, timed on the embedded broker) and for
// EndTxn (12-23%), while its reader waits for the window to free. A
// second producer per partition could write the next transaction
// during EndTxn, but not sooner without reordering the outputs, so it
// could win back at most EndTxn's share: it is not done. A
// rebalance starts a producer per new claim, in parallel (0.6-2.4 ms
// each on the embedded broker, 0.75 ms in the last run of
// BenchmarkTxnProducer): BenchmarkRebalance measured a pause of 1.2 s in
// both modes (1.1 s for the group to settle, then 0.1 s until new
// records were answered), of which exactly-once's own was 0 to 40 ms
// in three runs, too little to keep producers across claims.
//
// # Failover
//
// A broker failover, a leader election or a coordinator move that ends
// within [RetryTimeout] (30 s by default) does not stop Source.Run: the
// Sink retries each write in order, with a growing backoff, and waits
// for the partition's new leader; the Source joins its group again
// when it lost its session and the ModelFeed resumes where it was, for
// as long as it takes. Nothing
// is committed past a write not yet acknowledged, so an outage costs
// latency, never a record. An outage that lasts longer stops Run with
// an error wrapping [ErrUnavailable], and the records whose writes did
// not make it are read again by the partition's next owner. Under
// [ExactlyOnce] it does not stop Run: the transactions it fails are
// aborted, and the Source joins its group again until the cluster is
// back.
//
// # Throughput
//
// BenchmarkPipeline compares the whole pipeline (consume, decode, score a
// linear model, encode, produce, mark for commit) with plain sarama
// consumer-to-producer pass-throughs on the embedded broker, uncompressed
// and with LZ4. Scores are several times larger than their inputs
// (provenance in JSON and headers), which is why the Sink compresses with
// LZ4 by default; a pass-through that writes score-sized records
// (raw-scores) isolates the pipeline's own cost. Measured with
// BenchmarkPipeline on a quiet 2-core machine (load averages 0.4 to 1.5;
// 12 runs of -benchtime 4x), in records per CPU-second against the
// uncompressed pass-through over the steady part of each run (after the
// first 20% of the records), the pipeline with Avro scores of the
// compact schema (confluent.CompactScores) reached a median of 0.86
// (0.83 to 0.96 from run to run), with compact JSON scores 0.87 (0.74 to
// 0.94), with the default JSON scores 0.85 (0.74 to 0.94), with Avro
// scores of the full schema 0.84 (0.80 to 0.90), and raw-scores 0.92
// (0.84 to 1.03). The whole window, start included, reads within 0.02
// of these medians. The spread from run to run is wider than the
// differences between variants: raw-again, the pass-through run twice
// in the same iteration, read 0.89 to 1.09, and the two runs where
// compact or JSON read 0.74 are runs where it read 0.94 and 0.89. So
// decoding, scoring, encoding and ordering cost a few percent more CPU
// than writing the same outputs with no work at all, and the rest of the
// gap to the plain pass-through is the outputs' size: JSON scores repeat
// the provenance in the value, and LZ4 compresses an Avro score's
// doubles badly, which is why the compact Avro schema, without the
// provenance, costs least. The provenance travels in one header
// (wire.HeaderProvenance), which BenchmarkProvenanceHeader measured at
// 2-8% less CPU a record than the four it replaced.
//
// # Configuration
//
// Every client takes one [Config], built once with [NewConfig]: the
// bootstrap brokers and, as options, [TLS], [SASL], [ClientID], [Logger]
// and one [Sarama] function for any further sarama setting. The same
// Config serves the adapters of other packages (training/trainkafka,
// governance/govkafka). Each client's own settings are options of its
// own type ([FeedOption], [PublisherOption], [SinkOption],
// [SourceOption]), named by bare nouns ([Topic], [Window], [Workers]),
// so an option given to the wrong constructor does not compile; an
// option that fits several clients, such as [Topic], is of each of their
// types. Every option's documentation states its default, and every
// constructor refuses an impossible setting with an error wrapping
// serving.ErrConfig. Every client speaks Kafka [DefaultVersion].
//
// A constructor takes a context when it talks to the cluster:
// [NewSink] and [NewPublisher] check or create their topics and connect
// their producer before they return, and give up with ctx.Err() when ctx
// is done first (as pgx.Connect does). [NewModelFeed] and [NewSource]
// only validate and connect in Run, whose ctx bounds everything (as
// franz-go's kgo.NewClient connects lazily and takes none). The ctx of a
// constructor bounds the construction only; Close ends the client.
//
//	cfg, err := kafka.NewConfig([]string{"broker:9092"}, kafka.TLS(tlsConfig), kafka.SASL(user, password))
//	feed, err := kafka.NewModelFeed(cfg, srv)
//	sink, err := kafka.NewSink(ctx, cfg, kafka.Topic("fraud.scores"))
//	src, err := kafka.NewSource(cfg, "fraud-scorer", srv.Model("fraud"), sink, kafka.Topics("payments"))
//
// # Hooks
//
// A Source calls the hooks given with [Hooks]: [HookDeadLetter] for each
// dead letter, [HookCommit] for each commit, [HookLag] with each
// partition's lag. Package serving/metrics implements them for
// Prometheus.
//
// # Tracing
//
// [TracerProvider] makes a Source trace each record with OpenTelemetry.
// The trace context comes from the record's W3C traceparent and
// tracestate headers (see package serving/wire), and each record gets
// these spans:
//
//	process <topic>  consumer span, child of the input's trace context (a new
//	                 trace without one); from the read to the output's ack
//	                 (under ExactlyOnce, to its transaction's commit or abort).
//	                 messaging.* attributes (system kafka, topic, partition,
//	                 offset, consumer group, body size); a dead-lettered record
//	                 has modelstream.dead_letter=true and
//	                 modelstream.dead_letter.stage, and error status
//	  decode         the Codec; error status when it fails
//	  score          the Scorer: a Score call runs with the score span in its
//	                 context; a ScoreBatch call (MaxBatch) runs in no record's
//	                 span, and its records' score spans are recorded after it
//	                 returns, sharing its start and end, with
//	                 modelstream.batch.size. modelstream.model.name,
//	                 .version, .id (content ID) and .format of the model that
//	                 answered (the Result's provenance);
//	                 modelstream.decision.combinator, .decider, .variant,
//	                 .winner and .candidates ("name@vN status" each) when a
//	                 combinator decided
//	  send <topic>   producer span, until Kafka acknowledges the score or dead
//	                 letter; its partition and offset
//
// A record read but not written (left to be read again at shutdown,
// behind a failed transaction, or when Run stops) ends its process span
// with an "abandoned unwritten, to be read again" event and no send
// span. Under [ExactlyOnce] the process span ends when the transaction
// holding the output commits or aborts, marked so when it aborts: see
// [TracerProvider].
//
// The score or dead letter carries the send span's context in its
// traceparent and tracestate headers, so that whoever consumes it
// continues the trace. A record the sampler leaves out gets only its
// (non-recording) process span, and its outputs still carry its trace
// ID. Without a tracer provider, the default, the Source reads and
// writes no trace header, and tracing costs a nil check per record and
// step, too little to measure: the JSON pipeline of BenchmarkPipeline,
// its test binary built from this code and from the same code with those
// checks removed, the two run in turns (38 rounds of -benchtime 3x at
// load 2 to 12), spent 1.01 times the process CPU time per record with
// the checks, by mean and by median (0.89 to 1.18 a round, above 1 in
// 22 rounds of 38): less than 3% at two standard errors, where one
// binary's own rounds spread over 3.2 to 4.3 µs per record. Without
// the broker, in BenchmarkTracing's off case (20 rounds of 20000
// batches at load 2), the checks cost 1.01 times by mean and 0.99 by
// median. BenchmarkTracing and BenchmarkPipelineTracing measure what
// tracing costs when on.
//
// # Testing
//
// Package serving/servingtest/kafkatest starts an in-process Kafka
// cluster that this package's tests, and users' tests, run against over
// TCP.
package kafka
