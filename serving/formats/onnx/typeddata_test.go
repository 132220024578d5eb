//go:build cgo && linux

package onnx_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"os/exec"
	"slices"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/onnx"
)

// A tensor without raw_data whose typed field (float_data, int64_data,
// ...) holds more or fewer values than its dims' elements is refused as
// corrupt on both engines, as one whose raw_data is of another length
// is. Before, the pure-Go engine took an int64 axis of 2 values for 1
// element as an unsupported model ("bad arity"), not a corrupt one;
// ONNX Runtime 1.24 refused each of these itself. It runs in a child
// process, in case a version of ONNX Runtime dies of one.
func TestRefusesTypedDataOfOtherCount(t *testing.T) {
	if os.Getenv("ONNX_TEST_TYPED_DATA") == "" {
		runtimeFormat(t) // skips without the library, or fails under CI
		cmd := exec.Command(os.Args[0], "-test.run", "^TestRefusesTypedDataOfOtherCount$", "-test.v")
		cmd.Env = append(os.Environ(), "ONNX_TEST_TYPED_DATA=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		t.Logf("child:\n%s", out)
		return
	}
	pure, err := onnx.Open(onnx.PureGo())
	if err != nil {
		t.Fatal(err)
	}
	engines := map[string]serving.Format{"ONNX Runtime": runtimeFormat(t), "pure Go": pure}
	floats := func(vs ...float32) []byte {
		var p []byte
		for _, v := range vs {
			p = binary.LittleEndian.AppendUint32(p, math.Float32bits(v))
		}
		return p
	}
	// c, of dims [2], added to x.
	addConst := func(c []byte) []byte {
		return opsetModel([][]byte{node("Add", []string{"x", "c"}, []string{"y"})}, [][]byte{c},
			[][]byte{valueInfo("x", elemFloat, 2)}, [][]byte{valueInfo("y", elemFloat, 2)})
	}
	floatC := func(packed []byte) []byte {
		return pb(nil).varint(1, 2).varint(2, elemFloat).bytes(4, packed).str(8, "c")
	}
	// ax, of dims [1], as Squeeze's axes, by initializer or Constant.
	axis := func(name string, vs ...uint64) []byte {
		t := pb(nil).varint(1, 1).varint(2, elemInt64)
		if name != "" {
			t = t.str(8, name)
		}
		for _, v := range vs {
			t = t.varint(7, v)
		}
		return t
	}
	x1, y1 := valueInfo("x", elemFloat, 1, 1), valueInfo("y", elemFloat, 1)
	squeeze := node("Squeeze", []string{"x", "ax"}, []string{"y"})
	byConstant := func(vs ...uint64) []byte {
		return opsetModel([][]byte{node("Constant", nil, []string{"ax"}, attrTensor("value", axis("", vs...))), squeeze}, nil, [][]byte{x1}, [][]byte{y1})
	}
	byInitializer := func(vs ...uint64) []byte {
		return opsetModel([][]byte{squeeze}, [][]byte{axis("ax", vs...)}, [][]byte{x1}, [][]byte{y1})
	}
	// q, of dims [3] and type elem, dequantized and added to x (opset 21,
	// for the 4-bit types).
	addDequantized := func(elem int, vs ...uint64) []byte {
		q := pb(nil).varint(1, 3).varint(2, uint64(elem)).str(8, "q")
		for _, v := range vs {
			q = q.varint(5, v)
		}
		return model(21, graphSpec{
			nodes: [][]byte{
				node("DequantizeLinear", []string{"q", "s"}, []string{"d"}),
				node("Add", []string{"x", "d"}, []string{"y"}),
			},
			inits:   [][]byte{q, initializer("s", nil, []float32{1})},
			inputs:  [][]byte{valueInfo("x", elemFloat, 3)},
			outputs: [][]byte{valueInfo("y", elemFloat, 3)},
		})
	}
	const int8Type, int4Type = 3, 22
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"int32_data of an int8, 2 values for 3 elements", addDequantized(int8Type, 1, 2)},
		{"int32_data of an int4, 3 values for 3 elements (2 hold them)", addDequantized(int4Type, 1, 2, 3)},
		{"float_data, 1 value for 2 elements", addConst(floatC(floats(7)))},
		{"float_data, 3 values for 2 elements", addConst(floatC(floats(7, 8, 9)))},
		{"float_data, 6 bytes", addConst(floatC(floats(7, 8)[:6]))},
		{"float_data, none for 2 elements", addConst(floatC(nil))},
		{"int64_data of an initializer, none for 1 element", byInitializer()},
		{"int64_data of an initializer, 2 values for 1 element", byInitializer(1, 1)},
		{"int64_data of a Constant, none for 1 element", byConstant()},
		{"int64_data of a Constant, 2 values for 1 element", byConstant(1, 1)},
	} {
		for name, f := range engines {
			m, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: c.b})
			if !errors.Is(err, serving.ErrCorruptModel) {
				if err == nil {
					m.(serving.Closer).Close()
				}
				t.Errorf("%s, %s: Load = %v; want serving.ErrCorruptModel", name, c.name, err)
				continue
			}
			t.Logf("%s, %s: %v", name, c.name, err)
		}
	}
	for name, f := range engines {
		m := loadRuntime(t, f, addConst(floatC(floats(7, 8))))
		if p, err := m.Predict(context.Background(), []float64{1, 2}); err != nil || p.Values[0] != 8 || p.Values[1] != 10 {
			t.Errorf("%s, float_data of 2 values: Predict([1 2]) = %v, %v; want [8 10]", name, p.Values, err)
		}
		m.(serving.Closer).Close()
	}
	// int4 values go two to an int32_data value, the first in the low
	// nibble.
	for name, b := range map[string][]byte{"int8": addDequantized(int8Type, 1, 2, 3), "int4": addDequantized(int4Type, 1|2<<4, 3)} {
		m := loadRuntime(t, engines["ONNX Runtime"], b)
		if p, err := m.Predict(context.Background(), []float64{10, 20, 30}); err != nil || !slices.Equal(p.Values, []float64{11, 22, 33}) {
			t.Errorf("%s of 3 elements in int32_data: Predict([10 20 30]) = %v, %v; want [11 22 33]", name, p.Values, err)
		}
		m.(serving.Closer).Close()
	}
	m := loadRuntime(t, engines["ONNX Runtime"], byInitializer(1))
	if p, err := m.Predict(context.Background(), []float64{3}); err != nil || p.Value != 3 {
		t.Errorf("int64_data of 1 value: Predict([3]) = %v, %v; want 3", p.Value, err)
	}
}
