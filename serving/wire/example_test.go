package wire_test

import (
	"fmt"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/wire"
)

// A model message as any Kafka client writes it, here what kcat -k fraud
// -H modelstream.format=linear -H modelstream.version=3 sends.
func ExampleDecodeModel() {
	m := wire.Message{
		Key:   []byte("fraud"),
		Value: []byte(`{"kind":"linear","weights":[0.5],"bias":0}`),
		Headers: []wire.Header{
			{Key: []byte(wire.HeaderFormat), Value: []byte("linear")},
			{Key: []byte(wire.HeaderVersion), Value: []byte("3")},
			{Key: []byte("traceparent"), Value: []byte("00-4bf9")}, // not ours: ignored
		},
	}
	d, err := wire.DecodeModel(m, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Name, d.Version, d.Format)
	// Output: fraud 3 linear
}

func ExampleEncodeModel() {
	m, err := wire.EncodeModel(serving.Descriptor{Name: "fraud", Format: "linear", Bytes: []byte("{}"), Labels: map[string]string{"team": "risk"}}, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("key %s\n", m.Key)
	for _, h := range m.Headers {
		fmt.Printf("%s=%.12s\n", h.Key, h.Value)
	}
	// Output:
	// key fraud
	// modelstream.format=linear
	// modelstream.sha256=44136fa355b3
	// modelstream.label.team=risk
}

// A score's model travels in one header, its text fields escaped so that
// "/" separates them.
func ExampleProvenanceHeaders() {
	ref := serving.ModelRef{Name: "risk/eu", Version: 3, ID: serving.ContentID([]byte("model bytes")), Format: "linear"}
	for _, h := range wire.ProvenanceHeaders(serving.Provenance{Model: ref}) {
		fmt.Printf("%s=%s\n", h.Key, h.Value)
	}
	// Output:
	// modelstream.provenance=risk%2Feu/3/9cb7487000bc86ac36ce83c4acfabe8878552be99572a6770f65ab1d048a5c48/linear
}

func ExampleProvenanceOf() {
	ref := serving.ModelRef{Name: "fraud", Version: 3, Format: "linear"}
	headers := wire.ProvenanceHeaders(serving.Provenance{Model: ref})
	value := []byte(`{"prediction":{"value":0.93},"provenance":{"model":{"name":"fraud","version":3}},"topic":"orders","partition":0,"offset":7}`)
	p, err := wire.ProvenanceOf(headers, value)
	fmt.Println(p.Model, err)
	// Output: fraud@v3 <nil>
}

func ExampleDeadLetter() {
	dl := wire.DeadLetter{Topic: "orders", Partition: 2, Offset: 41, Stage: wire.StageDecode, Reason: "bad JSON"}
	for _, h := range dl.Headers() {
		fmt.Printf("%s=%s\n", h.Key, h.Value)
	}
	// Output:
	// modelstream.dlq.reason=bad JSON
	// modelstream.dlq.stage=decode
	// modelstream.dlq.topic=orders
	// modelstream.dlq.partition=2
	// modelstream.dlq.offset=41
}

// A consumer of the scores topic reads a score record, in either
// encoding: here one in the default encoding, whose JSON value stands
// alone, and the same score in the compact one, whose provenance is in
// the headers and whose input key is the record's key.
func ExampleDecodeScore() {
	s, err := wire.DecodeScore(wire.Message{
		Key:   []byte("card-1"),
		Value: []byte(`{"prediction":{"value":0.93,"label":"fraud"},"provenance":{"model":{"name":"fraud","version":3}},"key":"card-1","topic":"payments","partition":2,"offset":99}`),
	})
	fmt.Println(s.Label, s.Provenance.Model, s.Key, s.Topic, s.Partition, s.Offset, err)

	s, err = wire.DecodeScore(wire.Message{
		Key:     []byte("card-1"),
		Value:   []byte(`{"prediction":{"value":0.93,"label":"fraud"},"topic":"payments","partition":2,"offset":99}`),
		Headers: wire.ProvenanceHeaders(serving.Provenance{Model: serving.ModelRef{Name: "fraud", Version: 3}}),
	})
	fmt.Println(s.Label, s.Provenance.Model, s.Key, s.Topic, s.Partition, s.Offset, err)
	// Output:
	// fraud fraud@v3 card-1 payments 2 99 <nil>
	// fraud fraud@v3 card-1 payments 2 99 <nil>
}

// The compact encoding leaves out what the record carries already.
func ExampleScoreEncoding() {
	s := wire.Score{
		Prediction: serving.Prediction{Value: 0.93, Label: "fraud", Confidence: 0.93},
		Provenance: serving.Provenance{Model: serving.ModelRef{Name: "fraud", Version: 3}},
		Key:        "card-1", Topic: "payments", Partition: 2, Offset: 99,
	}
	for _, e := range []wire.ScoreEncoding{wire.ScoreJSON, wire.ScoreCompact} {
		v, err := e.AppendScore(nil, &s)
		fmt.Println(string(v), err)
	}
	// Output:
	// {"prediction":{"value":0.93,"label":"fraud","confidence":0.93},"provenance":{"model":{"name":"fraud","version":3}},"key":"card-1","topic":"payments","partition":2,"offset":99} <nil>
	// {"prediction":{"value":0.93,"label":"fraud","confidence":0.93},"topic":"payments","partition":2,"offset":99} <nil>
}

// A consumer of the dead-letter topic reads why and where a record
// failed.
func ExampleParseDeadLetter() {
	hs := []wire.Header{
		{Key: []byte("traceparent"), Value: []byte("00-4bf9")},
		{Key: []byte(wire.HeaderDLQReason), Value: []byte(`serving: missing field: "amount"`)},
		{Key: []byte(wire.HeaderDLQStage), Value: []byte(wire.StageScore)},
		{Key: []byte(wire.HeaderDLQTopic), Value: []byte("payments")},
		{Key: []byte(wire.HeaderDLQPartition), Value: []byte("2")},
		{Key: []byte(wire.HeaderDLQOffset), Value: []byte("41")},
	}
	d, err := wire.ParseDeadLetter(hs)
	fmt.Printf("%s/%d@%d %s: %s %v\n", d.Topic, d.Partition, d.Offset, d.Stage, d.Reason, err)
	// Output: payments/2@41 score: serving: missing field: "amount" <nil>
}
