package confluent

import (
	"errors"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/modelstream/modelstream/serving/kafka"
)

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
	f.Add(byte(3), []byte{0, 0, 0, 0, 1})
	r := newRegistry(f)
	ids := []int{
		r.register(f, "a", sr.Schema{Schema: avroV1, Type: sr.TypeAvro}),
		r.register(f, "p", sr.Schema{Schema: protoSchema, Type: sr.TypeProtobuf}),
		r.register(f, "j", sr.Schema{Schema: jsonSchemaText, Type: sr.TypeJSON}),
	}
	c, err := New(r.client)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, kind byte, payload []byte) {
		v := payload // kind 3: the whole value is arbitrary
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
