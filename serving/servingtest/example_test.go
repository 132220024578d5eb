package servingtest_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// A fake travels as a model message like a real model: here two versions
// go through a Server's hot swap, and the replaced one is closed once.
func Example() {
	ctx := context.Background()
	srv, _ := serving.NewServer(serving.WithLogger(slog.New(slog.DiscardHandler)))
	defer srv.Close()

	srv.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("churn", 1))
	srv.Activate(ctx, servingtest.Spec{Value: 2, Label: "stays"}.Descriptor("churn", 2))
	res, _ := srv.Model("churn").Score(ctx, serving.Record{Features: []float64{0.3}})
	fmt.Println(res.Provenance.Model, res.Value, res.Label)

	f := &servingtest.Fake{Output: serving.Prediction{Value: 0.9}}
	if _, err := srv.ActivateModel(ctx, serving.ModelRef{Name: "fraud", Version: 1}, f); err != nil {
		panic(err)
	}
	srv.Model("fraud").Score(ctx, serving.Record{})
	srv.Retire("fraud")
	fmt.Println(f.Calls(), f.Closes())
	// Output:
	// churn@v2 2 stays
	// 1 1
}
