package confluent

import (
	"context"
	"encoding/json"
	"math"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/wire"
)

// BenchmarkDecode decodes one record of each format, its schema cached:
// the cost a Source pays per record in the codec.
func BenchmarkDecode(b *testing.B) {
	r := newRegistry(b)
	c, err := New(r.client)
	if err != nil {
		b.Fatal(err)
	}
	av, err := avro.Marshal(avro.MustParse(avroV1), avroValue(1, 2.0, 3))
	if err != nil {
		b.Fatal(err)
	}
	var pm []byte
	pm = protowire.AppendTag(pm, 1, protowire.Fixed64Type)
	pm = protowire.AppendFixed64(pm, math.Float64bits(99.5))
	pm = protowire.AppendTag(pm, 2, protowire.VarintType)
	pm = protowire.AppendVarint(pm, 12)
	pm = protowire.AppendTag(pm, 4, protowire.BytesType)
	pm = protowire.AppendString(pm, "DE")
	jv, _ := json.Marshal(map[string]any{"amount": 3.5, "flagged": false, "country": "IT",
		"merchant": map[string]any{"risk": nil, "geo": map[string]any{"lat": 1.25}}})
	for _, bc := range []struct {
		name  string
		value []byte
	}{
		{"avro", frame(r.register(b, "a", sr.Schema{Schema: avroV1, Type: sr.TypeAvro}), nil, av)},
		{"protobuf", frame(r.register(b, "p", sr.Schema{Schema: protoSchema, Type: sr.TypeProtobuf}), []int{1}, pm)},
		{"json", frame(r.register(b, "j", sr.Schema{Schema: jsonSchemaText, Type: sr.TypeJSON}), nil, jv)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Decode(bc.value); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAvroScores encodes one score of a single model, with a 64-digit
// content ID, in each schema: what a Sink pays per record in the encoder.
func BenchmarkAvroScores(b *testing.B) {
	r := newRegistry(b)
	s := &wire.Score{
		Prediction: serving.Prediction{Value: 0.93},
		Provenance: serving.Provenance{Model: serving.ModelRef{Name: "fraud", Version: 3, ID: serving.ContentID([]byte("fraud")), Format: "linear"}},
		Key:        "card-1", Topic: "payments", Partition: 2, Offset: 99,
	}
	for _, bc := range []struct {
		name string
		opts []ScoreOption
	}{{"full", nil}, {"compact", []ScoreOption{CompactScores()}}} {
		b.Run(bc.name, func(b *testing.B) {
			enc, err := NewAvroScores(context.Background(), r.client, bc.name+"-value", bc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			buf := make([]byte, 0, 256)
			for b.Loop() {
				if buf, err = enc.AppendScore(buf[:0], s); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(buf)), "B/score")
		})
	}
}

// BenchmarkScoreDecoder decodes one score record of a single model, with
// a 64-digit content ID and its provenance headers, in each encoding:
// what a feedbackkafka Reader pays per score. The JSON encodings go
// through the ScoreDecoder to wire.DecodeScore, the Reader's default;
// the Avro ones are read with their schema cached.
func BenchmarkScoreDecoder(b *testing.B) {
	r := newRegistry(b)
	dec, err := NewScoreDecoder(r.client)
	if err != nil {
		b.Fatal(err)
	}
	s := &wire.Score{
		Prediction: serving.Prediction{Value: 0.93},
		Provenance: serving.Provenance{Model: serving.ModelRef{Name: "fraud", Version: 3, ID: serving.ContentID([]byte("fraud")), Format: "linear"}},
		Key:        "card-1", Topic: "payments", Partition: 2, Offset: 99,
	}
	full, err := NewAvroScores(context.Background(), r.client, "full-value")
	if err != nil {
		b.Fatal(err)
	}
	compact, err := NewAvroScores(context.Background(), r.client, "compact-value", CompactScores())
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		enc  interface {
			AppendScore([]byte, *wire.Score) ([]byte, error)
		}
	}{{"json", wire.ScoreJSON}, {"json-compact", wire.ScoreCompact}, {"avro", full}, {"avro-compact", compact}} {
		b.Run(bc.name, func(b *testing.B) {
			v, err := bc.enc.AppendScore(nil, s)
			if err != nil {
				b.Fatal(err)
			}
			m := wire.Message{Key: []byte(s.Key), Value: v, Headers: wire.ProvenanceHeaders(s.Provenance)}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := dec.DecodeScore(ctx, m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
