package tensorflow_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/tensorflow"
	"github.com/modelstream/modelstream/serving/formats/tensorflow/internal/tfpb"
)

// wantLoadError asserts that err is a *serving.ModelError wrapping kind,
// and that its text mentions each of words.
func wantLoadError(t *testing.T, err error, kind error, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("loaded, want an error wrapping %v", kind)
	}
	var le *serving.ModelError
	if !errors.As(err, &le) {
		t.Fatalf("error %T is not a *serving.ModelError: %v", err, err)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error does not wrap %v: %v", kind, err)
	}
	var fe *serving.FormatError
	if (kind == serving.ErrCorruptModel || kind == serving.ErrUnsupportedModel) && !errors.As(err, &fe) {
		t.Fatalf("error has no *serving.FormatError: %v", err)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("error does not mention %q: %v", w, err)
		}
	}
}

// typed reports whether err is one of the errors Load documents.
func typed(err error) bool {
	return errors.Is(err, serving.ErrCorruptModel) || errors.Is(err, serving.ErrUnsupportedModel) || errors.Is(err, serving.ErrInvalidDescriptor)
}

func smallMLP(t testing.TB) []byte {
	rng := rand.New(rand.NewPCG(1, 1))
	return newMLP(rng, f32, 4, 3, 2).graph(f32).bytes(t)
}

// TestCorruptBytes cuts a valid graph at every byte and replaces it with
// random bytes. Bytes that do not decode fail with ErrCorruptModel; a
// cut at a node boundary is a smaller valid GraphDef, which must either
// load and score or fail with a documented error. Nothing may panic.
func TestCorruptBytes(t *testing.T) {
	b := smallMLP(t)
	corrupt := 0
	for n := range len(b) {
		m, err := load(b[:n], nil)
		if err != nil {
			if !typed(err) {
				t.Fatalf("cut at %d: untyped error %v", n, err)
			}
			if errors.Is(err, serving.ErrCorruptModel) {
				corrupt++
			}
			continue
		}
		if _, err := m.Predict(context.Background(), make([]float64, m.Describe().Features)); err != nil {
			t.Fatalf("cut at %d: loaded but Predict: %v", n, err)
		}
	}
	if corrupt < len(b)/2 {
		t.Fatalf("only %d of %d cuts were refused as corrupt", corrupt, len(b))
	}
	rng := rand.New(rand.NewPCG(2, 2))
	for _, n := range []int{1, 16, 512, 4096} {
		r := make([]byte, n)
		for i := range r {
			r[i] = byte(rng.UintN(256))
		}
		if _, err := load(r, nil); !typed(err) {
			t.Fatalf("%d random bytes: %v", n, err)
		}
	}
	_, err := load([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}, nil) // a node of 4 GiB declared
	wantLoadError(t, err, serving.ErrCorruptModel, "not a GraphDef")
}

// TestHostileGraphs loads graphs that are well-formed protobuf but
// wrong, unsupported or built to exhaust memory.
func TestHostileGraphs(t *testing.T) {
	p := func(g *gb) *gb { g.placeholder("x", f32, -1, 4); return g }
	cases := []struct {
		name   string
		build  func() *gb
		labels map[string]string
		kind   error
		words  []string
	}{
		{"cycle", func() *gb {
			g := p(&gb{})
			g.op("a", "AddV2", attrs{"T": aType(f32)}, "x", "b")
			g.op("b", "Relu", attrs{"T": aType(f32)}, "a")
			g.op("out", "Relu", attrs{"T": aType(f32)}, "b")
			return g
		}, nil, serving.ErrCorruptModel, []string{"cycle"}},
		{"self loop", func() *gb {
			g := p(&gb{})
			g.op("a", "AddV2", attrs{"T": aType(f32)}, "x", "a")
			return g
		}, map[string]string{"tensorflow.output": "a"}, serving.ErrCorruptModel, []string{"cycle"}},
		{"unsupported op", func() *gb {
			g := p(&gb{})
			g.op("lrn", "LRN", attrs{"T": aType(f32)}, "x")
			return g
		}, nil, serving.ErrUnsupportedModel, []string{"LRN", `"lrn"`}},
		{"missing input", func() *gb {
			g := p(&gb{})
			g.op("r", "Relu", attrs{"T": aType(f32)}, "nowhere")
			return g
		}, nil, serving.ErrCorruptModel, []string{"nowhere"}},
		{"duplicate name", func() *gb {
			g := p(&gb{})
			g.op("x", "Relu", attrs{"T": aType(f32)}, "x")
			return g
		}, nil, serving.ErrCorruptModel, []string{"two nodes"}},
		{"second output", func() *gb {
			g := p(&gb{})
			g.op("r", "Relu", attrs{"T": aType(f32)}, "x:1")
			return g
		}, nil, serving.ErrUnsupportedModel, []string{"x:1"}},
		{"matmul shapes", func() *gb {
			g := p(&gb{})
			w := g.constF32("w", make([]float64, 15), 5, 3)
			g.op("mm", "MatMul", attrs{"T": aType(f32)}, "x", w)
			return g
		}, nil, serving.ErrCorruptModel, []string{"mm", "[1 4]", "[5 3]"}},
		{"reshape shapes", func() *gb {
			g := p(&gb{})
			g.op("r", "Reshape", attrs{"T": aType(f32)}, "x", g.constI32("s", false, 3, -1))
			return g
		}, nil, serving.ErrCorruptModel, []string{"reshape"}},
		{"reshape from input", func() *gb {
			g := p(&gb{})
			s := g.op("s", "Cast", attrs{"SrcT": aType(f32), "DstT": aType(i32)}, "x")
			g.op("r", "Reshape", attrs{"T": aType(f32)}, "x", s)
			return g
		}, nil, serving.ErrUnsupportedModel, []string{"must be a constant"}},
		{"broadcast shapes", func() *gb {
			g := p(&gb{})
			g.op("a", "Add", attrs{"T": aType(f32)}, "x", g.constF32("c", make([]float64, 3), 3))
			return g
		}, nil, serving.ErrCorruptModel, []string{"broadcast"}},
		{"mixed types", func() *gb {
			g := p(&gb{})
			g.op("a", "Add", attrs{"T": aType(f32)}, "x", g.constF64("c", make([]float64, 4), 4))
			return g
		}, nil, serving.ErrCorruptModel, []string{"float32", "float64"}},
		{"nchw_vect_c", func() *gb {
			g := &gb{}
			x := g.placeholder("x", f32, -1, 3, 4, 4)
			g.op("c", "Conv2D", attrs{"T": aType(f32), "data_format": aStr("NCHW_VECT_C"), "padding": aStr("SAME"), "strides": aInts(1, 1, 1, 1)}, x, g.constF32("k", make([]float64, 9), 1, 1, 3, 3))
			return g
		}, nil, serving.ErrUnsupportedModel, []string{"NCHW_VECT_C"}},
		{"nchw channel stride", func() *gb {
			g := &gb{}
			x := g.placeholder("x", f32, -1, 3, 4, 4)
			g.op("c", "Conv2D", attrs{"T": aType(f32), "data_format": aStr("NCHW"), "padding": aStr("SAME"), "strides": aInts(1, 2, 1, 1)}, x, g.constF32("k", make([]float64, 9), 1, 1, 3, 3))
			return g
		}, nil, serving.ErrUnsupportedModel, []string{"strides"}},
		{"explicit padding", func() *gb {
			g := &gb{}
			x := g.placeholder("x", f32, -1, 4, 4, 1)
			g.op("c", "Conv2D", attrs{"T": aType(f32), "padding": aStr("EXPLICIT"), "strides": aInts(1, 1, 1, 1)}, x, g.constF32("k", make([]float64, 1), 1, 1, 1, 1))
			return g
		}, nil, serving.ErrUnsupportedModel, []string{"EXPLICIT"}},
		{"placeholder of unknown rank", func() *gb {
			g := &gb{}
			g.op("x", "Placeholder", attrs{"dtype": aType(f32), "shape": {Value: &tfpb.AttrValue_Shape{Shape: &tfpb.TensorShapeProto{UnknownRank: true}}}})
			g.op("r", "Relu", attrs{"T": aType(f32)}, "x")
			return g
		}, nil, serving.ErrUnsupportedModel, []string{"unknown shape"}},
		{"placeholder without shape", func() *gb {
			g := &gb{}
			g.op("x", "Placeholder", attrs{"dtype": aType(f32)})
			g.op("r", "Relu", attrs{"T": aType(f32)}, "x")
			return g
		}, nil, serving.ErrUnsupportedModel, []string{"unknown shape"}},
		{"placeholder with unknown inner dimension", func() *gb {
			g := &gb{}
			g.placeholder("x", f32, -1, -1)
			g.op("r", "Relu", attrs{"T": aType(f32)}, "x")
			return g
		}, nil, serving.ErrUnsupportedModel, []string{"dimension 1 is unknown"}},
		{"integer placeholder", func() *gb {
			g := &gb{}
			g.placeholder("ids", i64, -1, 3)
			g.op("c", "Cast", attrs{"SrcT": aType(i64), "DstT": aType(f32)}, "ids")
			return g
		}, nil, serving.ErrUnsupportedModel, []string{"DT_INT64"}},
		{"huge placeholder", func() *gb {
			g := &gb{}
			g.placeholder("x", f32, -1, 1<<20, 1<<20)
			g.op("r", "Relu", attrs{"T": aType(f32)}, "x")
			return g
		}, nil, serving.ErrTooLarge, []string{"MaxElements"}},
		{"huge constant from one value", func() *gb {
			g := p(&gb{})
			c := g.constTensor("c", &tfpb.TensorProto{Dtype: f32, TensorShape: shapeProto([]int64{1 << 30, 1 << 30, 4}), FloatVal: []float32{1}})
			g.op("a", "Add", attrs{"T": aType(f32)}, "x", c)
			return g
		}, nil, serving.ErrTooLarge, []string{"MaxElements"}},
		{"huge broadcast", func() *gb {
			g := &gb{}
			a := g.placeholder("x", f32, -1, 1<<14, 1)
			b := g.constTensor("c", &tfpb.TensorProto{Dtype: f32, TensorShape: shapeProto([]int64{1, 1 << 14}), FloatVal: []float32{1}})
			g.op("a", "Mul", attrs{"T": aType(f32)}, a, b)
			return g
		}, nil, serving.ErrTooLarge, nil},
		{"tensor_content too short", func() *gb {
			g := p(&gb{})
			c := g.constTensor("c", &tfpb.TensorProto{Dtype: f32, TensorShape: shapeProto([]int64{4}), TensorContent: make([]byte, 15)})
			g.op("a", "Add", attrs{"T": aType(f32)}, "x", c)
			return g
		}, nil, serving.ErrCorruptModel, []string{"tensor_content"}},
		{"too many values", func() *gb {
			g := p(&gb{})
			c := g.constTensor("c", &tfpb.TensorProto{Dtype: f32, TensorShape: shapeProto([]int64{2}), FloatVal: []float32{1, 2, 3}})
			g.op("a", "Add", attrs{"T": aType(f32)}, "x", c)
			return g
		}, nil, serving.ErrCorruptModel, []string{"3 values for 2"}},
		{"string constant", func() *gb {
			g := p(&gb{})
			c := g.constTensor("c", &tfpb.TensorProto{Dtype: tfpb.DataType_DT_STRING, StringVal: [][]byte{[]byte("a")}})
			g.op("a", "Add", attrs{"T": aType(f32)}, "x", c)
			return g
		}, nil, serving.ErrUnsupportedModel, []string{"DT_STRING"}},
		{"negative dimension", func() *gb {
			g := p(&gb{})
			c := g.constTensor("c", &tfpb.TensorProto{Dtype: f32, TensorShape: shapeProto([]int64{-4})})
			g.op("a", "Add", attrs{"T": aType(f32)}, "x", c)
			return g
		}, nil, serving.ErrCorruptModel, []string{"-4"}},
		{"two sinks", func() *gb {
			g := p(&gb{})
			g.op("a", "Relu", attrs{"T": aType(f32)}, "x")
			g.op("b", "Tanh", attrs{"T": aType(f32)}, "x")
			return g
		}, nil, serving.ErrInvalidDescriptor, []string{`"a"`, `"b"`, "tensorflow.output"}},
		{"unknown output label", func() *gb {
			g := p(&gb{})
			g.op("a", "Relu", attrs{"T": aType(f32)}, "x")
			return g
		}, map[string]string{"tensorflow.output": "b"}, serving.ErrInvalidDescriptor, []string{"tensorflow.output"}},
		{"inputs label count", func() *gb {
			g := p(&gb{})
			g.op("a", "Relu", attrs{"T": aType(f32)}, "x")
			return g
		}, map[string]string{"tensorflow.inputs": "a,b,c"}, serving.ErrInvalidDescriptor, []string{"3 inputs", "4"}},
		{"inputs label repeated", func() *gb {
			g := p(&gb{})
			g.op("a", "Relu", attrs{"T": aType(f32)}, "x")
			return g
		}, map[string]string{"tensorflow.inputs": "a,b,a,c"}, serving.ErrInvalidDescriptor, []string{"repeated"}},
		{"classes label count", func() *gb {
			g := p(&gb{})
			g.op("a", "Softmax", attrs{"T": aType(f32)}, "x")
			return g
		}, map[string]string{"tensorflow.classes": "a,b"}, serving.ErrInvalidDescriptor, []string{"2 classes"}},
		{"squeeze non-unit", func() *gb {
			g := p(&gb{})
			g.op("s", "Squeeze", attrs{"T": aType(f32), "squeeze_dims": aInts(1)}, "x")
			return g
		}, nil, serving.ErrCorruptModel, []string{"squeeze"}},
		{"axis out of range", func() *gb {
			g := p(&gb{})
			g.op("m", "Mean", attrs{"T": aType(f32)}, "x", g.constI32("ax", true, 2))
			return g
		}, nil, serving.ErrCorruptModel, []string{"axis 2"}},
		{"window larger than input", func() *gb {
			g := &gb{}
			x := g.placeholder("x", f32, -1, 2, 2, 1)
			g.op("p", "MaxPool", attrs{"T": aType(f32), "padding": aStr("VALID"), "ksize": aInts(1, 3, 3, 1), "strides": aInts(1, 1, 1, 1)}, x)
			return g
		}, nil, serving.ErrCorruptModel, []string{"window"}},
		{"pool over channels", func() *gb {
			g := &gb{}
			x := g.placeholder("x", f32, -1, 2, 2, 2)
			g.op("p", "MaxPool", attrs{"T": aType(f32), "padding": aStr("VALID"), "ksize": aInts(1, 1, 1, 2), "strides": aInts(1, 1, 1, 1)}, x)
			return g
		}, nil, serving.ErrUnsupportedModel, []string{"ksize"}},
		{"rank too high", func() *gb {
			g := &gb{}
			g.placeholder("x", f32, 1, 1, 1, 1, 1, 1, 1, 1, 1)
			g.op("r", "Relu", attrs{"T": aType(f32)}, "x")
			return g
		}, nil, serving.ErrUnsupportedModel, []string{"rank 9"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(tc.build().bytes(t), tc.labels)
			wantLoadError(t, err, tc.kind, tc.words...)
		})
	}
}

// TestDeepGraph compiles a chain of 50,000 nodes: the walk uses no
// recursion. MaxNodes refuses it.
func TestDeepGraph(t *testing.T) {
	g := &gb{}
	x := g.placeholder("x", f32, -1, 2)
	for i := range 50000 {
		x = g.op(fmt.Sprintf("n%d", i), "Identity", attrs{"T": aType(f32)}, x)
	}
	g.op("out", "Relu", attrs{"T": aType(f32)}, x)
	b := g.bytes(t)
	m, err := load(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := outputs(t, m, []float64{-1, 2}); got[0] != 0 || got[1] != 2 {
		t.Fatalf("outputs %v", got)
	}
	f, err := tensorflow.New(tensorflow.MaxNodes(1000))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Load(context.Background(), serving.Descriptor{Bytes: b})
	if !errors.Is(err, serving.ErrCorruptModel) || !strings.Contains(err.Error(), "MaxNodes") {
		t.Fatalf("MaxNodes(1000): %v", err)
	}
}

// TestMaxElements refuses a model whose constants and buffers together
// exceed the bound, though each tensor alone fits.
func TestMaxElements(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	b := newMLP(rng, f32, 30, 64, 64, 1).graph(f32).bytes(t)
	// 30*64 + 64*64 + 64 + 64 + 1 weights, plus the buffers of one call.
	f, err := tensorflow.New(tensorflow.MaxElements(6000))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Load(context.Background(), serving.Descriptor{Bytes: b})
	if !errors.Is(err, serving.ErrTooLarge) || !errors.Is(err, serving.ErrCorruptModel) {
		t.Fatalf("MaxElements(6000): %v", err)
	}
	f, _ = tensorflow.New(tensorflow.MaxElements(7000))
	if _, err := f.Load(context.Background(), serving.Descriptor{Bytes: b}); err != nil {
		t.Fatalf("MaxElements(7000): %v", err)
	}
}

// TestNewValidates: each option out of its range is a configuration
// error naming it. MaxElements stops at 2^31-1: broadcasts and
// reductions index their operands with int32 maps, which a larger tensor
// would overflow into negative indexes (a panic at Predict), and a
// Reshape multiplies dimensions of up to MaxElements each.
func TestNewValidates(t *testing.T) {
	for name, opt := range map[string]tensorflow.Option{
		"MaxElements(0)": tensorflow.MaxElements(0), "MaxElements(2147483648)": tensorflow.MaxElements(1 << 31),
		"MaxOps": tensorflow.MaxOps(0), "MaxNodes": tensorflow.MaxNodes(-1), "BatchRows": tensorflow.BatchRows(0),
	} {
		if _, err := tensorflow.New(opt); !errors.Is(err, serving.ErrConfig) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := tensorflow.New(tensorflow.MaxElements(1<<31 - 1)); err != nil {
		t.Errorf("MaxElements(2^31-1): %v", err)
	}
}

func TestPredictErrors(t *testing.T) {
	m, err := load(smallMLP(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	var fc *serving.FeatureCountError
	if _, err := m.Predict(context.Background(), make([]float64, 3)); !errors.As(err, &fc) || fc.Want != 4 || fc.Got != 3 {
		t.Fatalf("3 features: %v", err)
	}
	rows := [][]float64{make([]float64, 4), make([]float64, 5)}
	if err := m.PredictBatch(context.Background(), rows, make([]serving.Prediction, 2)); !errors.As(err, &fc) {
		t.Fatalf("batch with a row of 5: %v", err)
	}
	if err := m.PredictBatch(context.Background(), rows[:1], make([]serving.Prediction, 2)); !errors.Is(err, serving.ErrConfig) {
		t.Fatalf("batch with 1 row, 2 outputs: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Predict(ctx, make([]float64, 4)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	many := make([][]float64, 100)
	for i := range many {
		many[i] = make([]float64, 4)
	}
	if err := m.PredictBatch(ctx, many, make([]serving.Prediction, len(many))); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled batch: %v", err)
	}
}

// TestBadVersionKeepsServing activates a good graph, then offers a
// corrupt one and an unsupported one: both are refused and the good one
// keeps answering.
func TestBadVersionKeepsServing(t *testing.T) {
	ctx := context.Background()
	srv, err := serving.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	good := smallMLP(t)
	if _, err := srv.Activate(ctx, serving.Descriptor{Name: "m", Version: 1, Format: tensorflow.FormatName, Bytes: good}); err != nil {
		t.Fatal(err)
	}
	g := &gb{}
	g.placeholder("x", f32, -1, 4)
	g.op("lrn", "LRN", attrs{"T": aType(f32)}, "x")
	for v, bad := range [][]byte{good[:len(good)/3], g.bytes(t)} {
		_, err := srv.Activate(ctx, serving.Descriptor{Name: "m", Version: uint64(v + 2), Format: tensorflow.FormatName, Bytes: bad})
		if !errors.Is(err, serving.ErrCorruptModel) && !errors.Is(err, serving.ErrUnsupportedModel) {
			t.Fatalf("version %d: %v", v+2, err)
		}
	}
	res, err := srv.Model("m").Score(ctx, serving.Record{Features: []float64{1, 2, 3, 4}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Provenance.Model.Version != 1 {
		t.Fatalf("scored by version %d", res.Provenance.Model.Version)
	}
}

// TestHostileAllocations checks that refusing an over-large broadcast
// allocates little: the output shape is checked against MaxElements
// before the broadcast's index maps are built (they took 1 GiB here).
func TestHostileAllocations(t *testing.T) {
	g := &gb{}
	a := g.placeholder("x", f32, -1, 1<<14, 1)
	b := g.constTensor("c", &tfpb.TensorProto{Dtype: f32, TensorShape: shapeProto([]int64{1, 1 << 14}), FloatVal: []float32{1}})
	g.op("a", "Mul", attrs{"T": aType(f32)}, a, b)
	bytes := g.bytes(t)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := load(bytes, nil)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, serving.ErrTooLarge) {
		t.Fatalf("load: %v", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
		t.Fatalf("refusing the graph allocated %d MiB", got>>20)
	}
}

// TestMaxOps refuses a convolution whose arithmetic, not its tensors, is
// too large: a 256x256 image of 64 channels through a 9x9 filter of 64
// outputs holds 4 Mi elements per tensor but costs 21 Gi multiply-adds
// per call; the same op on constants would stall the load.
func TestMaxOps(t *testing.T) {
	for _, folded := range []bool{false, true} {
		g := &gb{}
		var x string
		if folded {
			x = g.constTensor("x", &tfpb.TensorProto{Dtype: f32, TensorShape: shapeProto([]int64{1, 256, 256, 64}), FloatVal: []float32{1}})
		} else {
			x = g.placeholder("x", f32, -1, 256, 256, 64)
		}
		k := g.constTensor("k", &tfpb.TensorProto{Dtype: f32, TensorShape: shapeProto([]int64{9, 9, 64, 64}), FloatVal: []float32{1}})
		g.op("c", "Conv2D", attrs{"T": aType(f32), "padding": aStr("SAME"), "strides": aInts(1, 1, 1, 1)}, x, k)
		_, err := load(g.bytes(t), nil)
		wantLoadError(t, err, serving.ErrTooLarge, "MaxOps")
	}
}

// TestNamedRecords serves a graph through a Server with its inputs
// named by label: a record carrying the fields in another order, with an
// extra field, scores as the positional vector would; one missing a
// field gets a *serving.FieldError naming it.
func TestNamedRecords(t *testing.T) {
	ctx := context.Background()
	srv, err := serving.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	b := smallMLP(t)
	if _, err := srv.Activate(ctx, serving.Descriptor{Name: "m", Version: 1, Format: tensorflow.FormatName, Bytes: b,
		Labels: map[string]string{"tensorflow.inputs": "a, b, c, d"}}); err != nil {
		t.Fatal(err)
	}
	m, err := load(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := outputs(t, m, []float64{1, 2, 3, 4})
	layout, err := serving.NewLayout("d", "extra", "b", "a", "c")
	if err != nil {
		t.Fatal(err)
	}
	res, err := srv.Model("m").Score(ctx, serving.Record{Layout: layout, Features: []float64{4, 99, 2, 1, 3}})
	if err != nil {
		t.Fatal(err)
	}
	checkNear(t, "named", res.Prediction.Outputs(), want, 0)
	short, _ := serving.NewLayout("a", "b", "c")
	_, err = srv.Model("m").Score(ctx, serving.Record{Layout: short, Features: []float64{1, 2, 3}})
	var fe *serving.FieldError
	if !errors.As(err, &fe) || fe.Field != "d" || !errors.Is(err, serving.ErrMissingField) {
		t.Fatalf("record without d: %v", err)
	}
}

// TestWidePlaceholderIsPositional: a model names each element of its
// placeholders in ModelInfo.Inputs, up to 65,536 features per record;
// past that it is fed by position. An 82-byte graph with a placeholder
// of 2^23 elements per record took 2 GiB and 10 s to load, naming each
// element "x:i" beyond what MaxElements bounds.
func TestWidePlaceholderIsPositional(t *testing.T) {
	for _, tc := range []struct {
		width int64
		named bool
	}{{1 << 16, true}, {1<<16 + 1, false}, {1 << 23, false}} {
		var g gb
		g.op("y", "Identity", nil, g.placeholder("x", tfpb.DataType_DT_FLOAT, -1, tc.width))
		b := g.bytes(t)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m, err := load(b, nil)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatalf("width %d: %v", tc.width, err)
		}
		info := m.Describe()
		if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 {
			t.Errorf("width %d: loading %d bytes allocated %d MiB", tc.width, len(b), got>>20)
		}
		if info.Features != int(tc.width) {
			t.Errorf("width %d: %d features", tc.width, info.Features)
		}
		switch {
		case tc.named && (len(info.Inputs) != int(tc.width) || info.Inputs[tc.width-1].Name != fmt.Sprintf("x:%d", tc.width-1)):
			t.Errorf("width %d: %d inputs named, want x:0..x:%d", tc.width, len(info.Inputs), tc.width-1)
		case !tc.named && info.Inputs != nil:
			t.Errorf("width %d: %d inputs named, want none (fed by position)", tc.width, len(info.Inputs))
		}
	}
}
