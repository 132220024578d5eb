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

// AvroScores writes score records as Avro of [ScoreSchema], in the
// Confluent wire format: the zero magic byte, the schema's ID in the
// registry, then the Avro binary record. It is a kafka.ScoreEncoder:
//
//	scores, err := confluent.NewAvroScores(ctx, cl, "scores-value")
//	sink, err := kafka.NewSink(ctx, cfg, kafka.ScoreEncoding(scores))
//
// The Sink still writes the provenance headers and the input's key, so
// that readers of headers (wire.ProvenanceOf) need no registry.
// wire.DecodeScore does not read these values; any Confluent Avro
// deserializer does, with the schema it fetches by ID.
//
// A prediction with a NaN or infinite number is refused, as by the JSON
// encodings, so that every encoding agrees on what a score is; so is a
// model version above the largest Avro long, and a label, model name,
// ID or format or a topic that is not UTF-8, which an Avro string must
// be. The input record is then
// dead-lettered with the reason. An AvroScores is safe for concurrent use.
type AvroScores struct {
	id int
}

// NewAvroScores finds the ID of [ScoreSchema] under subject in the
// registry (for the Sink's topic "scores" under the default naming
// strategy, "scores-value"), and registers it there if it is not yet.
// ctx bounds the registry's requests. Its errors say whose fault a
// failure is:
//
//   - a registry that refuses the schema (409 or 422), as invalid or
//     incompatible with the subject's earlier ones, is an error wrapping
//     ErrIncompatible;
//   - one that cannot be reached, answers 5xx, or asks to be tried later
//     (408, 429), ErrUnavailable: trying again later may succeed;
//   - any other refusal (401 or 403 for missing or wrong credentials,
//     400, 404 or 405 for a URL that is not a registry's), and a nil client or
//     an empty subject, serving.ErrConfig: it will fail again until the
//     configuration changes.
func NewAvroScores(ctx context.Context, client *sr.Client, subject string) (*AvroScores, error) {
	switch {
	case client == nil:
		return nil, fmt.Errorf("%w: confluent: nil registry client", serving.ErrConfig)
	case subject == "":
		return nil, fmt.Errorf("%w: confluent: empty subject", serving.ErrConfig)
	}
	s := sr.Schema{Schema: ScoreSchema, Type: sr.TypeAvro}
	ss, err := client.LookupSchema(ctx, subject, s)
	if err == nil {
		return &AvroScores{id: ss.ID}, nil
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
	return &AvroScores{id: id}, nil
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
	if m.Version > math.MaxInt64 {
		return b, fmt.Errorf("%w score: version %d does not fit an Avro long", wire.ErrMalformed, m.Version)
	}
	for _, f := range [...]struct{ name, s string }{
		{"label", p.Label}, {"model name", m.Name}, {"model ID", m.ID}, {"model format", m.Format}, {"topic", s.Topic},
	} {
		if !utf8.ValidString(f.s) {
			return b, fmt.Errorf("%w score: the %s %q is not UTF-8, as an Avro string must be", wire.ErrMalformed, f.name, f.s)
		}
	}
	var decision []byte
	if d := s.Provenance.Decision; d != nil {
		var err error
		if decision, err = json.Marshal(d); err != nil {
			return b, fmt.Errorf("%w score: decision: %v", wire.ErrMalformed, err)
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
	// origin
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
	b = appendString(b, s.Topic)
	b = binary.AppendVarint(b, int64(s.Partition))
	return binary.AppendVarint(b, s.Offset), nil
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
