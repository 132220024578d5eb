package serving_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/linear"
)

// A model is data: here a linear model is built as a JSON document, loaded
// through its registered format, and hot-swapped for a newer version
// while the Scorer in hand keeps working.
func ExampleServer() {
	ctx := context.Background()
	srv, _ := serving.NewServer(serving.WithLogger(slog.New(slog.DiscardHandler)))
	defer srv.Close()

	model := func(version uint64, w float64) serving.Descriptor {
		doc := linear.Document{Kind: linear.KindLinear, Features: 2, Weights: [][]float64{{w, w}}, Bias: []float64{1}}
		b, _ := doc.Marshal()
		return serving.Descriptor{Name: "price", Format: "linear", Version: version, Bytes: b}
	}
	scorer := srv.Model("price")
	rec := serving.Record{Features: []float64{2, 3}}

	srv.Activate(ctx, model(1, 1))
	res, _ := scorer.Score(ctx, rec)
	fmt.Println(res.Provenance.Model, res.Value)

	srv.Activate(ctx, model(2, 10))
	res, _ = scorer.Score(ctx, rec)
	fmt.Println(res.Provenance.Model, res.Value)

	_, err := srv.Activate(ctx, model(1, 1))
	fmt.Println(errors.Is(err, serving.ErrStaleVersion))
	// Output:
	// price@v1 6
	// price@v2 51
	// true
}

func ExampleLoad_unknownFormat() {
	// No format package registers "caffe"; a program that forgot to
	// import one it needs sees the same error.
	_, err := serving.Load(context.Background(), serving.Descriptor{Name: "m", Format: "caffe", Bytes: []byte("...")})
	fmt.Println(errors.Is(err, serving.ErrUnknownFormat))
	fmt.Println(err)
	// Output:
	// true
	// serving: load m (format "caffe"): serving: unknown format "caffe" (forgotten import?)
}
