package confluent_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka/confluent"
	"github.com/modelstream/modelstream/serving/wire"
)

// An Avro record with a nested field and a null, in the Confluent wire
// format, decoded into a named record.
func Example() {
	reg := srfake.New() // a Schema Registry served over HTTP in-process
	defer reg.Close()
	cl, _ := sr.NewClient(sr.URLs(reg.URL()))

	schema := `{"type":"record","name":"Txn","fields":[
	  {"name":"amount","type":"double"},
	  {"name":"merchant","type":{"type":"record","name":"M","fields":[{"name":"risk","type":["null","double"]}]}},
	  {"name":"country","type":"string"}]}`
	ss, err := cl.CreateSchema(context.Background(), "txn-value", sr.Schema{Schema: schema, Type: sr.TypeAvro})
	if err != nil {
		panic(err)
	}

	// What a producer writes: magic byte, schema ID, Avro binary.
	var h sr.ConfluentHeader
	value, _ := h.AppendEncode(nil, ss.ID, nil)
	body, _ := avro.Marshal(avro.MustParse(schema), map[string]any{
		"amount": 12.5, "merchant": map[string]any{"risk": nil}, "country": "FR"})
	value = append(value, body...)

	codec, err := confluent.New(cl)
	if err != nil {
		panic(err)
	}
	rec, err := codec.Decode(value)
	if err != nil {
		panic(err)
	}
	fmt.Println(rec.Layout.Names())
	fmt.Println(rec.Features[0], rec.Features[1], rec.Text[2])
	// Output:
	// [amount merchant.risk country]
	// 12.5 NaN FR
}

// A score written as Avro with a registered schema, read back as any
// Avro consumer reads it: the schema fetched by the ID in the frame.
func ExampleAvroScores() {
	reg := srfake.New()
	defer reg.Close()
	cl, _ := sr.NewClient(sr.URLs(reg.URL()))
	scores, err := confluent.NewAvroScores(context.Background(), cl, "scores-value")
	if err != nil {
		panic(err)
	}
	// What a kafka.Sink with kafka.ScoreEncoding(scores) writes.
	value, err := scores.AppendScore(nil, &wire.Score{
		Prediction: serving.Prediction{Value: 0.93, Label: "fraud"},
		Provenance: serving.Provenance{Model: serving.ModelRef{Name: "fraud", Version: 3}},
		Key:        "card-1", Topic: "payments", Partition: 2, Offset: 99,
	})
	if err != nil {
		panic(err)
	}

	var h sr.ConfluentHeader
	id, body, _ := h.DecodeID(value)
	schema, _ := cl.SchemaByID(context.Background(), id)
	var score map[string]any
	if err := avro.Unmarshal(avro.MustParse(schema.Schema), body, &score); err != nil {
		panic(err)
	}
	fmt.Println(score["prediction"].(map[string]any)["label"], score["provenance"].(map[string]any)["model"].(map[string]any)["version"], score["topic"], score["offset"])
	// Output: fraud 3 payments 99
}

// Compact Avro scores: the value holds the prediction and where its input
// came from; a reader takes the provenance from the headers the Sink
// writes beside it, with no registry.
func ExampleCompactScores() {
	reg := srfake.New()
	defer reg.Close()
	cl, _ := sr.NewClient(sr.URLs(reg.URL()))
	ctx := context.Background()
	scores, err := confluent.NewAvroScores(ctx, cl, "scores-value", confluent.CompactScores())
	if err != nil {
		panic(err)
	}
	full, err := confluent.NewAvroScores(ctx, cl, "full-value")
	if err != nil {
		panic(err)
	}
	score := &wire.Score{
		Prediction: serving.Prediction{Value: 0.93},
		Provenance: serving.Provenance{Model: serving.ModelRef{Name: "fraud", Version: 3, ID: serving.ContentID([]byte("model bytes")), Format: "linear"}},
		Key:        "card-1", Topic: "payments", Partition: 2, Offset: 99,
	}
	// What a kafka.Sink with kafka.ScoreEncoding(scores) writes: the
	// value, and the provenance headers beside it.
	value, err := scores.AppendScore(nil, score)
	if err != nil {
		panic(err)
	}
	headers := wire.ProvenanceHeaders(score.Provenance)
	fullValue, _ := full.AppendScore(nil, score)
	fmt.Println(len(value), "bytes, not", len(fullValue))

	var h sr.ConfluentHeader
	id, body, _ := h.DecodeID(value)
	schema, _ := cl.SchemaByID(ctx, id)
	var read map[string]any
	if err := avro.Unmarshal(avro.MustParse(schema.Schema), body, &read); err != nil {
		panic(err)
	}
	prov, err := wire.ProvenanceOf(headers, value)
	if err != nil {
		panic(err)
	}
	fmt.Println(read["prediction"].(map[string]any)["value"], read["topic"], read["offset"], "by", prov.Model)
	// Output:
	// 35 bytes, not 124
	// 0.93 payments 99 by fraud@v3
}

// Reading Avro scores back, as a reader that joins them to outcomes
// does: the schema of the frame's ID comes from the registry, the
// compact score's provenance from the record's headers, its input key
// from the record's key.
func ExampleScoreDecoder() {
	reg := srfake.New()
	defer reg.Close()
	cl, _ := sr.NewClient(sr.URLs(reg.URL()))
	ctx := context.Background()
	scores, err := confluent.NewAvroScores(ctx, cl, "scores-value", confluent.CompactScores())
	if err != nil {
		panic(err)
	}
	score := &wire.Score{
		Prediction: serving.Prediction{Value: 0.93, Label: "fraud"},
		Provenance: serving.Provenance{Model: serving.ModelRef{Name: "fraud", Version: 3}},
		Key:        "card-1", Topic: "payments", Partition: 2, Offset: 99,
	}
	value, err := scores.AppendScore(nil, score)
	if err != nil {
		panic(err)
	}
	// The record a kafka.Sink with kafka.ScoreEncoding(scores) writes.
	m := wire.Message{Key: []byte("card-1"), Value: value, Headers: wire.ProvenanceHeaders(score.Provenance)}

	dec, err := confluent.NewScoreDecoder(cl)
	if err != nil {
		panic(err)
	}
	s, err := dec.DecodeScore(ctx, m)
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Key, s.Value, s.Label, "by", s.Provenance.Model, "from", s.Topic, s.Offset)

	// A value of another schema is not a score.
	other, _ := cl.CreateSchema(ctx, "payments-value", sr.Schema{Type: sr.TypeAvro, Schema: `{"type":"record","name":"Payment","fields":[{"name":"amount","type":"double"}]}`})
	var h sr.ConfluentHeader
	m.Value, _ = h.AppendEncode(nil, other.ID, nil)
	_, err = dec.DecodeScore(ctx, m)
	fmt.Println(errors.Is(err, confluent.ErrUnsupported))
	// Output:
	// card-1 0.93 fraud by fraud@v3 from payments 99
	// true
}
