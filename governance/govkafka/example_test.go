package govkafka_test

import (
	"fmt"

	"github.com/modelstream/modelstream/governance/govkafka"
	"github.com/modelstream/modelstream/serving"
)

// ProvenanceHeaders gives the Kafka sink governance's full provenance
// encoding: kafka.NewSink(brokers, kafka.SinkProvenance(govkafka.ProvenanceHeaders)).
func ExampleProvenanceHeaders() {
	hs := govkafka.ProvenanceHeaders(serving.Provenance{Model: serving.ModelRef{Name: "fraud", Version: 3, ID: "9f2c", Format: "linear"}})
	for _, h := range hs {
		fmt.Printf("%s=%s\n", h.Key, h.Value)
	}
	// Output:
	// modelstream.model=fraud
	// modelstream.version=3
	// modelstream.id=9f2c
	// modelstream.format=linear
}
