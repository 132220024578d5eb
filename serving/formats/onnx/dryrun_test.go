//go:build cgo && linux

package onnx_test

import (
	"context"
	"errors"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/onnx"
)

// A model that cannot run on ones loads, planned from its declared
// outputs: ones are no valid record for a model whose record carries a
// shape, axes or indices. Here the record's last two features are the
// shape x is reshaped to, and [1 1] cannot hold x's four floats. A
// record with a shape that fits is scored; one without fails alone with
// ErrBackend. Refusing such models at load would refuse 31 models of the
// ONNX backend suite that reproduce their test data (Reshape, Slice,
// Split, Squeeze, Unsqueeze, CumSum and RoiAlign of inputs a record
// fills, Dropout of a record's ratio).
func TestRuntimeLoadsAModelOnesCannotRun(t *testing.T) {
	b := model(13, graphSpec{
		nodes:   [][]byte{node("Reshape", []string{"x", "shape"}, []string{"y"})},
		inputs:  [][]byte{valueInfo("x", elemFloat, 4), valueInfo("shape", elemInt64, 2)},
		outputs: [][]byte{valueInfo("y", elemFloat, "a", "b")},
	})
	m, err := runtimeFormat(t).Load(context.Background(), serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: b})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	defer m.(serving.Closer).Close()
	p, err := m.Predict(context.Background(), []float64{1, 2, 3, 4, 2, 2})
	if err != nil || !nearAll(p.Values, []float64{1, 2, 3, 4}) {
		t.Errorf("Predict(x, shape [2 2]) = %v, %v; want [1 2 3 4]", p.Values, err)
	}
	if _, err := m.Predict(context.Background(), []float64{1, 2, 3, 4, 1, 1}); !errors.Is(err, onnx.ErrBackend) {
		t.Errorf("Predict(x, shape [1 1]): %v; want onnx.ErrBackend", err)
	}
}
