package onnx_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/onnx"
)

// opsetModel encodes a ModelProto importing opset 18 of the default
// domain, 3 of ai.onnx.ml and 1 of "local" (the domain of the local
// functions given), with the graph's parts in onnx.proto's order.
func opsetModel(nodes, inits, inputs, outputs [][]byte, functions ...[]byte) []byte {
	var gb pb
	for _, n := range nodes {
		gb = gb.bytes(1, n)
	}
	gb = gb.str(2, "g")
	for _, t := range inits {
		gb = gb.bytes(5, t)
	}
	for _, v := range inputs {
		gb = gb.bytes(11, v)
	}
	for _, v := range outputs {
		gb = gb.bytes(12, v)
	}
	var m pb
	m = m.varint(1, 8)
	m = m.bytes(8, pb(nil).str(1, "").varint(2, 18))
	m = m.bytes(8, pb(nil).str(1, "ai.onnx.ml").varint(2, 3))
	m = m.bytes(8, pb(nil).str(1, "local").varint(2, 1))
	m = m.bytes(7, gb)
	for _, f := range functions {
		m = m.bytes(25, f)
	}
	return m
}

// boolInitializer is a bool scalar TensorProto.
func boolInitializer(name string, v bool) []byte {
	raw := []byte{0}
	if v {
		raw[0] = 1
	}
	return pb(nil).varint(2, 9).str(8, name).bytes(9, raw)
}

// inIf puts n, which makes the value "inner", in the then branch of an
// If on the initializer "cond" (see withCond); the else branch passes x
// on. The If makes y; both branches declare their output of elem type
// and dims.
func inIf(n []byte, elem int, dims ...any) []byte {
	then := graphOf("then", [][]byte{n}, [][]byte{valueInfo("inner", elem, dims...)})
	els := graphOf("else", [][]byte{node("Identity", []string{"x"}, []string{"x_else"})}, [][]byte{valueInfo("x_else", elem, dims...)})
	return node("If", []string{"cond"}, []string{"y"}, attrGraph("then_branch", then), attrGraph("else_branch", els))
}

// TestRuntimeRefusesNonPositiveStridesAndGroups: ONNX Runtime divides by
// the strides of a pool or a convolution, by the group of ConvTranspose
// and by the num_groups of GroupNormalization, without checking them; a
// 0 there killed the process with SIGFPE at the load-time run. Such a node, which ONNX forbids, is
// refused at load as corrupt, also inside a subgraph; the same nodes
// with strides and group of 1 load.
func TestRuntimeRefusesNonPositiveStridesAndGroups(t *testing.T) {
	f := runtimeFormat(t)
	inits := [][]byte{initializer("w", []int{4, 4, 1, 1}, make([]float32, 16)), boolInitializer("cond", true),
		initializer("scale", []int{4}, []float32{1, 1, 1, 1}), initializer("bias", []int{4}, []float32{0, 0, 0, 0})}
	img := valueInfo("x", elemFloat, 1, 4, 4, 4)
	cases := []struct {
		name string
		node func(v int64, out string) []byte
	}{
		{"MaxPool strides", func(v int64, out string) []byte {
			return node("MaxPool", []string{"x"}, []string{out}, attrInts("kernel_shape", 1, 1), attrInts("strides", v, v))
		}},
		{"AveragePool strides", func(v int64, out string) []byte {
			return node("AveragePool", []string{"x"}, []string{out}, attrInts("kernel_shape", 1, 1), attrInts("strides", v, v))
		}},
		{"Conv strides", func(v int64, out string) []byte {
			return node("Conv", []string{"x", "w"}, []string{out}, attrInts("strides", v, v))
		}},
		{"ConvTranspose strides", func(v int64, out string) []byte {
			return node("ConvTranspose", []string{"x", "w"}, []string{out}, attrInts("strides", v, v))
		}},
		{"ConvTranspose group", func(v int64, out string) []byte {
			return node("ConvTranspose", []string{"x", "w"}, []string{out}, attrInt("group", v))
		}},
		{"GroupNormalization num_groups", func(v int64, out string) []byte {
			return node("GroupNormalization", []string{"x", "scale", "bias"}, []string{out}, attrInt("num_groups", v))
		}},
	}
	for _, c := range cases {
		for _, nested := range []bool{false, true} {
			name := c.name
			if nested {
				name += " in an If"
			}
			t.Run(name, func(t *testing.T) {
				load := func(v int64) error {
					n := c.node(v, "y")
					if nested {
						n = inIf(c.node(v, "inner"), elemFloat, 1, 4, 4, 4)
					}
					b := opsetModel([][]byte{n}, inits, [][]byte{img}, [][]byte{valueInfo("y", elemFloat, 1, 4, 4, 4)})
					m, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: "onnx", Bytes: b})
					if err == nil {
						m.(serving.Closer).Close()
					}
					return err
				}
				if err := load(1); err != nil {
					t.Fatalf("with 1: %v", err)
				}
				if err := load(0); !errors.Is(err, serving.ErrCorruptModel) {
					t.Fatalf("with 0: err = %v, want serving.ErrCorruptModel", err)
				}
			})
		}
	}
}

// linearClassifier is an ai.onnx.ml LinearClassifier of 3 classes over
// the 2 features of in, writing its scores to out; with intercepts false
// it has none, on which ONNX Runtime crashes.
func linearClassifier(in, out string, intercepts bool) []byte {
	attrs := [][]byte{attrFloats("coefficients", 1, 2, 3, 4, 5, 6), attrInts("classlabels_ints", 0, 1, 2)}
	if intercepts {
		attrs = append(attrs, attrFloats("intercepts", 0, 0, 0))
	}
	return pb(node("LinearClassifier", []string{in}, []string{out + "_label", out}, attrs...)).str(7, "ai.onnx.ml")
}

// TestRuntimeChecksMLNodesEverywhere: the ai.onnx.ml nodes ONNX Runtime
// takes on trust are checked in the branches of an If and in local
// functions as in the graph itself: a LinearClassifier without
// intercepts in either crashed the process (SIGSEGV) while its session
// was created. With intercepts, both models load and score.
func TestRuntimeChecksMLNodesEverywhere(t *testing.T) {
	f := runtimeFormat(t)
	x := valueInfo("x", elemFloat, 1, 2)
	y := valueInfo("y", elemFloat, 1, 3)
	models := map[string]func(ok bool) []byte{
		"If": func(ok bool) []byte {
			branch := func(name string) []byte {
				return graphOf(name, [][]byte{linearClassifier("x", name+"_s", ok)}, [][]byte{valueInfo(name+"_s", elemFloat, 1, 3)})
			}
			n := node("If", []string{"cond"}, []string{"y"}, attrGraph("then_branch", branch("then")), attrGraph("else_branch", branch("else")))
			return opsetModel([][]byte{n}, [][]byte{boolInitializer("cond", true)}, [][]byte{x}, [][]byte{y})
		},
		"local function": func(ok bool) []byte {
			fn := pb(nil).str(1, "F").str(4, "a").str(5, "b").bytes(7, linearClassifier("a", "b", ok)).
				bytes(9, pb(nil).str(1, "ai.onnx.ml").varint(2, 3)).str(10, "local")
			n := pb(node("F", []string{"x"}, []string{"y"})).str(7, "local")
			return opsetModel([][]byte{n}, nil, [][]byte{x}, [][]byte{y}, fn)
		},
	}
	for name, build := range models {
		t.Run(name, func(t *testing.T) {
			m := loadRuntime(t, f, build(true))
			p, err := m.Predict(context.Background(), []float64{1, 1})
			if err != nil || len(p.Values) != 3 || p.Values[0] != 3 || p.Values[2] != 11 {
				t.Fatalf("with intercepts: %+v, %v; want scores [3 7 11]", p, err)
			}
			_, err = f.Load(context.Background(), serving.Descriptor{Name: "m", Format: "onnx", Bytes: build(false)})
			if !errors.Is(err, serving.ErrCorruptModel) {
				t.Fatalf("without intercepts: err = %v, want serving.ErrCorruptModel", err)
			}
		})
	}
}

// TestRuntimeRefusesOpsOfOtherDomains: ONNX Runtime also runs ops of its
// own domains (com.microsoft and others), whose attributes this package
// does not check: a com.microsoft FusedConv with strides of 0 killed the
// process (SIGFPE). A node of a domain other than ai.onnx and ai.onnx.ml
// is refused at load, in the graph or in a subgraph, and so is a local
// function that takes the domain and name of such an op; a local
// function of a domain of the model's own loads (TestRuntimeChecksMLNodesEverywhere).
func TestRuntimeRefusesOpsOfOtherDomains(t *testing.T) {
	f := runtimeFormat(t)
	inits := [][]byte{initializer("w", []int{4, 4, 1, 1}, make([]float32, 16)), boolInitializer("cond", true)}
	img := valueInfo("x", elemFloat, 1, 4, 4, 4)
	y := valueInfo("y", elemFloat, 1, 4, 4, 4)
	fusedConv := func(out string, stride int64) []byte {
		relu := pb(nil).str(1, "activation").bytes(4, []byte("Relu")).varint(20, 3)
		return pb(node("FusedConv", []string{"x", "w"}, []string{out}, relu, attrInts("strides", stride, stride))).str(7, "com.microsoft")
	}
	identity := pb(nil).str(1, "FusedConv").str(4, "a").str(4, "b").str(5, "c").
		bytes(7, node("Identity", []string{"a"}, []string{"c"})).bytes(9, pb(nil).str(1, "").varint(2, 17)).str(10, "com.microsoft")
	models := map[string][]byte{
		"FusedConv":                    opsetModel([][]byte{fusedConv("y", 1)}, inits, [][]byte{img}, [][]byte{y}),
		"FusedConv with strides 0":     opsetModel([][]byte{fusedConv("y", 0)}, inits, [][]byte{img}, [][]byte{y}),
		"FusedConv in an If":           opsetModel([][]byte{inIf(fusedConv("inner", 0), elemFloat, 1, 4, 4, 4)}, inits, [][]byte{img}, [][]byte{y}),
		"local function com.microsoft": opsetModel([][]byte{fusedConv("y", 0)}, inits, [][]byte{img}, [][]byte{y}, identity),
	}
	for name, b := range models {
		t.Run(name, func(t *testing.T) {
			_, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: "onnx", Bytes: b})
			if !errors.Is(err, serving.ErrUnsupportedModel) {
				t.Fatalf("err = %v, want serving.ErrUnsupportedModel", err)
			}
		})
	}
}

// TestRuntimeRefusesCol2ImBlocksBelowOne: ONNX Runtime divides by the
// block_shape of Col2Im unchecked: a constant [0 0] killed the process
// with SIGFPE when the session was created. A block_shape that is not a
// constant of elements at least 1 is refused at load; [2 2] loads and
// folds its columns as ONNX says.
func TestRuntimeRefusesCol2ImBlocksBelowOne(t *testing.T) {
	f := runtimeFormat(t)
	col2im := func(block ...int64) []byte {
		return opsetModel([][]byte{node("Col2Im", []string{"x", "image", "block"}, []string{"y"})},
			[][]byte{int64Initializer("image", []int{2}, []int64{3, 3}), int64Initializer("block", []int{2}, block)},
			[][]byte{valueInfo("x", elemFloat, 1, 4, 4)}, [][]byte{valueInfo("y", elemFloat, 1, 1, 3, 3)})
	}
	m := loadRuntime(t, f, col2im(2, 2))
	x := make([]float64, 16)
	for i := range x {
		x[i] = 1
	}
	p, err := m.Predict(context.Background(), x)
	if want := []float64{1, 2, 1, 2, 4, 2, 1, 2, 1}; err != nil || !slices.Equal(p.Values, want) {
		t.Fatalf("block [2 2]: %+v, %v; want %v", p, err, want)
	}
	for _, block := range [][]int64{{0, 0}, {2, 0}, {-2, -2}} {
		_, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: "onnx", Bytes: col2im(block...)})
		if !errors.Is(err, serving.ErrUnsupportedModel) {
			t.Errorf("block %v: err = %v, want serving.ErrUnsupportedModel", block, err)
		}
	}
}

// TestRuntimeRefusesMaxUnpool: ONNX Runtime aborts the process when an
// index of MaxUnpool falls outside its output; a record holding the
// index 100 for a 3x3 output killed it (SIGABRT). A MaxUnpool is refused
// at load, whether its indices are the record's or constants.
func TestRuntimeRefusesMaxUnpool(t *testing.T) {
	f := runtimeFormat(t)
	unpool := node("MaxUnpool", []string{"x", "i"}, []string{"y"}, attrInts("kernel_shape", 2, 2))
	x := valueInfo("x", elemFloat, 1, 1, 2, 2)
	y := valueInfo("y", elemFloat, 1, 1, 3, 3)
	models := map[string][]byte{
		"indices of the record": opsetModel([][]byte{unpool}, nil, [][]byte{x, valueInfo("i", elemInt64, 1, 1, 2, 2)}, [][]byte{y}),
		"constant indices":      opsetModel([][]byte{unpool}, [][]byte{int64Initializer("i", []int{1, 1, 2, 2}, []int64{0, 1, 2, 3})}, [][]byte{x}, [][]byte{y}),
	}
	for name, b := range models {
		_, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: "onnx", Bytes: b})
		if !errors.Is(err, serving.ErrUnsupportedModel) {
			t.Errorf("%s: err = %v, want serving.ErrUnsupportedModel", name, err)
		}
	}
}

// TestRuntimeRefusesHugeSparseTensors: ONNX Runtime makes a sparse
// initializer, or the sparse value of a Constant, dense when it creates
// the session, outside the MaxMemory arena: one of 2^28 floats holding a
// single 1 took 2.1 GB and 7.5 s to load. One whose dense shape holds
// more than MaxTensorElements is refused at load; one within it loads.
func TestRuntimeRefusesHugeSparseTensors(t *testing.T) {
	f := runtimeFormat(t, onnx.MaxTensorElements(1<<20))
	sparse := func(name string, n int64) []byte {
		vals := pb(nil).varint(1, 1).varint(2, elemFloat).bytes(4, []byte{0, 0, 128, 63}).str(8, name)
		idx := pb(nil).varint(1, 1).varint(2, elemInt64).bytes(7, []byte{0}).str(8, name+"_indices")
		return pb(nil).bytes(1, vals).bytes(2, idx).varint(3, uint64(n))
	}
	sum := [][]byte{
		node("ReduceSum", []string{"c"}, []string{"s"}, attrInt("keepdims", 0)),
		node("Add", []string{"x", "s"}, []string{"y"}),
	}
	x, y := valueInfo("x", elemFloat, 1), valueInfo("y", elemFloat, 1)
	initializer := func(n int64) []byte {
		return model(13, graphSpec{nodes: sum, sparseInits: [][]byte{sparse("c", n)}, inputs: [][]byte{x}, outputs: [][]byte{y}})
	}
	constant := func(n int64) []byte {
		c := node("Constant", nil, []string{"c"}, pb(nil).str(1, "sparse_value").bytes(22, sparse("v", n)).varint(20, 11))
		return model(13, graphSpec{nodes: append([][]byte{c}, sum...), inputs: [][]byte{x}, outputs: [][]byte{y}})
	}
	for name, build := range map[string]func(int64) []byte{"initializer": initializer, "Constant": constant} {
		t.Run(name, func(t *testing.T) {
			m := loadRuntime(t, f, build(1<<20))
			if p, err := m.Predict(context.Background(), []float64{1}); err != nil || p.Value != 2 {
				t.Fatalf("2^20 elements: %+v, %v; want 2", p, err)
			}
			_, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: "onnx", Bytes: build(1<<20 + 1)})
			if !errors.Is(err, serving.ErrUnsupportedModel) {
				t.Fatalf("2^20+1 elements: err = %v, want serving.ErrUnsupportedModel", err)
			}
		})
	}
}

// TestRuntimeRefusesStridesFromTheCaller: a node of a local function may
// take an attribute from the node that calls the function
// (ref_attr_name). A MaxPool whose strides came from a caller giving
// [0 0] passed the check of its own attributes and killed the process
// with SIGFPE; such a strides is refused whatever the caller gives.
func TestRuntimeRefusesStridesFromTheCaller(t *testing.T) {
	f := runtimeFormat(t)
	strides := pb(nil).str(1, "strides").str(21, "s").varint(20, 7)
	body := node("MaxPool", []string{"a"}, []string{"b"}, attrInts("kernel_shape", 1, 1), strides)
	fn := pb(nil).str(1, "P").str(4, "a").str(5, "b").str(6, "s").bytes(7, body).
		bytes(9, pb(nil).str(1, "").varint(2, 18)).str(10, "local")
	img := valueInfo("x", elemFloat, 1, 4, 4, 4)
	for _, v := range []int64{1, 0} {
		call := pb(node("P", []string{"x"}, []string{"y"}, attrInts("s", v, v))).str(7, "local")
		b := opsetModel([][]byte{call}, nil, [][]byte{img}, [][]byte{valueInfo("y", elemFloat, 1, 4, 4, 4)}, fn)
		_, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: "onnx", Bytes: b})
		if !errors.Is(err, serving.ErrCorruptModel) {
			t.Errorf("strides [%d %d] from the caller: err = %v, want serving.ErrCorruptModel", v, v, err)
		}
	}
}
