package onnx_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/onnx"
)

// sizedModel is y = x + ReduceSum(t), where t is a tensor whose size n
// the model's constants set through op.
type sizedModel struct {
	op    string
	build func(n int64) []byte
	// sum is y for x; nil when only loading is checked: ONNX Runtime
	// 1.24 returned garbage for the If model at n = 1024 (a sum of
	// uninitialized memory, different at each run; right at n = 8).
	sum func(n int64, x float64) float64
}

// sumOf is y = x + ReduceSum(t): the nodes make t from x and the
// initializers.
func sumOf(opset int, nodes, inits [][]byte) []byte {
	nodes = append(nodes,
		node("ReduceSum", []string{"t"}, []string{"s"}, attrInt("keepdims", 0)),
		node("Add", []string{"x", "s"}, []string{"y"}))
	return model(opset, graphSpec{
		nodes:   nodes,
		inits:   inits,
		inputs:  [][]byte{valueInfo("x", elemFloat, 1)},
		outputs: [][]byte{valueInfo("y", elemFloat, 1)},
	})
}

func sizedModels() []sizedModel {
	return []sizedModel{
		{"ConstantOfShape(shape)", func(n int64) []byte {
			return sumOf(13, [][]byte{node("ConstantOfShape", []string{"shape"}, []string{"t"})},
				[][]byte{int64Initializer("shape", []int{1}, []int64{n})})
		}, func(n int64, x float64) float64 { return x }},
		{"Expand(1, [2, n/2])", func(n int64) []byte {
			return sumOf(13, [][]byte{node("Expand", []string{"one", "shape"}, []string{"t"})},
				[][]byte{initializer("one", nil, []float32{1}), int64Initializer("shape", []int{2}, []int64{2, n / 2})})
		}, func(n int64, x float64) float64 { return x + float64(n/2*2) }},
		{"Tile(x, n)", func(n int64) []byte {
			return sumOf(13, [][]byte{node("Tile", []string{"x", "reps"}, []string{"t"})},
				[][]byte{int64Initializer("reps", []int{1}, []int64{n})})
		}, func(n int64, x float64) float64 { return x + float64(n)*x }},
		{"Range(0, n, 1) of floats", func(n int64) []byte {
			return sumOf(13, [][]byte{node("Range", []string{"start", "limit", "delta"}, []string{"t"})},
				[][]byte{initializer("start", nil, []float32{0}), initializer("limit", nil, []float32{float32(n)}), initializer("delta", nil, []float32{1})})
		}, func(n int64, x float64) float64 { return x + float64(n*(n-1)/2) }},
		{"Pad(x, [0, n-1])", func(n int64) []byte {
			return sumOf(13, [][]byte{node("Pad", []string{"x", "pads"}, []string{"t"})},
				[][]byte{int64Initializer("pads", []int{2}, []int64{0, n - 1})})
		}, func(n int64, x float64) float64 { return 2 * x }},
		{"OneHot([0], n)", func(n int64) []byte {
			return sumOf(13, [][]byte{node("OneHot", []string{"idx", "depth", "vals"}, []string{"t"})},
				[][]byte{int64Initializer("idx", []int{1}, []int64{0}), int64Initializer("depth", nil, []int64{n}), initializer("vals", []int{2}, []float32{0, 1})})
		}, func(n int64, x float64) float64 { return x + 1 }},
		{"ConstantOfShape(Mul(Concat(Constant [1], [n/4]), Constant 2))", func(n int64) []byte {
			return sumOf(13, [][]byte{
				node("Constant", nil, []string{"lead"}, attrInts("value_ints", 1)),
				node("Constant", nil, []string{"k"}, attrInt("value_int", 2)),
				node("Concat", []string{"lead", "quarter"}, []string{"dims"}, attrInt("axis", 0)),
				node("Mul", []string{"dims", "k"}, []string{"shape"}),
				node("ConstantOfShape", []string{"shape"}, []string{"t"}),
			}, [][]byte{int64Initializer("quarter", []int{1}, []int64{n / 4})})
		}, func(n int64, x float64) float64 { return x }},
		{"ConstantOfShape(Shape(w [1 4]) * [1, n/4])", func(n int64) []byte {
			return sumOf(13, [][]byte{
				node("Shape", []string{"w"}, []string{"ws"}),
				node("Mul", []string{"ws", "k"}, []string{"shape"}),
				node("ConstantOfShape", []string{"shape"}, []string{"t"}),
			}, [][]byte{initializer("w", []int{1, 4}, []float32{1, 2, 3, 4}), int64Initializer("k", []int{2}, []int64{1, n / 4})})
		}, func(n int64, x float64) float64 { return x }},
		{"ConstantOfShape(Shape(x [1]) * n)", func(n int64) []byte {
			return sumOf(13, [][]byte{
				node("Shape", []string{"x"}, []string{"xs"}),
				node("Mul", []string{"xs", "k"}, []string{"shape"}),
				node("ConstantOfShape", []string{"shape"}, []string{"t"}),
			}, [][]byte{int64Initializer("k", []int{1}, []int64{n})})
		}, func(n int64, x float64) float64 { return x }},
		{"Resize(x [1], scales [n])", func(n int64) []byte {
			return sumOf(13, [][]byte{node("Resize", []string{"x", "", "scales"}, []string{"t"})},
				[][]byte{initializer("scales", []int{1}, []float32{float32(n)})})
		}, func(n int64, x float64) float64 { return x + float64(n)*x }},
		{"ConstantOfShape(Cast(float [n + 0.5]))", func(n int64) []byte {
			return sumOf(13, [][]byte{
				node("Cast", []string{"f"}, []string{"shape"}, attrInt("to", elemInt64)),
				node("ConstantOfShape", []string{"shape"}, []string{"t"}),
			}, [][]byte{initializer("f", []int{1}, []float32{float32(n) + 0.5})})
		}, func(n int64, x float64) float64 { return x }},
		{"ConstantOfShape(Gather([5, n], [1]))", func(n int64) []byte {
			return sumOf(13, [][]byte{
				node("Gather", []string{"dims", "idx"}, []string{"shape"}),
				node("ConstantOfShape", []string{"shape"}, []string{"t"}),
			}, [][]byte{int64Initializer("dims", []int{2}, []int64{5, n}), int64Initializer("idx", []int{1}, []int64{1})})
		}, func(n int64, x float64) float64 { return x }},
		{"Range(n, 0, -1) of int64", func(n int64) []byte {
			return sumOf(13, [][]byte{
				node("Range", []string{"start", "limit", "delta"}, []string{"r"}),
				node("Cast", []string{"r"}, []string{"t"}, attrInt("to", elemFloat)),
			}, [][]byte{int64Initializer("start", nil, []int64{n}), int64Initializer("limit", nil, []int64{0}), int64Initializer("delta", nil, []int64{-1})})
		}, func(n int64, x float64) float64 { return x + float64(n*(n+1)/2) }},
		{"Pad-2(x) with a pads attribute [0, n-1]", func(n int64) []byte {
			return sumOf(10, [][]byte{node("Pad", []string{"x"}, []string{"t"}, attrInts("pads", 0, n-1))}, nil)
		}, func(n int64, x float64) float64 { return 2 * x }},
		{"ConstantOfShape(Div([2n+1], Constant 2)) of int64, truncated", func(n int64) []byte {
			return sumOf(13, [][]byte{
				node("Constant", nil, []string{"two"}, attrInt("value_int", 2)),
				node("Div", []string{"dims", "two"}, []string{"shape"}),
				node("ConstantOfShape", []string{"shape"}, []string{"t"}),
			}, [][]byte{int64Initializer("dims", []int{1}, []int64{2*n + 1})})
		}, func(n int64, x float64) float64 { return x }},
		{"Expand(1, Cast(Div(float [3n], 3)))", func(n int64) []byte {
			return sumOf(13, [][]byte{
				node("Div", []string{"f", "three"}, []string{"q"}),
				node("Cast", []string{"q"}, []string{"shape"}, attrInt("to", elemInt64)),
				node("Expand", []string{"one", "shape"}, []string{"t"}),
			}, [][]byte{initializer("f", []int{1}, []float32{3 * float32(n)}), initializer("three", nil, []float32{3}), initializer("one", nil, []float32{1})})
		}, func(n int64, x float64) float64 { return x + float64(n) }},
		{"ConstantOfShape(Slice([5, n, 7], [1], [2]))", func(n int64) []byte {
			return sumOf(13, [][]byte{
				node("Slice", []string{"dims", "starts", "ends"}, []string{"shape"}),
				node("ConstantOfShape", []string{"shape"}, []string{"t"}),
			}, [][]byte{int64Initializer("dims", []int{3}, []int64{5, n, 7}), int64Initializer("starts", []int{1}, []int64{1}), int64Initializer("ends", []int{1}, []int64{2})})
		}, func(n int64, x float64) float64 { return x }},
		{"ConstantOfShape(Slice([1, n, 5], -2, -4, axis 0, step -1))", func(n int64) []byte {
			return sumOf(13, [][]byte{
				node("Slice", []string{"dims", "starts", "ends", "axes", "steps"}, []string{"shape"}),
				node("ConstantOfShape", []string{"shape"}, []string{"t"}),
			}, [][]byte{int64Initializer("dims", []int{3}, []int64{1, n, 5}), int64Initializer("starts", []int{1}, []int64{-2}),
				int64Initializer("ends", []int{1}, []int64{-4}), int64Initializer("axes", []int{1}, []int64{0}), int64Initializer("steps", []int{1}, []int64{-1})})
		}, func(n int64, x float64) float64 { return x }},
		{"Tile(x, Slice-1([5, n], starts 1, ends 9))", func(n int64) []byte {
			return sumOf(9, [][]byte{
				node("Slice", []string{"dims"}, []string{"reps"}, attrInts("starts", 1), attrInts("ends", 9)),
				node("Tile", []string{"x", "reps"}, []string{"t"}),
			}, [][]byte{int64Initializer("dims", []int{2}, []int64{5, n})})
		}, func(n int64, x float64) float64 { return x + float64(n)*x }},
		{"If(true) {ConstantOfShape(outer shape)}", func(n int64) []byte {
			then := graphOf("then", [][]byte{node("ConstantOfShape", []string{"shape"}, []string{"t_out"})}, [][]byte{valueInfo("t_out", elemFloat, "n")})
			els := graphOf("else", [][]byte{node("ConstantOfShape", []string{"one"}, []string{"e_out"})}, [][]byte{valueInfo("e_out", elemFloat, "n")})
			return sumOf(13, [][]byte{node("If", []string{"yes"}, []string{"t"}, attrGraph("then_branch", then), attrGraph("else_branch", els))},
				[][]byte{int64Initializer("shape", []int{1}, []int64{n}), int64Initializer("one", []int{1}, []int64{1}), pb(nil).varint(2, 9).str(8, "yes").bytes(9, []byte{1})})
		}, nil},
	}
}

// TestRuntimeRefusesConstantSizedTensorsOverTheLimit: a node whose sizes
// the model's constants set, to a tensor of more than MaxTensorElements
// elements, is refused at load with serving.ErrUnsupportedModel. ONNX
// Runtime folds constant nodes when it creates a session: a 218-byte
// ConstantOfShape([5e8]) took 31 s and 3.96 GB to load; a Tile or Pad
// with constant sizes allocates as much at each run. Sizes folded from a
// few constant ops, and sizes in a subgraph, are bounded as well. Under
// the limit, the same models load and compute.
func TestRuntimeRefusesConstantSizedTensorsOverTheLimit(t *testing.T) {
	const limit = 1 << 10
	f := runtimeFormat(t, onnx.MaxTensorElements(limit))
	for _, c := range sizedModels() {
		_, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: "onnx", Bytes: c.build(2 * limit)})
		if !errors.Is(err, serving.ErrUnsupportedModel) {
			t.Errorf("%s with n = %d over a limit of %d: load = %v, want serving.ErrUnsupportedModel", c.op, 2*limit, limit, err)
		}
		for _, n := range []int64{8, limit} {
			m, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: "onnx", Bytes: c.build(n)})
			if err != nil {
				t.Errorf("%s with n = %d: load = %v, want it to load", c.op, n, err)
				continue
			}
			if c.sum != nil {
				p, err := m.Predict(context.Background(), []float64{3})
				if want := c.sum(n, 3); err != nil || p.Value != want {
					t.Errorf("%s with n = %d: f(3) = %v, %v; want %v", c.op, n, p.Value, err, want)
				}
			}
			m.(serving.Closer).Close()
		}
	}
}

// TestRuntimeRefusesTheConstantShapeBomb is the reported model under the
// default limit: ConstantOfShape of a constant [500000000] is refused
// before ONNX Runtime sees it, rather than folded for 31 s into 4 GB.
func TestRuntimeRefusesTheConstantShapeBomb(t *testing.T) {
	f := runtimeFormat(t)
	b := sizedModels()[0].build(500_000_000)
	start := time.Now()
	_, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: "onnx", Bytes: b})
	if !errors.Is(err, serving.ErrUnsupportedModel) {
		t.Fatalf("%d bytes: load = %v (after %v), want serving.ErrUnsupportedModel", len(b), err, time.Since(start))
	}
}
