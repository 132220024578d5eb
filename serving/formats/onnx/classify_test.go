package onnx_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/onnx"
)

func attrFloats(name string, vs ...float32) []byte {
	var packed []byte
	for _, v := range vs {
		packed = binary.LittleEndian.AppendUint32(packed, math.Float32bits(v))
	}
	return pb(nil).str(1, name).bytes(7, packed).varint(20, 6)
}

func attrInts(name string, vs ...int64) []byte {
	var packed []byte
	for _, v := range vs {
		packed = binary.AppendUvarint(packed, uint64(v))
	}
	return pb(nil).str(1, name).bytes(8, packed).varint(20, 7)
}

// shrinkingLabelClassifier is a LinearClassifier over x, of fixed shape
// [1 2] (no batch dimension), whose label output is sliced to
// x[0] < 1.5 elements: one for the load-time dry run on ones, none for
// x = [2 0].
func shrinkingLabelClassifier() []byte {
	lc := pb(node("LinearClassifier", []string{"x"}, []string{"lab", "prob"},
		attrFloats("coefficients", 1, -1, -1, 1), attrFloats("intercepts", 0, 0), attrInts("classlabels_ints", 0, 1))).str(7, "ai.onnx.ml")
	var gb pb
	for _, n := range [][]byte{
		lc,
		node("Slice", []string{"x", "s00", "e11"}, []string{"x0"}),
		node("Reshape", []string{"x0", "one"}, []string{"x0r"}),
		node("Less", []string{"x0r", "half"}, []string{"small"}),
		node("Cast", []string{"small"}, []string{"end"}, attrInt("to", elemInt64)),
		node("Slice", []string{"lab", "zero", "end"}, []string{"label"}),
	} {
		gb = gb.bytes(1, n)
	}
	gb = gb.str(2, "shrinking-label")
	for _, t := range [][]byte{
		int64Initializer("s00", []int{2}, []int64{0, 0}),
		int64Initializer("e11", []int{2}, []int64{1, 1}),
		int64Initializer("one", []int{1}, []int64{1}),
		int64Initializer("zero", []int{1}, []int64{0}),
		initializer("half", []int{1}, []float32{1.5}),
	} {
		gb = gb.bytes(5, t)
	}
	gb = gb.bytes(11, valueInfo("x", elemFloat, 1, 2))
	gb = gb.bytes(12, valueInfo("label", elemInt64, 1))
	gb = gb.bytes(12, valueInfo("prob", elemFloat, 1, 2))
	var m pb
	m = m.varint(1, 8)
	m = m.bytes(8, pb(nil).str(1, "").varint(2, 13))
	m = m.bytes(8, pb(nil).str(1, "ai.onnx.ml").varint(2, 1))
	return m.bytes(7, gb)
}

// TestRuntimeLabelOfOtherLength: a classifier's label output that holds
// no element for a record (its length computed from the input) is an
// ErrBackend error for that record; classify indexed it and panicked,
// and a panic in Predict takes the process down.
func TestRuntimeLabelOfOtherLength(t *testing.T) {
	m := loadRuntime(t, runtimeFormat(t), shrinkingLabelClassifier())
	if info := m.(serving.Describer).Describe(); info.Outputs != 2 {
		t.Fatalf("not read as a classifier: %+v", info)
	}
	p, err := m.Predict(context.Background(), []float64{0, 1})
	if err != nil || p.Label != "1" {
		t.Fatalf("x=[0 1]: %+v, %v; want label 1", p, err)
	}
	var out [1]serving.Prediction
	for _, call := range []func() error{
		func() error { _, err := m.Predict(context.Background(), []float64{2, 0}); return err },
		func() error {
			return m.(serving.BatchPredictor).PredictBatch(context.Background(), [][]float64{{2, 0}}, out[:])
		},
	} {
		if err := call(); !errors.Is(err, onnx.ErrBackend) {
			t.Errorf("x=[2 0], an empty label: err = %v, want ErrBackend", err)
		}
	}
}
