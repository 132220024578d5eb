package feedback_test

import (
	"fmt"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/feedback"
	"github.com/modelstream/modelstream/serving/wire"
)

// Drift watches the live error of the model that serves: each joined
// Match's loss goes to a detector, and the function given is called
// with the Match at which it fires, where a program calls
// training.Trainer's ReportDrift with m.Score.Provenance.Model. The
// detector here is a hand-made one (three errors among the last five);
// training.PageHinkley and training.ADWIN have the same Add method.
func ExampleDrift() {
	var last []float64
	threeOfFive := func(loss float64) bool {
		last = append(last, loss)
		if len(last) > 5 {
			last = last[1:]
		}
		var sum float64
		for _, x := range last {
			sum += x
		}
		return sum >= 3
	}
	zeroOne := func(m feedback.Match) float64 { // 0 for a right answer, 1 for a wrong one
		if m.Score.Label == m.Label.Class {
			return 0
		}
		return 1
	}
	fired := false
	watch, err := feedback.Drift(threeOfFive, zeroOne, func(m feedback.Match) {
		if !fired {
			fmt.Printf("drift at %s, on %s\n", m.Label.Key, m.Score.Provenance.Model)
			fired = true
		}
	})
	if err != nil {
		panic(err)
	}
	prov := serving.Provenance{Model: serving.ModelRef{Name: "fraud", Version: 3}}
	// The model keeps saying "ok"; from order-6 on, the truth is "fraud".
	for i := 1; i <= 10; i++ {
		truth := "ok"
		if i >= 6 {
			truth = "fraud"
		}
		key := fmt.Sprintf("order-%d", i)
		m := feedback.Match{Score: wire.Score{Key: key, Prediction: serving.Prediction{Label: "ok"}, Provenance: prov}, Label: feedback.Label{Key: key, Class: truth}}
		if err := watch(m); err != nil {
			panic(err)
		}
	}
	// Output:
	// drift at order-8, on fraud@v3
}
