package feedback

import (
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/quality"
	"github.com/modelstream/modelstream/serving/wire"
)

// BenchmarkObserve measures one joined outcome recorded in a Tracker,
// for a binary label given by value and by class name (with and without
// the class list), and for a multiclass label by index and by name.
func BenchmarkObserve(b *testing.B) {
	prov := serving.Provenance{Model: serving.ModelRef{Name: "wine", Version: 2}}
	bin := wire.Score{Prediction: serving.Prediction{Value: 0.8, Label: "red"}, Provenance: prov}
	multi := wire.Score{Prediction: serving.Prediction{Values: []float64{0.2, 0.5, 0.3}, Label: "white"}, Provenance: prov}
	for _, c := range []struct {
		name    string
		task    Task
		classes []string
		m       Match
	}{
		{"binary/value", Binary, nil, Match{Score: bin, Label: Label{Value: 1}}},
		{"binary/name", Binary, nil, Match{Score: bin, Label: Label{Class: "red"}}},
		{"binary/name-classes", Binary, []string{"white", "red"}, Match{Score: bin, Label: Label{Class: "red"}}},
		{"multiclass/index", Multiclass, nil, Match{Score: multi, Label: Label{Value: 1}}},
		{"multiclass/name-classes", Multiclass, []string{"red", "white", "rose"}, Match{Score: multi, Label: Label{Class: "white"}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			tr, _ := quality.NewTracker(4)
			observe, err := Observe(tr, c.task, c.classes...)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := observe(c.m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
