package training_test

import (
	"context"
	"fmt"

	"github.com/modelstream/modelstream/serving"
	_ "github.com/modelstream/modelstream/serving/formats/linear"
	"github.com/modelstream/modelstream/training"
)

// A linear learner fits y = 3x - 1 from a stream, and its snapshot is
// loaded and served like any other model.
func Example() {
	l, err := training.NewLearner(training.Linear, 1, training.WithLearningRate(0.05), training.WithDecay(100))
	if err != nil {
		panic(err)
	}
	for i := 0; i < 20000; i++ {
		x := float64(i%200)/10 - 10
		if _, err := l.Learn(training.Sample{Features: []float64{x}, Target: 3*x - 1}); err != nil {
			panic(err)
		}
	}
	coef, intercept := l.Coefficients()
	fmt.Printf("learned y = %.2fx %+.2f\n", coef[0][0], intercept[0])

	d, err := l.Snapshot("line", "")
	if err != nil {
		panic(err)
	}
	m, err := serving.Load(context.Background(), d)
	if err != nil {
		panic(err)
	}
	p, _ := m.Predict(context.Background(), []float64{2})
	fmt.Printf("served model at x=2: %.2f (format %s, %s records)\n", p.Value, d.Format, d.Labels[training.LabelRecords])
	// Output:
	// learned y = 3.00x -1.00
	// served model at x=2: 5.00 (format linear, 20000 records)
}
