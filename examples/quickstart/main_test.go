package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"slices"
	"testing"

	"github.com/modelstream/modelstream/serving"
)

// TestQuickstart runs the demo small and fast on the embedded broker.
func TestQuickstart(t *testing.T) {
	if err := run(context.Background(), "", "", 3000, 5000, false); err != nil {
		t.Fatal(err)
	}
}

// TestQuickstartLoadsEveryFormat: the quickstart registers every model
// format of the module, so that a LightGBM model, say, published to its
// models topic with kcat loads rather than failing as an unknown format.
func TestQuickstartLoadsEveryFormat(t *testing.T) {
	for _, f := range []string{"lightgbm", "lightgbm-json", "linear", "onnx", "pmml", "tensorflow-graphdef", "xgboost-json", "xgboost-ubj"} {
		if !slices.Contains(serving.Formats(), f) {
			t.Errorf("format %q not registered; have %v", f, serving.Formats())
		}
	}
	b, err := os.ReadFile("../../serving/formats/leaves/testdata/lightgbm4/binary_classification.model.txt")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serving.NewServer(serving.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := srv.Activate(context.Background(), serving.Descriptor{Name: "gbm", Format: "lightgbm", Bytes: b}); err != nil {
		t.Fatalf("a LightGBM model does not load in the quickstart: %v", err)
	}
}
