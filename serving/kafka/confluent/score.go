package confluent

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/wire"
)

// ScoreSchema is the Avro schema of the score records [AvroScores]
// writes. Its fields follow the JSON of serving/wire.Score, path for
// path: the prediction; the provenance, with the model that computed the
// prediction and a combinator's decision as its JSON (the decision's
// candidates vary too much in shape for a fixed schema to be worth it);
// the input's key, as bytes since a key need not be text, null when the
// input had none; and the input's topic, partition and offset. A label,
// ID or format that is unknown is the empty string, and a single-output
// model's values the empty array.
const ScoreSchema = `{"type":"record","name":"Score","namespace":"io.modelstream","fields":[
 {"name":"prediction","type":{"type":"record","name":"Prediction","fields":[
  {"name":"value","type":"double"},
  {"name":"values","type":{"type":"array","items":"double"},"default":[]},
  {"name":"label","type":"string","default":""},
  {"name":"confidence","type":"double","default":0}]}},
 {"name":"provenance","type":{"type":"record","name":"Provenance","fields":[
  {"name":"model","type":{"type":"record","name":"ModelRef","fields":[
   {"name":"name","type":"string"},
   {"name":"version","type":"long"},
   {"name":"id","type":"string","default":""},
   {"name":"format","type":"string","default":""}]}},
  {"name":"decision","type":["null","string"],"default":null}]}},
 {"name":"key","type":["null","bytes"],"default":null},
 {"name":"topic","type":"string"},
 {"name":"partition","type":"int"},
 {"name":"offset","type":"long"}]}`

// ScoreCompactSchema is the Avro schema of the score records
// [AvroScores] writes with [CompactScores]: [ScoreSchema] without the
// provenance and the key, which every score record carries already, the
// provenance in its headers (modelstream.provenance, and a combinator's
// decision in modelstream.decision) and the input's key as its own key.
// It is the Avro counterpart of serving/wire.ScoreCompact. Its record
// names are those of ScoreSchema, and it only leaves fields out, so a
// registry subject may move from ScoreSchema to it under the default
// BACKWARD compatibility (a reader of ScoreCompactSchema reads a record
// of ScoreSchema), but not back.
const ScoreCompactSchema = `{"type":"record","name":"Score","namespace":"io.modelstream","fields":[
 {"name":"prediction","type":{"type":"record","name":"Prediction","fields":[
  {"name":"value","type":"double"},
  {"name":"values","type":{"type":"array","items":"double"},"default":[]},
  {"name":"label","type":"string","default":""},
  {"name":"confidence","type":"double","default":0}]}},
 {"name":"topic","type":"string"},
 {"name":"partition","type":"int"},
 {"name":"offset","type":"long"}]}`

// AvroScores writes score records as Avro of [ScoreSchema], or of
// [ScoreCompactSchema] with [CompactScores], in the Confluent wire
// format: the zero magic byte, the schema's ID in the registry, then the
// Avro binary record. It is a kafka.ScoreEncoder:
//
//	scores, err := confluent.NewAvroScores(ctx, cl, "scores-value")
//	sink, err := kafka.NewSink(ctx, cfg, kafka.ScoreEncoding(scores))
//
// The Sink still writes the provenance headers and the input's key, so
// that readers of headers (wire.ProvenanceOf) need no registry, and so
// that a compact score, whose value has neither, is traced all the same.
// wire.DecodeScore does not read these values; a [ScoreDecoder] does,
// and so does any Confluent Avro deserializer, with the schema it
// fetches by ID.
//
// A prediction with a NaN or infinite number is refused, as by the JSON
// encodings, so that every encoding agrees on what a score is; so is a
// label or a topic that is not UTF-8, which an Avro string must be, and,
// in [ScoreSchema] only, a model version above the largest Avro long and
// a model name, ID or format that is not UTF-8. The input record is then
// dead-lettered with the reason. An AvroScores is safe for concurrent use.
type AvroScores struct {
	id      int
	compact bool
}

// ScoreOption configures the AvroScores of [NewAvroScores].
type ScoreOption func(*scoreOptions)

type scoreOptions struct{ compact bool }

// CompactScores makes an AvroScores write [ScoreCompactSchema] in place
// of the default [ScoreSchema]: the prediction and the input's topic,
// partition and offset, with no provenance and no key in the value,
// since the record carries them in its headers and its key. A score of
// one model with a 64-digit content ID is then under a third of the
// bytes: 35 in place of 124 for a bare value, in the Example.
func CompactScores() ScoreOption { return func(o *scoreOptions) { o.compact = true } }

// NewAvroScores finds the ID of [ScoreSchema] (of [ScoreCompactSchema]
// with [CompactScores]) under subject in the registry (for the Sink's
// topic "scores" under the default naming strategy, "scores-value"), and
// registers it there if it is not yet. ctx bounds the registry's
// requests. Its errors say whose fault a failure is:
//
//   - a registry that refuses the schema (409 or 422), as invalid or
//     incompatible with the subject's earlier ones, is an error wrapping
//     ErrIncompatible;
//   - one that cannot be reached, answers 5xx, or asks to be tried later
//     (408, 429), ErrUnavailable: trying again later may succeed;
//   - any other refusal (401 or 403 for missing or wrong credentials,
//     400, 404 or 405 for a URL that is not a registry's), a nil client,
//     an empty subject or a nil option, serving.ErrConfig: it will fail
//     again until the configuration changes.
func NewAvroScores(ctx context.Context, client *sr.Client, subject string, opts ...ScoreOption) (*AvroScores, error) {
	var o scoreOptions
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: confluent: nil ScoreOption", serving.ErrConfig)
		}
		opt(&o)
	}
	switch {
	case client == nil:
		return nil, fmt.Errorf("%w: confluent: nil registry client", serving.ErrConfig)
	case subject == "":
		return nil, fmt.Errorf("%w: confluent: empty subject", serving.ErrConfig)
	}
	s := sr.Schema{Schema: ScoreSchema, Type: sr.TypeAvro}
	if o.compact {
		s.Schema = ScoreCompactSchema
	}
	ss, err := client.LookupSchema(ctx, subject, s)
	if err == nil {
		return &AvroScores{id: ss.ID, compact: o.compact}, nil
	}
	var re *sr.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusNotFound ||
		re.ErrorCode != sr.ErrSubjectNotFound.Code && re.ErrorCode != sr.ErrSchemaNotFound.Code {
		// A 404 without the registry's "subject" or "schema not found"
		// is a server that is not a registry: register nothing there.
		return nil, registryError("looking up", subject, err)
	}
	id, err := client.RegisterSchema(ctx, subject, s, -1, -1)
	if err != nil {
		return nil, registryError("registering", subject, err)
	}
	return &AvroScores{id: id, compact: o.compact}, nil
}

// registryError classifies the failure of a registry request about the
// score schema, as NewAvroScores documents.
func registryError(doing, subject string, err error) error {
	var re *sr.ResponseError
	if !errors.As(err, &re) {
		// sr's error quotes the URL as configured, password and all.
		return fmt.Errorf("%w: %s the score schema under %q: %s", ErrUnavailable, doing, subject, urlPasswords.ReplaceAllString(err.Error(), "$1:xxxxx@"))
	}
	switch c := re.StatusCode; {
	case c >= 500, c == http.StatusRequestTimeout, c == http.StatusTooManyRequests:
		return fmt.Errorf("%w: %s the score schema under %q: %v", ErrUnavailable, doing, subject, err)
	case c == http.StatusConflict, c == http.StatusUnprocessableEntity:
		return fmt.Errorf("%w: the registry refuses the score schema under %q: %v", ErrIncompatible, subject, err)
	}
	return fmt.Errorf("%w: confluent: %s the score schema under %q: %v", serving.ErrConfig, doing, subject, err)
}

var _ kafka.ScoreEncoder = (*AvroScores)(nil)

// AppendScore appends the Confluent-framed Avro of s to b. It implements
// kafka.ScoreEncoder.
func (a *AvroScores) AppendScore(b []byte, s *wire.Score) ([]byte, error) {
	p, m := s.Prediction, s.Provenance.Model
	if !finite(p.Value) || !finite(p.Confidence) {
		return b, fmt.Errorf("%w score: the prediction is not finite (%v, confidence %v)", wire.ErrMalformed, p.Value, p.Confidence)
	}
	for i, v := range p.Values {
		if !finite(v) {
			return b, fmt.Errorf("%w score: output %d is not finite (%v)", wire.ErrMalformed, i, v)
		}
	}
	if err := utf8Fields("label", p.Label, "topic", s.Topic); err != nil {
		return b, err
	}
	var decision []byte
	if !a.compact {
		if m.Version > math.MaxInt64 {
			return b, fmt.Errorf("%w score: version %d does not fit an Avro long", wire.ErrMalformed, m.Version)
		}
		if err := utf8Fields("model name", m.Name, "model ID", m.ID, "model format", m.Format); err != nil {
			return b, err
		}
		if d := s.Provenance.Decision; d != nil {
			var err error
			if decision, err = json.Marshal(d); err != nil {
				return b, fmt.Errorf("%w score: decision: %v", wire.ErrMalformed, err)
			}
		}
	}
	start := len(b)
	var h sr.ConfluentHeader
	b, err := h.AppendEncode(b, a.id, nil)
	if err != nil {
		return b[:start], fmt.Errorf("%w score: %v", wire.ErrMalformed, err)
	}
	// prediction
	b = appendDouble(b, p.Value)
	if len(p.Values) > 0 {
		b = binary.AppendVarint(b, int64(len(p.Values)))
		for _, v := range p.Values {
			b = appendDouble(b, v)
		}
	}
	b = append(b, 0) // end of the values array (or the empty array)
	b = appendString(b, p.Label)
	b = appendDouble(b, p.Confidence)
	if !a.compact {
		// provenance
		b = appendString(b, m.Name)
		b = binary.AppendVarint(b, int64(m.Version))
		b = appendString(b, m.ID)
		b = appendString(b, m.Format)
		if decision == nil {
			b = binary.AppendVarint(b, 0) // union branch null
		} else {
			b = binary.AppendVarint(b, 1)
			b = appendString(b, string(decision))
		}
		// s.InputKey(), without copying Key into a new slice.
		switch {
		case s.KeyBase64 != nil:
			b = binary.AppendVarint(b, 1)
			b = binary.AppendVarint(b, int64(len(s.KeyBase64)))
			b = append(b, s.KeyBase64...)
		case s.Key != "":
			b = binary.AppendVarint(b, 1)
			b = appendString(b, s.Key)
		default:
			b = binary.AppendVarint(b, 0)
		}
	}
	// origin
	b = appendString(b, s.Topic)
	b = binary.AppendVarint(b, int64(s.Partition))
	return binary.AppendVarint(b, s.Offset), nil
}

// utf8Fields checks that each of the strings in namesAndValues (a name,
// then its value, and so on) is UTF-8, as an Avro string must be.
func utf8Fields(namesAndValues ...string) error {
	for i := 0; i+1 < len(namesAndValues); i += 2 {
		if v := namesAndValues[i+1]; !utf8.ValidString(v) {
			return fmt.Errorf("%w score: the %s %q is not UTF-8, as an Avro string must be", wire.ErrMalformed, namesAndValues[i], v)
		}
	}
	return nil
}

// appendDouble appends an Avro double: IEEE 754, little-endian.
func appendDouble(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

// appendString appends an Avro string or bytes: the length as a zig-zag
// varint, then the bytes.
func appendString(b []byte, s string) []byte {
	b = binary.AppendVarint(b, int64(len(s)))
	return append(b, s...)
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
