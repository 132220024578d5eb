package confluent

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/wire"
)

// ScoreDecoder reads score records back: the Avro scores [AvroScores]
// writes, of [ScoreSchema] and of [ScoreCompactSchema], and the JSON
// scores of serving/wire. It is what a reader of a scores topic that
// Avro scores may reach needs, such as a serving/feedback/feedbackkafka
// Reader for live quality:
//
//	dec, err := confluent.NewScoreDecoder(cl)
//	r, err := feedbackkafka.NewReader(cfg, "scores", "labels", j, observe, feedbackkafka.ScoreDecoding(dec))
//
// A value framed for a Schema Registry (magic byte 0) is read with the
// schema its frame names, fetched from the registry once per ID and
// cached as a [Codec] caches schemas, with the same [Option]s and
// bounds (MaxSchemas, FetchRate, Retry). Any other value is read by
// wire.DecodeScore, so a topic moving from JSON scores to Avro, or back,
// reads throughout.
//
// A ScoreDecoder is safe for concurrent use.
type ScoreDecoder struct {
	c *Codec
}

// NewScoreDecoder returns a ScoreDecoder that reads schemas from client.
// Its options are a Codec's, with the same defaults; a nil client or a
// bad option is an error wrapping serving.ErrConfig, as from [New].
func NewScoreDecoder(client *sr.Client, opts ...Option) (*ScoreDecoder, error) {
	c, err := New(client, opts...)
	if err != nil {
		return nil, err
	}
	c.compile = compileScore
	return &ScoreDecoder{c: c}, nil
}

// DecodeScore decodes the score record m: its value, with what the
// value leaves out taken from the record, as wire.DecodeScore does. A
// value of [ScoreCompactSchema] has its provenance from m's headers (as
// wire.ProvenanceOf reads them), and its input key from m's key. A value
// of [ScoreSchema] has both in it; when m's headers carry provenance
// too, they must name the same model.
//
// A frame whose schema ID the registry does not know is an error
// wrapping ErrUnknownSchema; a registry that cannot be reached,
// ErrUnavailable; a schema that is neither ScoreSchema nor
// ScoreCompactSchema (a foreign schema: the value is not a score),
// ErrUnsupported; a body that does not match its schema, ErrIncompatible.
// Each is a *SchemaError, with the ID. A prediction that is not finite,
// or a provenance that does not parse or disagrees with the headers, is
// wire.ErrMalformed, and a compact score without provenance headers
// wire.ErrNoProvenance, as from wire.DecodeScore.
//
// Fetching a schema honours ctx: cancelling it ends the wait with
// ErrUnavailable. It never waits longer than the Retry policy allows:
// about 21s by default, for an ID not cached while the registry is
// down. A feedbackkafka Reader waits on one goroutine, labels too, so
// give the ScoreDecoder of a Reader a shorter Retry, such as
// Retry(2, 100*time.Millisecond, 2*time.Second).
func (d *ScoreDecoder) DecodeScore(ctx context.Context, m wire.Message) (wire.Score, error) {
	v := m.Value
	if len(v) == 0 || v[0] != 0 {
		return wire.DecodeScore(m)
	}
	if len(v) < 5 {
		return wire.Score{}, fmt.Errorf("%w score: a Schema Registry frame of %d bytes, want at least 5", wire.ErrMalformed, len(v))
	}
	id := int(binary.BigEndian.Uint32(v[1:5]))
	p, err := d.c.plan(ctx, id)
	if err != nil {
		return wire.Score{}, &SchemaError{ID: id, Err: err}
	}
	sp, ok := p.(scorePlan)
	if !ok { // not reached: compileScore makes every plan
		return wire.Score{}, &SchemaError{ID: id, Err: unsupported("not a score schema")}
	}
	s, err := sp.decodeScore(v[5:], m)
	if errors.Is(err, ErrIncompatible) {
		err = &SchemaError{ID: id, Err: err}
	}
	return s, err
}

// Fingerprints of the Parsing Canonical Form of the two score schemas:
// a schema registered by another writer is a score schema when its
// canonical form is one of these, whatever its spacing, documentation
// or defaults.
var (
	scoreFingerprint        = fingerprint(ScoreSchema)
	scoreCompactFingerprint = fingerprint(ScoreCompactSchema)
)

func fingerprint(text string) [32]byte {
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		panic(err) // the package's own constants
	}
	return s.Fingerprint()
}

// scorePlan reads the Avro body of a score, of the full schema or of
// the compact one.
type scorePlan struct{ compact bool }

// compileScore recognises a score schema by its canonical form; any
// other is ErrUnsupported, so that a value of a foreign schema is never
// read as a score.
func compileScore(s sr.Schema) (plan, error) {
	if s.Type != sr.TypeAvro {
		return nil, unsupported("a %v schema is not a score schema", s.Type)
	}
	if len(s.References) > 0 {
		return nil, unsupported("a schema with references is not a score schema")
	}
	parsed, err := avro.ParseWithCache(s.Schema, "", &avro.SchemaCache{})
	if err != nil {
		return nil, unsupported("avro schema: %v", err)
	}
	switch parsed.Fingerprint() {
	case scoreFingerprint:
		return scorePlan{}, nil
	case scoreCompactFingerprint:
		return scorePlan{compact: true}, nil
	}
	return nil, unsupported("the schema is neither ScoreSchema nor ScoreCompactSchema: its values are not scores")
}

// decode implements plan; a ScoreDecoder reads with decodeScore instead.
func (scorePlan) decode([]byte) (serving.Record, error) {
	return serving.Record{}, unsupported("a score schema: read it with a ScoreDecoder")
}

// decodeScore reads body, the Avro of a score, and completes it from m.
func (p scorePlan) decodeScore(body []byte, m wire.Message) (wire.Score, error) {
	r := avroReader{b: body}
	var s wire.Score
	s.Value = r.double("prediction.value")
	s.Values = r.doubles("prediction.values")
	s.Label = r.string("prediction.label")
	s.Confidence = r.double("prediction.confidence")
	var key []byte
	haveKey := false
	var decision []byte
	if !p.compact {
		mr := &s.Provenance.Model
		mr.Name = r.string("provenance.model.name")
		if v := r.long("provenance.model.version"); v < 0 {
			r.fail("provenance.model.version", "negative version %d", v)
		} else {
			mr.Version = uint64(v)
		}
		mr.ID = r.string("provenance.model.id")
		mr.Format = r.string("provenance.model.format")
		if r.union("provenance.decision") {
			decision = r.bytes("provenance.decision")
		}
		if r.union("key") {
			key, haveKey = bytes.Clone(r.bytes("key")), true
		}
	}
	s.Topic = r.string("topic")
	if v := r.long("partition"); v < math.MinInt32 || v > math.MaxInt32 {
		r.fail("partition", "%d does not fit an int", v)
	} else {
		s.Partition = int32(v)
	}
	s.Offset = r.long("offset")
	if r.err == nil && len(r.b) > 0 {
		r.err = incompatible("%d bytes after the score", len(r.b))
	}
	if r.err != nil {
		return wire.Score{}, r.err
	}
	if !finite(s.Value) || !finite(s.Confidence) {
		return wire.Score{}, fmt.Errorf("%w score: the prediction is not finite (%v, confidence %v)", wire.ErrMalformed, s.Value, s.Confidence)
	}
	for i, v := range s.Values {
		if !finite(v) {
			return wire.Score{}, fmt.Errorf("%w score: output %d is not finite (%v)", wire.ErrMalformed, i, v)
		}
	}
	switch {
	case haveKey:
		s.SetKey(key)
	case m.Key != nil:
		s.SetKey(bytes.Clone(m.Key))
	}
	if decision != nil {
		s.Provenance.Decision = new(serving.Decision)
		if err := json.Unmarshal(decision, s.Provenance.Decision); err != nil {
			return wire.Score{}, fmt.Errorf("%w provenance: decision: %v", wire.ErrMalformed, err)
		}
	}
	hp, err := wire.ProvenanceOf(m.Headers, nil)
	switch {
	case err != nil && !errors.Is(err, wire.ErrNoProvenance):
		return wire.Score{}, err
	case s.Provenance.Model.Name == "": // compact, or a full score naming no model
		if err != nil {
			return wire.Score{}, fmt.Errorf("confluent: decode score: %w in the value nor the headers", wire.ErrNoProvenance)
		}
		s.Provenance = hp
	case err == nil && !sameModel(hp.Model, s.Provenance.Model):
		return wire.Score{}, fmt.Errorf("%w provenance: headers say %s, value says %s", wire.ErrMalformed, hp.Model, s.Provenance.Model)
	}
	return s, nil
}

// sameModel is the agreement wire.DecodeScore asks of headers and
// value: the same name and version, and the same ID and format where
// both give one.
func sameModel(a, b serving.ModelRef) bool {
	return a.Name == b.Name && a.Version == b.Version &&
		(a.ID == "" || b.ID == "" || a.ID == b.ID) &&
		(a.Format == "" || b.Format == "" || a.Format == b.Format)
}

// avroReader reads Avro binary values off b. The first error sticks:
// later reads return zero values, so a decoder checks err once.
type avroReader struct {
	b   []byte
	err error
}

func (r *avroReader) fail(field, format string, args ...any) {
	if r.err == nil {
		r.err = fieldIncompatible(field, serving.ErrFieldType, format, args...)
	}
}

// long reads a zig-zag varint.
func (r *avroReader) long(field string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(field, "truncated or overlong long")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *avroReader) double(field string) float64 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 8 {
		r.fail(field, "truncated double")
		return 0
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return f
}

// bytes reads an Avro bytes or string value, without copying it.
func (r *avroReader) bytes(field string) []byte {
	n := r.long(field)
	if r.err != nil {
		return nil
	}
	if n < 0 || n > int64(len(r.b)) {
		r.fail(field, "length %d with %d bytes left", n, len(r.b))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// string reads an Avro string, which must be UTF-8.
func (r *avroReader) string(field string) string {
	v := r.bytes(field)
	if r.err == nil && !utf8.Valid(v) {
		r.fail(field, "not UTF-8, as an Avro string must be")
		return ""
	}
	return string(v)
}

// union reads the branch of a union of null and one type, and reports
// whether it is the type.
func (r *avroReader) union(field string) bool {
	switch b := r.long(field); {
	case r.err != nil:
		return false
	case b == 0:
		return false
	case b == 1:
		return true
	default:
		r.fail(field, "union branch %d of 2", b)
		return false
	}
}

// doubles reads an array of doubles: blocks of a count and that many
// items, a negative count followed by the block's size in bytes, until
// a count of 0. An empty array is nil.
func (r *avroReader) doubles(field string) []float64 {
	var out []float64
	for r.err == nil {
		n := r.long(field)
		if n == 0 || r.err != nil {
			break
		}
		if n < 0 {
			if n == math.MinInt64 {
				r.fail(field, "block count %d", n)
				break
			}
			n = -n
			r.long(field) // the block's size in bytes
		}
		if n > int64(len(r.b)/8) {
			r.fail(field, "%d items with %d bytes left", n, len(r.b))
			break
		}
		for range n {
			out = append(out, r.double(field))
		}
	}
	if r.err != nil {
		return nil
	}
	return out
}
