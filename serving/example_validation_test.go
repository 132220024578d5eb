package serving_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"math"

	"github.com/modelstream/modelstream/serving"
)

// exampleScale is a model format for the example below: its bytes are a
// factor, and "nan" makes a model that answers NaN.
func init() {
	serving.Register("example-scale", serving.FormatFunc(func(_ context.Context, d serving.Descriptor) (serving.Model, error) {
		f := math.NaN()
		if string(d.Bytes) != "nan" {
			if _, err := fmt.Sscan(string(d.Bytes), &f); err != nil {
				return nil, serving.Corrupt("example-scale", err)
			}
		}
		return scaleModel(f), nil
	}))
}

type scaleModel float64

func (m scaleModel) Predict(_ context.Context, x []float64) (serving.Prediction, error) {
	return serving.Prediction{Value: float64(m) * x[0]}, nil
}

// A Server tries every new version before it goes live. Here it has
// probe records of its own for the name "price", and asks new versions
// to agree with the live one within 10%.
func ExampleWithValidation() {
	ctx := context.Background()
	srv, err := serving.NewServer(
		serving.WithLogger(slog.New(slog.DiscardHandler)),
		serving.WithValidation(serving.Validation{
			Probes: map[string][]serving.Record{
				"price": {{Features: []float64{1}}, {Features: []float64{100}}},
			},
			Tolerance: 0.1,
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	for _, b := range []string{"2", "nan", "3", "2.1"} {
		ref, err := srv.Activate(ctx, serving.Descriptor{Name: "price", Format: "example-scale", Bytes: []byte(b)})
		switch {
		case errors.Is(err, serving.ErrValidation):
			fmt.Printf("factor %s: refused by validation\n", b)
		case err != nil:
			fmt.Printf("factor %s: %v\n", b, err)
		default:
			fmt.Printf("factor %s: %s live\n", b, ref)
		}
	}
	// Output:
	// factor 2: price@v1 live
	// factor nan: refused by validation
	// factor 3: refused by validation
	// factor 2.1: price@v2 live
}
