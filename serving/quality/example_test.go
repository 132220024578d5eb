package quality_test

import (
	"fmt"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/quality"
)

func Example() {
	tr, _ := quality.NewTracker(64)
	// A score, and later the truth about it.
	prov := serving.Provenance{Model: serving.ModelRef{Name: "fraud", Version: 3}}
	m, _ := tr.Meter(quality.KeyOf(prov))
	outcomes := []struct {
		p     float64
		fraud bool
	}{{0.9, true}, {0.2, false}, {0.7, false}, {0.1, false}, {0.8, true}, {0.4, true}}
	for _, o := range outcomes {
		m.ObserveBinary(o.p, o.fraud)
	}
	for _, s := range tr.Snapshot() {
		fmt.Printf("%s: n=%d accuracy=%.2f [%.2f, %.2f] AUC=%.2f\n",
			s.Key, s.Accuracy.N, s.Accuracy.Value, s.Accuracy.Low, s.Accuracy.High, s.AUC.Value)
	}
	// Output:
	// fraud@v3: n=6 accuracy=0.67 [0.30, 0.90] AUC=0.89
}
