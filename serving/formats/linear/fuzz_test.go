package linear_test

import (
	"context"
	"errors"
	"testing"

	"github.com/modelstream/modelstream/internal/linmodel"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/linear"
)

// FuzzParse checks that Parse never panics, that its errors are
// *serving.FormatError of kind ErrCorruptModel, and that a document it
// accepts gives a model that predicts on any input of the right length.
func FuzzParse(f *testing.F) {
	for _, doc := range []linear.Document{
		{Kind: linear.KindLinear, Features: 3, Weights: [][]float64{{1, 2, -3}}, Bias: []float64{0.5}},
		{Kind: linear.KindLogistic, Features: 2, Mean: []float64{1, 2}, Scale: []float64{3, 4}, Weights: [][]float64{{1, -1}}, Bias: []float64{0}, Classes: []string{"no", "yes"}},
		{Kind: linear.KindSoftmax, Features: 2, FeatureNames: []string{"a", "b"}, Weights: [][]float64{{1, 0}, {0, 1}, {1, 1}}, Bias: []float64{0, 1, 2}},
	} {
		b, err := doc.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"kind":"linear","features":1,"weights":[[1]],"bias":[0]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := linear.Parse(b)
		if err != nil {
			var fe *serving.FormatError
			if !errors.Is(err, serving.ErrCorruptModel) || !errors.As(err, &fe) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		info := m.Describe()
		if info.Features < 1 || info.Features > linmodel.MaxFeatures || info.Outputs < 1 {
			t.Fatalf("accepted a document with %+v", info)
		}
		p, err := m.Predict(context.Background(), make([]float64, info.Features))
		if err != nil {
			t.Fatalf("Predict: %v", err)
		}
		if info.Outputs > 1 && len(p.Values) != info.Outputs {
			t.Fatalf("%d outputs, %d values", info.Outputs, len(p.Values))
		}
		if _, err := m.Predict(context.Background(), make([]float64, info.Features+1)); !errors.Is(err, serving.ErrFeatureCount) {
			t.Fatalf("Predict with one feature too many: %v", err)
		}
	})
}
