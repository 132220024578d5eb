// Package wire is the modelstream wire protocol: what a model message,
// a score and a dead letter look like on a Kafka topic. It is the one
// place that defines these formats, so that a second Kafka client, a JVM
// or Python job, or a shell with kcat can rely on it; serving/kafka and
// the other Kafka adapters use it and redefine nothing. It imports no
// Kafka client: a [Header] has the fields of sarama.RecordHeader (and of
// a franz-go kgo.RecordHeader's Key and Value), so an adapter converts
// with a type conversion.
//
// Every header name starts with [Prefix], "modelstream.", except the
// standard W3C trace context headers (see Trace context). Header names
// are case-sensitive. Readers ignore headers outside the prefix, and
// unknown headers inside it, so newer writers can add metadata without
// breaking older readers. A repeated header keeps its last value, as
// Java's Headers.lastHeader reads it, but every occurrence must parse.
//
// # Model messages
//
// A model travels as one message on the models topic. [EncodeModel] and
// [DecodeModel] implement this layout:
//
//	Key    the model name, UTF-8, at most MaxNameBytes (255) bytes (required)
//	Value  the raw model bytes, exactly as the format's own tools write
//	       them; empty when modelstream.location is set
//
//	Header                   Value
//	modelstream.format       format name, e.g. linear, lightgbm, onnx (required)
//	modelstream.version      decimal uint64 > 0; absent means "next" (see Versions)
//	modelstream.sha256       lowercase hex SHA-256 of the model bytes; verified on load;
//	                         needed with modelstream.location (unless the reader sets
//	                         serving.LoadOptions.AllowUnpinned)
//	modelstream.created      RFC 3339 time, e.g. 2026-11-25T16:53:44.123Z
//	modelstream.location     file:// or http(s):// URL of the bytes when Value is empty;
//	                         fetched only where the reader allows it
//	                         (serving.LoadOptions.AllowLocations, nowhere by default)
//	modelstream.parent       content ID (sha256) of the model this one derives from
//	modelstream.description  free text
//	modelstream.signature    base64 (standard, padded) ed25519 signature; see package governance
//	modelstream.label.<k>    one header per label k, its value the label's value
//
// With kcat:
//
//	kcat -P -b 127.0.0.1:9092 -t models -k fraud \
//	    -H modelstream.format=linear -H modelstream.version=3 model.json
//
// # Versions
//
// A message without modelstream.version is numbered by its readers, the
// same way on every instance: its version is 1 + the highest version of
// any earlier well-formed model message for that name on the topic,
// whether or not the reading instance accepted that message (1 for the
// first message of a name). A version-less message that was itself
// numbered counts with the number it got. So when one instance rejects a
// model that another accepts (a missing format package, a different
// signature policy), the next version-less message still gets the same
// number on both, and a version number names one model everywhere.
// "Earlier" is offset order within a partition; since a message's key is
// the model name, all messages of one name share a partition when every
// writer uses the same partitioner (kcat and sarama hash keys
// differently: on a topic with several partitions, mixed writers should
// give explicit versions). A reader never gives a number its Server
// already gave: it numbers at least one above the highest version its
// Server made live or restored (serving.Server.NextVersion), and a
// reader that resumes from a registry above every version the registry
// holds (kafka.KnownVersions), so that neither a rollback nor a
// retirement before the restart makes it reuse a number. But it cannot
// count the messages before its start that its Server refused, so its
// numbering can differ from a reader's that saw them: where instances
// resume, publishers should give explicit versions.
//
// # Scores
//
// An output record on the scores topic has the input's key, the
// [Provenance headers] of the model that scored, and a JSON value of the
// shape of [Score], in one of two encodings ([ScoreEncoding]):
//
//	Encoding      Value
//	ScoreJSON     the whole Score (the default):
//	              {"prediction":{"value":0.93,"label":"fraud","confidence":0.93},
//	               "provenance":{"model":{"name":"fraud","version":3,"id":"9f2c…","format":"linear"}},
//	               "key":"order-1","topic":"orders","partition":2,"offset":99}
//	ScoreCompact  the Score without "provenance" and "key", which the record
//	              carries already (its headers, its key):
//	              {"prediction":{"value":0.93,"label":"fraud","confidence":0.93},
//	               "topic":"orders","partition":2,"offset":99}
//
// "topic", "partition" and "offset" locate the input record. "key" is the
// input's key when it is valid UTF-8; a key that is not is written as
// "key_base64", its bytes in standard base64, since a JSON string cannot
// carry it unchanged. "provenance" is serving.Provenance marshalled as
// is; it carries "decision" when a speculative combinator decided, with
// every candidate asked, its version, latency and status (in the compact
// encoding, modelstream.decision carries it). A prediction with a NaN or
// infinite number has no JSON form: its input goes to the dead-letter
// topic instead.
//
// [DecodeScore] reads a record of either encoding; a reader needs no
// setting to tell them apart. A compact score is a fraction of the bytes
// of a whole one (the provenance headers, the same on every record of a
// model, compress away in a producer batch), at the price that a reader
// of the value alone, without the headers, sees no provenance.
//
// Scores may also be written as Avro, with a schema registered in a
// Schema Registry and the value in the Confluent wire format (magic byte
// 0, schema ID, Avro body); serving/kafka/confluent's AvroScores writes
// them, in one of two schemas that mirror the two encodings above:
// ScoreSchema, the whole Score, and ScoreCompactSchema (with its
// CompactScores option), the Score without the provenance and the key,
// which the record carries in its headers and its key as a ScoreCompact
// record does. serving/kafka/confluent's ScoreDecoder reads both back,
// and so does any Confluent Avro deserializer, with the schema it
// fetches by ID (for a compact one, the provenance is then read from the
// headers with [ProvenanceOf]). [DecodeScore] recognises such a value
// and refuses it (ErrMalformed): it needs the registry.
//
// # Provenance headers
//
// [ProvenanceHeaders] writes, and [ProvenanceOf] reads:
//
//	Header                   Value
//	modelstream.provenance   the model whose output is the prediction (always,
//	                         unless the result names no model):
//	                         name/version/id/format, e.g.
//	                         fraud/3/9f2c…/linear (the ID cut short here)
//	modelstream.combinator   the speculative combinator that decided, if any
//	modelstream.variant      the variant a router chose, if any
//	modelstream.decision     the whole serving.Decision as JSON, if any
//
// In modelstream.provenance the version is decimal, and the name, the
// content ID (lowercase hex SHA-256) and the format are percent-encoded:
// every byte other than the ASCII letters and digits and "-", ".", "_"
// and "~" (RFC 3986's unreserved characters) is written as "%" and two
// uppercase hex digits, as Python's urllib.parse.quote(s, safe="")
// writes it. So "/" always separates fields. An unknown ID or format is
// an empty field: version 1 of a model named "risk/eu", with neither, is
// risk%2Feu/1//. A reader
// decodes an escape in either case, takes any other byte except "/" as
// itself, and ignores any fields after the fourth, which later writers
// may add.
//
// A consumer that only needs "which model" reads this one header
// without parsing the value. [ProvenanceOf] reads headers and value
// together and checks that they agree.
//
// Records written before modelstream.provenance existed carry the model
// in four headers instead, which [ProvenanceOf] still reads:
//
//	Header                   Value
//	modelstream.model        name (always)
//	modelstream.version      version, decimal (always)
//	modelstream.id           content ID; omitted if unknown
//	modelstream.format       format; omitted if unknown
//
// A record that carries both forms must name the same model in both. A
// reader that knows only the four headers finds no model in the headers
// of a newer score: it still reads the provenance in a [ScoreJSON]
// value, but not in a compact or Avro score, so upgrade such readers
// before their writers.
//
// # Dead letters
//
// A record that cannot be decoded or scored is written, unchanged (key,
// value and headers), to the dead-letter topic with these headers added;
// [DeadLetter] writes and parses them:
//
//	Header                     Value
//	modelstream.dlq.reason     why the record failed, as text; at most 4 KiB, a longer
//	                           one is cut and ends in "..."
//	modelstream.dlq.stage      decode or score
//	modelstream.dlq.topic      origin topic
//	modelstream.dlq.partition  origin partition, decimal
//	modelstream.dlq.offset     origin offset, decimal
//	modelstream.dlq.truncated  present only when some of the input was left out because
//	                           the record would exceed the producer's size limit:
//	                           the size of what was left out (the value, the input's
//	                           headers and if need be the key), bytes, decimal
//
// # Trace context
//
// Tracing follows the W3C Trace Context standard, whose header names
// ([HeaderTraceParent] and [HeaderTraceState]) are the only ones here
// outside the prefix:
//
//	Header       Value
//	traceparent  version-traceid-spanid-flags, lowercase hex, e.g.
//	             00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
//	tracestate   vendor entries, e.g. congo=t61rcWkgMzE (optional)
//
// A reader that traces (serving/kafka's Source, when given a tracer
// provider) takes the trace context of an input record from these
// headers, and writes them on the record's score and dead letter: same
// trace ID and tracestate, and as parent span ID the span that wrote the
// output, so that a consumer of the scores continues the trace. A
// malformed or missing traceparent starts a new trace. A dead letter
// carries the input's headers, so without tracing it keeps the input's
// traceparent as it was; with tracing the input's traceparent and
// tracestate are replaced, never repeated. A score written without
// tracing carries no trace context. Should the trace headers make an
// output exceed the producer's size limit, they are left out of it.
//
// # Audit records
//
// Records on the audit topic carry the model name as key, the
// governance.Event as JSON as value, and the event kind (such as
// activated or rejected) in modelstream.audit.kind.
package wire
