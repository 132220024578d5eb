package confluent_test

import (
	"context"
	"fmt"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/modelstream/modelstream/serving/kafka/confluent"
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
