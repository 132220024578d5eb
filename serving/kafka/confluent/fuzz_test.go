package confluent

import (
	"errors"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/modelstream/modelstream/serving/kafka"
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
