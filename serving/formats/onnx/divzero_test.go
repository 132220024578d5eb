package onnx_test

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/onnx"
)

// int64Initializer is an int64 TensorProto with raw_data.
func int64Initializer(name string, dims []int, data []int64) []byte {
	var t pb
	for _, d := range dims {
		t = t.varint(1, uint64(d))
	}
	t = t.varint(2, elemInt64)
	raw := make([]byte, 0, 8*len(data))
	for _, v := range data {
		raw = binary.LittleEndian.AppendUint64(raw, uint64(v))
	}
	return t.str(8, name).bytes(9, raw)
}

// divModel divides 10 by x, an input of element type elem that is first
// cast to int64 when it is not int64 already.
func divModel(elem int) []byte {
	nodes := [][]byte{}
	div := "x"
	if elem != elemInt64 {
		nodes = append(nodes, node("Cast", []string{"x"}, []string{"xi"}, attrInt("to", elemInt64)))
		div = "xi"
	}
	nodes = append(nodes, node("Div", []string{"ten", div}, []string{"q"}))
	return model(13, graphSpec{
		nodes:   nodes,
		inits:   [][]byte{int64Initializer("ten", []int{1}, []int64{10})},
		inputs:  [][]byte{valueInfo("x", elem, "N", 1)},
		outputs: [][]byte{valueInfo("q", elemInt64, "N", 1)},
	})
}

// TestRuntimeRefusesIntegerDivisionByARecord: a graph that divides an
// integer by a value a record sets is refused at load, since a record
// holding 0 there makes ONNX Runtime divide an integer by zero and the
// process die (SIGFPE). A float or bool input cast to an integer is such
// a value as much as an integer input is.
func TestRuntimeRefusesIntegerDivisionByARecord(t *testing.T) {
	f := runtimeFormat(t)
	for name, elem := range map[string]int{"int64": elemInt64, "float": elemFloat, "bool": 9} {
		_, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: "onnx", Bytes: divModel(elem)})
		if !errors.Is(err, serving.ErrUnsupportedModel) {
			t.Errorf("%s input: load = %v, want serving.ErrUnsupportedModel", name, err)
		}
	}
}

// TestRuntimeRefusesHugeDeclaredShapes: dimensions whose product
// overflows int64 are refused at load like any input over the element
// bound, not wrapped to a negative size (a panic in ONNX Runtime's
// engine), by either engine.
func TestRuntimeRefusesHugeDeclaredShapes(t *testing.T) {
	pure, err := onnx.Open(onnx.PureGo())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []serving.Format{runtimeFormat(t), pure} {
		refusesHugeShapes(t, f)
	}
}

func refusesHugeShapes(t *testing.T, f serving.Format) {
	for _, dims := range [][]any{{"N", 2, 1 << 62}, {"N", 4, 1 << 62}, {"N", 3, 1 << 62, 1 << 62}, {1 << 62, 1 << 62}} {
		b := model(13, graphSpec{
			nodes:   [][]byte{node("Identity", []string{"x"}, []string{"y"})},
			inputs:  [][]byte{valueInfo("x", elemFloat, dims...)},
			outputs: [][]byte{valueInfo("y", elemFloat, dims...)},
		})
		_, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: "onnx", Bytes: b})
		if !errors.Is(err, serving.ErrUnsupportedModel) && !errors.Is(err, serving.ErrCorruptModel) {
			t.Errorf("dims %v: load = %v, want a refusal", dims, err)
		}
	}
}

// TestRuntimeRefusesHugeHalfOutputs: a float16 output is allocated from
// its declared shape before each run; a shape past the element bound is
// refused at load, not allocated (its size overflowed, and load panicked).
func TestRuntimeRefusesHugeHalfOutputs(t *testing.T) {
	f := runtimeFormat(t)
	for _, out := range [][]any{{"N", 1 << 62}, {"N", 1 << 40, 1 << 30}, {"N", 1 << 25}} {
		b := model(13, graphSpec{
			nodes:   [][]byte{node("Identity", []string{"x"}, []string{"y"})},
			inputs:  [][]byte{valueInfo("x", 10, "N", 1)},
			outputs: [][]byte{valueInfo("y", 10, out...)},
		})
		_, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: "onnx", Bytes: b})
		if !errors.Is(err, serving.ErrUnsupportedModel) {
			t.Errorf("output shape %v: load = %v, want serving.ErrUnsupportedModel", out, err)
		}
	}
}
