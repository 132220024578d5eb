// Package confluent decodes Kafka records written in the Confluent
// Schema Registry wire format — Avro, Protobuf and JSON Schema — into
// named serving.Records, for a kafka.Source; and writes scores as Avro
// with a registered schema, for a kafka.Sink.
//
//	cl, err := sr.NewClient(sr.URLs("http://registry:8081"))
//	codec, err := confluent.New(cl)
//	src, err := kafka.NewSource(cfg, "scorers", slot, sink, kafka.Topics("payments"), kafka.RecordCodec(codec))
//
// # Wire format
//
// A value is a zero magic byte, the schema ID as 4 big-endian bytes,
// for Protobuf the message indexes (a zig-zag varint count and that many
// indexes, or a single 0 for the first message), then the record encoded
// with that schema. The frame and the registry client are
// github.com/twmb/franz-go/pkg/sr's. A value that is not such a frame
// fails with an error wrapping kafka.ErrDecode, and no *SchemaError.
//
// # Fields
//
// Each schema ID (for Protobuf, each message type of it that records
// name) becomes one *serving.Layout, built once from the schema, not
// from each record: a field is named by its dotted path
// through nested records or messages ("merchant.geo.lat"), so a model's
// inputs bind to nested fields by those names. Numbers are features,
// booleans 1 and 0; strings and enum symbols go to Record.Text for
// categorical inputs. A null, an unset optional field or oneof member, an
// unset nested message, and a union branch or JSON property that is
// absent are missing (NaN). An Avro decimal (bytes or fixed with the
// decimal logical type, of scale up to 400) is a number, rounded to the
// nearest float64; one beyond float64's range is ErrIncompatible. Other
// logical types are read as the type they annotate: a date or timestamp
// as its integer, a UUID as text. Arrays, maps, and other bytes and fixed
// values are read past and are not fields. The branches of an Avro union share the
// union's path: a union of null and a record adds the record's fields,
// missing when the value is null.
//
//   - Avro: the schema is parsed with github.com/hamba/avro/v2 and the
//     binary record decoded by a plan compiled from it, with no
//     reflection; a record that does not match its writer schema
//     (truncated, trailing bytes, a bad union branch or enum index) fails
//     with ErrIncompatible naming the field.
//     Why hamba/avro rather than Confluent's Go serializers: those come
//     in the confluent-kafka-go module, whose Kafka client is a cgo
//     binding of librdkafka and whose requirements pull in a large
//     dependency graph, all to decode records this module already reads
//     with sarama and franz-go's sr. hamba/avro/v2 is pure Go,
//     maintained, and parses the whole Avro specification (named and
//     logical types, unions, defaults). Only its schema parser is on the
//     record path: flattening into named fields is this package's own
//     plan, so the choice of library does not show in what a record
//     costs.
//   - Protobuf: the registered .proto text is compiled with
//     github.com/bufbuild/protocompile (the well-known imports resolve),
//     and each record decoded dynamically with dynamicpb: no generated
//     code. An open enum's unknown number is missing. A field of a
//     well-known wrapper type (google.protobuf.DoubleValue, StringValue
//     and the others but BytesValue) is its value, at the field's own
//     path ("amount", not "amount.value"), missing when unset: the
//     nullable scalar of proto3 before "optional", named as an Avro
//     union of null and a double is.
//   - JSON Schema: the properties of object schemas, nested by path; a
//     property whose "type" is a list takes any type listed. The branches
//     of oneOf, anyOf and allOf share their schema's path, as an Avro
//     union's do: {"oneOf":[{"type":"null"},{"type":"number"}]}, how
//     Confluent's Java serializer writes a nullable field, is a number
//     that may be missing. A value of a type not listed fails with
//     ErrIncompatible and a *serving.FieldError with
//     serving.ErrFieldType. The document is not otherwise validated
//     against the schema (no formats, ranges, or "exactly one" of
//     oneOf), and $ref is not followed: its fields are left out.
//
// Schemas with references to other subjects are refused (ErrUnsupported),
// and so are schemas that flatten to more than 16,384 nodes: each use of
// a named Avro type or a Protobuf message type flattens it again at its
// own path, so a few small types used several times per level would
// otherwise flatten to millions of fields.
//
// # Schema evolution and the registry
//
// A schema ID is fetched from the registry the first time a record
// carries it, once however many partitions meet it together, and cached
// (MaxSchemas, default 1024 IDs). A producer that moves to a new schema
// version mid-stream thus costs one fetch. An ID the registry does not
// know (its 404 with error code 40403, "schema not found") fails with
// ErrUnknownSchema, and so do the records of that ID until the Retry
// window has passed; then the registry is asked again, since a
// registry's follower may lag the leader that registered a new schema.
// A 404 without that code comes from a server that is
// not a Schema Registry, such as a wrong URL or path prefix: it fails
// with ErrUnavailable, naming the URL. A registry that cannot be reached is
// retried with a doubling backoff (Retry); then the record fails with
// ErrUnavailable and the registry's last answer, and so do the records of
// that ID for as long as the retries took, without asking again, so a
// partition is never held longer than one round of retries. Records of
// cached schemas on other partitions wait only for a scoring worker: each
// record waiting for a fetch holds one of the Source's workers
// (kafka.Workers), so give the Source more workers than the partitions
// that may meet a new schema ID at once.
//
// Fetches are rate-limited (FetchRate: 10 a second, bursts of 100), so
// that records naming random schema IDs, by mistake or by design, cost
// the registry no more than that; a record whose ID is not cached while
// the rate is spent fails at once with ErrUnavailable. IDs whose fetch
// failed are the first to leave a full cache, so such records do not
// evict the schemas in use either.
//
// # Scores as Avro
//
// [AvroScores] is a kafka.ScoreEncoder: with it a Sink writes each score
// as an Avro record of [ScoreSchema] in the Confluent wire format, so
// that stream processors and connectors that read Avro from a registry
// read scores without knowing modelstream:
//
//	scores, err := confluent.NewAvroScores(ctx, cl, "scores-value")
//	sink, err := kafka.NewSink(ctx, cfg, kafka.ScoreEncoding(scores))
//
// [NewAvroScores] looks the schema up under the subject, and registers it
// if it is not there, once, at start; the records then carry its ID. The
// schema's fields follow the JSON of serving/wire.Score. The Sink still
// writes the provenance headers, so a reader of headers needs no
// registry. A score that cannot be encoded (a NaN prediction, a label
// that is not UTF-8) is dead-lettered with the reason, as in the JSON
// encodings.
//
// [CompactScores] is the Avro counterpart of serving/wire.ScoreCompact:
// the value, of [ScoreCompactSchema], holds the prediction and the
// input's topic, partition and offset, and leaves out the provenance
// and the key, which the record carries in its headers and its key.
// A reader decodes the value with the schema of its ID, as any Avro
// value, and takes the model from the headers with wire.ProvenanceOf:
//
//	scores, err := confluent.NewAvroScores(ctx, cl, "scores-value", confluent.CompactScores())
//
// [ScoreDecoder] reads both back, for a reader that joins scores to
// outcomes such as a serving/feedback/feedbackkafka Reader (with its
// ScoreDecoding option): it fetches the schema of a frame's ID once and
// caches it as a [Codec] does, reads a value of either score schema,
// whoever registered it, takes a compact score's provenance from its
// headers and checks a whole score's against them. A frame of an unknown
// ID, of a registry that cannot be reached, or of a schema that is not a
// score's, is an error with the reason (ErrUnknownSchema, ErrUnavailable,
// ErrUnsupported), never a score. Values that are not framed are read as
// JSON scores, by serving/wire.
//
// A subject holding [ScoreSchema] accepts [ScoreCompactSchema] as its
// next version under the registry's default BACKWARD compatibility,
// since the compact schema only leaves fields out; going back to
// ScoreSchema after it needs another subject, or a compatibility of NONE.
//
// # Errors
//
// Every error of Decode wraps kafka.ErrDecode, so a Source dead-letters
// the record with the error as its reason and goes on; it never panics.
// Errors about one schema ID are a *SchemaError. NewAvroScores says
// whose fault a failure is: ErrUnavailable when the registry may answer
// later, ErrIncompatible when it refuses the schema, serving.ErrConfig
// when the client is wrong (credentials, URL) and will stay wrong.
package confluent
