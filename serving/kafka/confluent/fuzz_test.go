package confluent

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/wire"
)

// fuzzAvroLogical is an Avro schema of the logical types and the 32-bit
// int that the plan reads apart from their underlying types.
const fuzzAvroLogical = `{"type":"record","name":"L","fields":[
 {"name":"i","type":"int"},
 {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":20,"scale":2}},
 {"name":"rate","type":["null",{"type":"fixed","name":"R","size":8,"logicalType":"decimal","precision":18,"scale":30}]},
 {"name":"wide","type":{"type":"bytes","logicalType":"decimal","precision":400,"scale":400}}]}`

// FuzzDecode feeds arbitrary payloads under each kind of schema (and
// arbitrary frames): Decode never panics, and every error wraps
// kafka.ErrDecode, so a Source dead-letters the record.
func FuzzDecode(f *testing.F) {
	good, err := avro.Marshal(avro.MustParse(avroV1), avroValue(1, 2.0, 3))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(byte(0), good)
	f.Add(byte(1), []byte{2, 0x09, 0x11, 0x01})
	f.Add(byte(2), []byte(`{"amount":1,"merchant":{"geo":{"lat":2}}}`))
	f.Add(byte(3), []byte{0x02, 0x04, 0x30, 0x39, 0x02, 0, 0, 0, 0, 0, 0, 0, 1, 0x02, 0x00})
	f.Add(byte(255), []byte{0, 0, 0, 0, 1})
	r := newRegistry(f)
	ids := []int{
		r.register(f, "a", sr.Schema{Schema: avroV1, Type: sr.TypeAvro}),
		r.register(f, "p", sr.Schema{Schema: protoSchema, Type: sr.TypeProtobuf}),
		r.register(f, "j", sr.Schema{Schema: jsonSchemaText, Type: sr.TypeJSON}),
		r.register(f, "l", sr.Schema{Schema: fuzzAvroLogical, Type: sr.TypeAvro}),
	}
	c, err := New(r.client)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, kind byte, payload []byte) {
		v := payload // kind 4 and above: the whole value is arbitrary
		if int(kind) < len(ids) {
			v = frame(ids[kind], nil, payload)
		}
		rec, err := c.Decode(v)
		if err != nil {
			if !errors.Is(err, kafka.ErrDecode) {
				t.Fatalf("error does not wrap kafka.ErrDecode: %v", err)
			}
			return
		}
		if rec.Layout == nil || rec.Layout.Len() != len(rec.Features) || (rec.Text != nil && len(rec.Text) != len(rec.Features)) {
			t.Fatalf("inconsistent record %+v", rec)
		}
	})
}

// FuzzCompileSchema feeds arbitrary schema texts to each compiler (a
// registry answers what it was given): compiling never panics, fails only
// with ErrUnsupported, and a plan that compiles decodes arbitrary bytes
// into consistent records or fails with ErrIncompatible or a bad frame.
func FuzzCompileSchema(f *testing.F) {
	f.Add(byte(0), avroV1, []byte{0})
	f.Add(byte(0), fuzzAvroLogical, []byte{2, 4, 0x30, 0x39, 2, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0})
	f.Add(byte(1), protoSchema, []byte{0, 9, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(byte(2), jsonSchemaText, []byte(`{"amount":1}`))
	f.Add(byte(2), `{"type":"object","properties":{"a":{"oneOf":[{"type":"null"},{"type":"number"}]},"b":{"allOf":[{"type":"object"},{"properties":{"c":{"anyOf":[{"type":"string"}]}}}]}}}`, []byte(`{"a":1,"b":{"c":"x"}}`))
	compile := []func(string) (plan, error){compileAvro, compileProtobuf, compileJSONSchema}
	f.Fuzz(func(t *testing.T, kind byte, text string, payload []byte) {
		p, err := compile[int(kind)%len(compile)](text)
		if err != nil {
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("compiling %q: %v does not wrap ErrUnsupported", text, err)
			}
			return
		}
		rec, err := p.decode(payload)
		if err != nil {
			if !errors.Is(err, ErrIncompatible) && !errors.Is(err, errFrame) {
				t.Fatalf("decoding %x: %v is neither ErrIncompatible nor a bad frame", payload, err)
			}
			return
		}
		if rec.Layout == nil || rec.Layout.Len() != len(rec.Features) || (rec.Text != nil && len(rec.Text) != len(rec.Features)) {
			t.Fatalf("inconsistent record %+v", rec)
		}
	})
}

// fuzzScore is a score record as hamba/avro decodes it, of either
// schema: the fields ScoreCompactSchema leaves out stay zero.
type fuzzScore struct {
	Prediction struct {
		Value      float64   `avro:"value"`
		Values     []float64 `avro:"values"`
		Label      string    `avro:"label"`
		Confidence float64   `avro:"confidence"`
	} `avro:"prediction"`
	Provenance struct {
		Model struct {
			Name    string `avro:"name"`
			Version int64  `avro:"version"`
			ID      string `avro:"id"`
			Format  string `avro:"format"`
		} `avro:"model"`
		Decision *string `avro:"decision"`
	} `avro:"provenance"`
	Key       *[]byte `avro:"key"`
	Topic     string  `avro:"topic"`
	Partition int32   `avro:"partition"`
	Offset    int64   `avro:"offset"`
}

// FuzzAvroScores encodes arbitrary scores with each schema: a score is
// either refused with wire.ErrMalformed, for a number that is not finite
// or a string that is not UTF-8 in the value, appending nothing, or it
// decodes with hamba/avro, by the schema of its ID, to what was
// encoded, and is as long as its fields, so that nothing is left over.
func FuzzAvroScores(f *testing.F) {
	f.Add(0.25, 0.5, uint8(0), "fraud", "orders", int32(2), int64(99), "m", uint64(3), "id", []byte("k"))
	f.Add(-1e-300, 0.0, uint8(3), "é", "t", int32(-1), int64(1<<50), "\xff", uint64(1<<63), "", []byte{0xff, 0})
	f.Add(1.0, 0.0, uint8(1), "caf\xe9", "t\x80", int32(0), int64(-1), "m", uint64(0), "x", []byte(nil))
	r := newRegistry(f)
	ctx := context.Background()
	full, err := NewAvroScores(ctx, r.client, "s")
	if err != nil {
		f.Fatal(err)
	}
	compact, err := NewAvroScores(ctx, r.client, "s", CompactScores())
	if err != nil {
		f.Fatal(err)
	}
	schemas := map[int]avro.Schema{}
	for _, a := range []*AvroScores{full, compact} {
		ss, err := r.client.SchemaByID(ctx, a.id)
		if err != nil {
			f.Fatal(err)
		}
		schemas[a.id] = avro.MustParse(ss.Schema)
	}
	f.Fuzz(func(t *testing.T, value, confidence float64, n uint8, label, topic string, partition int32, offset int64, name string, version uint64, id string, key []byte) {
		s := wire.Score{
			Prediction: serving.Prediction{Value: value, Label: label, Confidence: confidence},
			Provenance: serving.Provenance{Model: serving.ModelRef{Name: name, Version: version, ID: id}},
			Topic:      topic, Partition: partition, Offset: offset,
		}
		for i := range int(n % 5) {
			s.Values = append(s.Values, value*float64(i))
		}
		s.SetKey(key)
		for _, a := range []*AvroScores{full, compact} {
			v, err := a.AppendScore([]byte("x"), &s)
			if err != nil {
				if !errors.Is(err, wire.ErrMalformed) || string(v) != "x" {
					t.Fatalf("compact %v: %q, %v; want ErrMalformed and nothing appended", a.compact, v, err)
				}
				unencodable := !finite(value) || !finite(confidence) || !utf8.ValidString(label) || !utf8.ValidString(topic) ||
					!a.compact && (version > math.MaxInt64 || !utf8.ValidString(name) || !utf8.ValidString(id))
				if !unencodable {
					t.Fatalf("compact %v: %+v refused: %v", a.compact, s, err)
				}
				continue
			}
			var h sr.ConfluentHeader
			sid, body, err := h.DecodeID(v[1:])
			if err != nil || sid != a.id {
				t.Fatalf("compact %v: frame of schema %d, %v; want %d", a.compact, sid, err, a.id)
			}
			var got fuzzScore
			dec := avro.NewDecoderForSchema(schemas[sid], bytes.NewReader(body))
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("compact %v: %x: %v", a.compact, body, err)
			}
			var want fuzzScore
			want.Prediction.Value, want.Prediction.Values, want.Prediction.Label, want.Prediction.Confidence = value, s.Values, label, confidence
			if want.Prediction.Values == nil {
				want.Prediction.Values = []float64{}
			}
			want.Topic, want.Partition, want.Offset = topic, partition, offset
			if !a.compact {
				want.Provenance.Model.Name, want.Provenance.Model.Version, want.Provenance.Model.ID = name, int64(version), id
				if len(key) > 0 {
					want.Key = &key
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("compact %v: decodes to\n%+v, want\n%+v", a.compact, got, want)
			}
			if n := scoreLen(want, a.compact); n != len(body) {
				t.Fatalf("compact %v: %d bytes, the fields take %d", a.compact, len(body), n)
			}
		}
	})
}

// scoreLen is the length of the Avro binary of s, of ScoreCompactSchema
// when compact and of ScoreSchema otherwise, field by field, with its
// array in one block and no decision.
func scoreLen(s fuzzScore, compact bool) int {
	long := func(x int64) int { return len(binary.AppendVarint(nil, x)) }
	str := func(s string) int { return long(int64(len(s))) + len(s) }
	p := s.Prediction
	n := 8 + 1 + str(p.Label) + 8
	if len(p.Values) > 0 {
		n += long(int64(len(p.Values))) + 8*len(p.Values)
	}
	if !compact {
		m := s.Provenance.Model
		n += str(m.Name) + long(m.Version) + str(m.ID) + str(m.Format) + 1 + 1
		if s.Key != nil {
			n += str(string(*s.Key))
		}
	}
	return n + str(s.Topic) + long(int64(s.Partition)) + long(s.Offset)
}
