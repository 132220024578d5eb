package linear_test

import (
	"context"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/linear"
)

// bench11 builds an 11-feature model of the given kind, standardised,
// like the wine-quality models package training produces.
func bench11(b *testing.B, kind string, outputs int) *linear.Model {
	doc := linear.Document{Kind: kind, Features: 11, Mean: make([]float64, 11), Scale: make([]float64, 11)}
	for j := range 11 {
		doc.Mean[j] = float64(j)
		doc.Scale[j] = 1 + float64(j)/10
	}
	for k := range outputs {
		row := make([]float64, 11)
		for j := range row {
			row[j] = float64(k+1) * 0.01 * float64(j-5)
		}
		doc.Weights = append(doc.Weights, row)
		doc.Bias = append(doc.Bias, float64(k))
	}
	raw, err := doc.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	m, err := linear.Parse(raw)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkLinear11 measures one prediction of an 11-feature model.
func BenchmarkLinear11(b *testing.B) {
	x := []float64{7.4, 0.7, 0, 1.9, 0.076, 11, 34, 0.9978, 3.51, 0.56, 9.4}
	ctx := context.Background()
	for _, c := range []struct {
		kind    string
		outputs int
	}{{linear.KindLinear, 1}, {linear.KindLogistic, 1}, {linear.KindSoftmax, 3}} {
		m := bench11(b, c.kind, c.outputs)
		b.Run(c.kind, func(b *testing.B) {
			b.ReportAllocs()
			var sink serving.Prediction
			for b.Loop() {
				sink, _ = m.Predict(ctx, x)
			}
			_ = sink
		})
	}
}
