package linear_test

import (
	"context"
	"fmt"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/linear"
)

// A trainer encodes a Document; a scorer loads the bytes by format name.
func Example() {
	doc := linear.Document{
		Kind:     linear.KindLogistic,
		Features: 2,
		Mean:     []float64{10, 0},
		Scale:    []float64{5, 1},
		Weights:  [][]float64{{1.5, -2}},
		Bias:     []float64{0.25},
		Classes:  []string{"ham", "spam"},
	}
	b, err := doc.Marshal()
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	m, err := serving.Load(ctx, serving.Descriptor{Name: "spam", Format: linear.FormatName, Bytes: b})
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := m.Predict(ctx, []float64{20, 0.5}) // standardised to (2, 0.5): z = 0.25 + 3 - 1
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s p=%.4f confidence=%.4f\n", p.Label, p.Value, p.Confidence)

	_, err = m.Predict(ctx, []float64{1, 2, 3})
	fmt.Println(err)
	// Output:
	// spam p=0.9047 confidence=0.9047
	// serving: feature count mismatch: model expects 2, got 3
}
