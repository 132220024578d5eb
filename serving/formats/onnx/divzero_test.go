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

// TestRuntimeHalfOutputsWhateverTheirDeclaredShape: a float16 output is
// read as ONNX Runtime allocated it, whatever shape the graph declares,
// or none. Before, the engine allocated it from its declared shape
// before each run, since onnxruntime_go read half its bytes: it refused
// a declared shape past the element bound (its size had overflowed, and
// load panicked) and an undeclared one.
func TestRuntimeHalfOutputsWhateverTheirDeclaredShape(t *testing.T) {
	f := runtimeFormat(t)
	for _, out := range [][]any{{"N", 1 << 62}, {"N", 1 << 40, 1 << 30}, {"N", 1 << 25}, nil} {
		y := valueInfo("y", 10, out...)
		if out == nil {
			y = valueInfoNoShape("y", 10)
		}
		b := model(13, graphSpec{
			nodes:   [][]byte{node("Identity", []string{"x"}, []string{"y"})},
			inputs:  [][]byte{valueInfo("x", 10, "N", 1)},
			outputs: [][]byte{y},
		})
		m, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: "onnx", Bytes: b})
		if err != nil {
			t.Errorf("output shape %v: load = %v", out, err)
			continue
		}
		if p, err := m.Predict(context.Background(), []float64{0.5}); err != nil || p.Value != 0.5 {
			t.Errorf("output shape %v: Predict([0.5]) = %+v, %v; want 0.5", out, p, err)
		}
		m.(serving.Closer).Close()
	}
}

// divisionModels are graphs that ONNX Runtime would run into an integer
// division by zero (or of the smallest integer by -1), each with what
// makes it so. Before checkIntegerDivision walked every graph, each of
// them killed the test binary with SIGFPE: the constant ones when ONNX
// Runtime folded them while creating the session, the others at the
// first Predict of a 0.
func divisionModels() map[string][]byte {
	// y = int(x) + a / b, with a and b integer initializers.
	constant := func(op string, a, b int64) []byte {
		return model(13, graphSpec{
			nodes: [][]byte{
				node(op, []string{"a", "b"}, []string{"q"}),
				node("Cast", []string{"x"}, []string{"xi"}, attrInt("to", elemInt64)),
				node("Add", []string{"xi", "q"}, []string{"y"}),
			},
			inits:   [][]byte{int64Initializer("a", []int{1}, []int64{a}), int64Initializer("b", []int{1}, []int64{b})},
			inputs:  [][]byte{valueInfo("x", elemFloat, "N", 1)},
			outputs: [][]byte{valueInfo("y", elemInt64, "N", 1)},
		})
	}
	// y = If(true) { 10 / int(x) } else { 10 }: the division sits in a
	// subgraph.
	then := graphOf("then", [][]byte{node("Div", []string{"ten", "xi"}, []string{"t_out"})}, [][]byte{valueInfo("t_out", elemInt64, 1)})
	els := graphOf("else", [][]byte{node("Identity", []string{"ten"}, []string{"e_out"})}, [][]byte{valueInfo("e_out", elemInt64, 1)})
	branch := model(13, graphSpec{
		nodes: [][]byte{
			node("Cast", []string{"x"}, []string{"xi"}, attrInt("to", elemInt64)),
			node("If", []string{"yes"}, []string{"y"}, attrGraph("then_branch", then), attrGraph("else_branch", els)),
		},
		inits:   [][]byte{int64Initializer("ten", []int{1}, []int64{10}), pb(nil).varint(2, 9).str(8, "yes").bytes(9, []byte{1})},
		inputs:  [][]byte{valueInfo("x", elemFloat, 1)},
		outputs: [][]byte{valueInfo("y", elemInt64, 1)},
	})
	// y = 10 / QuantizeLinear(x): an integer made from a float input by
	// an op the check did not know.
	quantized := model(14, graphSpec{
		nodes: [][]byte{
			node("QuantizeLinear", []string{"x", "scale"}, []string{"xq"}),
			node("Div", []string{"ten", "xq"}, []string{"y"}),
		},
		inits:   [][]byte{initializer("scale", nil, []float32{1}), pb(nil).varint(2, 2).str(8, "ten").bytes(9, []byte{10})},
		inputs:  [][]byte{valueInfo("x", elemFloat, 1)},
		outputs: [][]byte{valueInfo("y", 2, 1)},
	})
	// The constant 0 also declared a float, by a value_info: its data
	// type is what holds.
	lying := model(13, graphSpec{
		nodes: [][]byte{
			node("Div", []string{"a", "b"}, []string{"q"}),
			node("Cast", []string{"x"}, []string{"xi"}, attrInt("to", elemInt64)),
			node("Add", []string{"xi", "q"}, []string{"y"}),
		},
		inits:      [][]byte{int64Initializer("a", []int{1}, []int64{10}), int64Initializer("b", []int{1}, []int64{0})},
		inputs:     [][]byte{valueInfo("x", elemFloat, "N", 1)},
		outputs:    [][]byte{valueInfo("y", elemInt64, "N", 1)},
		valueInfos: [][]byte{valueInfo("b", elemFloat, 1)},
	})
	return map[string][]byte{
		"constant 0 declared float":   lying,
		"constant Div by 0":           constant("Div", 10, 0),
		"constant Mod by 0":           constant("Mod", 10, 0),
		"constant MinInt64 Div by -1": constant("Div", math.MinInt64, -1),
		"Div by a record in an If":    branch,
		"Div by a quantized record":   quantized,
	}
}

// TestRuntimeRefusesIntegerDivisionItCannotProveSafe: every integer
// division whose divisor may be 0 or -1, in the graph or a subgraph,
// computed from a record or from constants alone, is refused at load
// with serving.ErrUnsupportedModel, and the process lives on.
func TestRuntimeRefusesIntegerDivisionItCannotProveSafe(t *testing.T) {
	f := runtimeFormat(t)
	for name, b := range divisionModels() {
		_, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: "onnx", Bytes: b})
		if !errors.Is(err, serving.ErrUnsupportedModel) {
			t.Errorf("%s: load = %v, want serving.ErrUnsupportedModel", name, err)
		}
	}
}

// TestRuntimeKeepsSafeDivisions: divisions the check proves safe still
// load and compute: an integer by a constant without 0 and -1, and
// floats by a value computed from the record.
func TestRuntimeKeepsSafeDivisions(t *testing.T) {
	f := runtimeFormat(t)
	byConst := model(13, graphSpec{
		nodes: [][]byte{
			node("Cast", []string{"x"}, []string{"xi"}, attrInt("to", elemInt64)),
			node("Div", []string{"xi", "three"}, []string{"y"}),
		},
		inits:   [][]byte{int64Initializer("three", []int{1}, []int64{3})},
		inputs:  [][]byte{valueInfo("x", elemFloat, "N", 1)},
		outputs: [][]byte{valueInfo("y", elemInt64, "N", 1)},
	})
	// y = x / sqrt(x*x + 1), every value a float.
	byRecord := model(13, graphSpec{
		nodes: [][]byte{
			node("Mul", []string{"x", "x"}, []string{"sq"}),
			node("Add", []string{"sq", "one"}, []string{"s"}),
			node("Sqrt", []string{"s"}, []string{"r"}),
			node("Div", []string{"x", "r"}, []string{"y"}),
		},
		inits:   [][]byte{initializer("one", nil, []float32{1})},
		inputs:  [][]byte{valueInfo("x", elemFloat, "N", 1)},
		outputs: [][]byte{valueInfo("y", elemFloat, "N", 1)},
	})
	for name, c := range map[string]struct {
		b    []byte
		x    float64
		want float64
	}{
		"int64 by 3":   {byConst, 7, 2},
		"x/sqrt(x²+1)": {byRecord, 0, 0},
	} {
		m := loadRuntime(t, f, c.b)
		p, err := m.Predict(context.Background(), []float64{c.x})
		if err != nil || p.Value != c.want {
			t.Errorf("%s: f(%v) = %v, %v; want %v", name, c.x, p.Value, err, c.want)
		}
	}
}

// TestRuntimeRefusesRecordSizedTensors: a graph in which a record's
// values set the size of a tensor ONNX Runtime allocates is refused at
// load. ConstantOfShape(int(x)) loaded, and a record holding 5e8 made one
// Predict allocate 2 GB and run 12 s; a larger value exhausts memory. A
// size taken from the record's shape (Shape, Size), which the model
// declares, still loads.
func TestRuntimeRefusesRecordSizedTensors(t *testing.T) {
	f := runtimeFormat(t)
	bomb := model(13, graphSpec{
		nodes: [][]byte{
			node("Cast", []string{"x"}, []string{"n"}, attrInt("to", elemInt64)),
			node("ConstantOfShape", []string{"n"}, []string{"big"}),
			node("ReduceSum", []string{"big"}, []string{"y"}, attrInt("keepdims", 0)),
		},
		inputs:  [][]byte{valueInfo("x", elemFloat, 1)},
		outputs: [][]byte{valueInfo("y", elemFloat)},
	})
	expand := model(13, graphSpec{
		nodes:   [][]byte{node("Expand", []string{"one", "shape"}, []string{"y"})},
		inits:   [][]byte{initializer("one", nil, []float32{1})},
		inputs:  [][]byte{valueInfo("shape", elemInt64, 2)},
		outputs: [][]byte{valueInfo("y", elemFloat, "A", "B")},
	})
	for name, b := range map[string][]byte{"ConstantOfShape(int(x))": bomb, "Expand(1, shape)": expand} {
		_, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: "onnx", Bytes: b})
		if !errors.Is(err, serving.ErrUnsupportedModel) {
			t.Errorf("%s: load = %v, want serving.ErrUnsupportedModel", name, err)
		}
	}
	// y = sum(ConstantOfShape(Shape(x)) + x): sized by x's shape.
	m := loadRuntime(t, f, model(13, graphSpec{
		nodes: [][]byte{
			node("Shape", []string{"x"}, []string{"s"}),
			node("ConstantOfShape", []string{"s"}, []string{"z"}),
			node("Add", []string{"z", "x"}, []string{"y"}),
		},
		inputs:  [][]byte{valueInfo("x", elemFloat, 1, 3)},
		outputs: [][]byte{valueInfo("y", elemFloat, 1, 3)},
	}))
	p, err := m.Predict(context.Background(), []float64{1, 2, 3})
	if err != nil || len(p.Values) != 3 || p.Values[2] != 3 {
		t.Fatalf("ConstantOfShape(Shape(x)) + x = %v, %v", p.Values, err)
	}
	// y = Expand(x, If(true) {Shape(x)} else {Shape(x)}): the If's output
	// comes from the record's shape only, as exporters write dynamic
	// shapes; it was taken to carry the record's values, and refused.
	shapeOf := func(name string) []byte {
		return graphOf(name, [][]byte{node("Shape", []string{"x"}, []string{name + "_out"})}, [][]byte{valueInfo(name+"_out", elemInt64, 2)})
	}
	m = loadRuntime(t, f, model(13, graphSpec{
		nodes: [][]byte{
			node("If", []string{"yes"}, []string{"s"}, attrGraph("then_branch", shapeOf("then")), attrGraph("else_branch", shapeOf("else"))),
			node("Expand", []string{"x", "s"}, []string{"y"}),
		},
		inits:   [][]byte{pb(nil).varint(2, 9).str(8, "yes").bytes(9, []byte{1})},
		inputs:  [][]byte{valueInfo("x", elemFloat, 1, 3)},
		outputs: [][]byte{valueInfo("y", elemFloat, 1, 3)},
	}))
	p, err = m.Predict(context.Background(), []float64{1, 2, 3})
	if err != nil || len(p.Values) != 3 || p.Values[1] != 2 {
		t.Fatalf("Expand(x, If(Shape(x))) = %v, %v", p.Values, err)
	}
}
