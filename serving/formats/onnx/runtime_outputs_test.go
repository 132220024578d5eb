package onnx_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/onnx"
)

// valueInfoNoShape declares a tensor of element type elem and no shape.
func valueInfoNoShape(name string, elem int) []byte {
	typ := pb(nil).bytes(1, pb(nil).varint(1, uint64(elem)))
	return pb(nil).str(1, name).bytes(2, typ)
}

// An output that is a scalar, though its shape is not declared, with an
// output after it: both are read at every run. onnxruntime_go cannot
// turn a scalar it allocated into a Go value, and then never releases
// the outputs after it; the engine reads ONNX Runtime's outputs itself.
func TestRuntimeUndeclaredScalarOutput(t *testing.T) {
	b := model(13, graphSpec{
		nodes: [][]byte{
			node("ReduceSum", []string{"x"}, []string{"s"}, attrInt("keepdims", 0)),
			node("Identity", []string{"x"}, []string{"y"}),
		},
		inputs:  [][]byte{valueInfo("x", elemFloat, 1, 3)},
		outputs: [][]byte{valueInfoNoShape("s", elemFloat), valueInfo("y", elemFloat, 1, 3)},
	})
	m := loadRuntime(t, runtimeFormat(t), b)
	for range 3 {
		p, err := m.Predict(context.Background(), []float64{1, 2, 3})
		if err != nil {
			t.Fatal(err)
		}
		if want := []float64{6, 1, 2, 3}; p.Value != 6 || len(p.Values) != 4 || p.Values[0] != 6 || p.Values[3] != 3 {
			t.Fatalf("Predict = %+v, want Values %v", p, want)
		}
	}
}

// rankFromData is a model whose output r has a rank that depends on the
// input (a Reshape of [5] to a shape of as many ones as the input has
// non-zero values: a scalar for [0 0 0]), beside y = x, declared first
// when rFirst is set and last otherwise.
func rankFromData(rFirst bool) []byte {
	outs := [][]byte{valueInfo("r", elemFloat, 1), valueInfo("y", elemFloat, 3)}
	if !rFirst {
		outs[0], outs[1] = outs[1], outs[0]
	}
	return model(13, graphSpec{
		nodes: [][]byte{
			node("Cast", []string{"x"}, []string{"xb"}, attrInt("to", 9)),
			node("Compress", []string{"ones", "xb"}, []string{"shape"}),
			node("Reshape", []string{"five", "shape"}, []string{"r"}),
			node("Identity", []string{"x"}, []string{"y"}),
		},
		inits:   [][]byte{int64Initializer("ones", []int{3}, []int64{1, 1, 1}), initializer("five", []int{1}, []float32{5})},
		inputs:  [][]byte{valueInfo("x", elemFloat, 3)},
		outputs: outs,
	})
}

// A record that makes r a scalar is scored like the others, whether r
// comes first or last. Before, onnxruntime_go could not read a scalar it
// allocated: such a record failed with ErrBackend, and when y followed r
// the binding never released y, so the model stopped and failed every
// later record.
func TestRuntimeOutputRankFromData(t *testing.T) {
	ctx := context.Background()
	for _, rFirst := range []bool{false, true} {
		m := loadRuntime(t, runtimeFormat(t), rankFromData(rFirst))
		for _, x := range [][]float64{{1, 0, 0}, {0, 0, 0}, {1, 1, 0}} {
			want := append([]float64{5}, x...)
			if !rFirst {
				want = append(slices.Clone(x), 5)
			}
			if p, err := m.Predict(ctx, x); err != nil || !slices.Equal(p.Values, want) {
				t.Errorf("r first %v: Predict(%v) = %+v, %v; want Values %v", rFirst, x, p, err, want)
			}
		}
	}
}

// slowToLoad adds to x, of one float, the sum of a sparse initializer of
// n floats holding one 1, which ONNX Runtime makes dense when it creates
// the session: 2^24 took 0.5 s here, under the default
// MaxTensorElements. (A MatMul of two constant matrices, slow to create
// while ONNX Runtime folded constants, now runs at the load-time run,
// which Load terminates.)
func slowToLoad(n int64) []byte {
	vals := pb(nil).varint(1, 1).varint(2, elemFloat).bytes(4, []byte{0, 0, 128, 63}).str(8, "c")
	idx := pb(nil).varint(1, 1).varint(2, elemInt64).bytes(7, []byte{0}).str(8, "c_indices")
	sparse := pb(nil).bytes(1, vals).bytes(2, idx).varint(3, uint64(n))
	return model(13, graphSpec{
		nodes: [][]byte{
			node("ReduceSum", []string{"c"}, []string{"s"}, attrInt("keepdims", 0)),
			node("Add", []string{"x", "s"}, []string{"y"}),
		},
		sparseInits: [][]byte{sparse},
		inputs:      [][]byte{valueInfo("x", elemFloat, 1)},
		outputs:     [][]byte{valueInfo("y", elemFloat, 1)},
	})
}

// ONNX Runtime cannot stop a session it is creating: Load returns when
// its context ends, and the session is destroyed once its creation is
// over. Before, Load ran the creation to its end and returned the model
// although its context had ended.
func TestRuntimeLoadReturnsWhenContextEnds(t *testing.T) {
	f := runtimeFormat(t)
	base := onnx.LiveSessions()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	m, err := f.Load(ctx, serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: slowToLoad(1 << 24)})
	if !errors.Is(err, context.DeadlineExceeded) {
		if m != nil {
			m.(serving.Closer).Close()
		}
		t.Fatalf("Load = %v, %v; want context.DeadlineExceeded", m, err)
	}
	if n := onnx.LiveSessions(); n != base+1 {
		t.Fatalf("%d sessions being created or alive when Load returned, want %d: the test did not end its context while the session was being created", n, base+1)
	}
	for deadline := time.Now().Add(time.Minute); onnx.LiveSessions() != base; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions alive a minute after Load returned, want %d", onnx.LiveSessions(), base)
		}
	}
	// A context that can end but does not: the model loads, scores, and
	// its session is released by Close.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	m, err = f.Load(ctx, serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: tinyScorer()})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := m.Predict(ctx, []float64{1, 2}); err != nil || math.Abs(p.Value-tinyScorerReference([]float64{1, 2})) > 1e-6 {
		t.Errorf("Predict = %v, %v; want %v", p.Value, err, tinyScorerReference([]float64{1, 2}))
	}
	if n := onnx.LiveSessions(); n != base+1 {
		t.Errorf("%d sessions alive, want %d", n, base+1)
	}
	m.(serving.Closer).Close()
	if n := onnx.LiveSessions(); n != base {
		t.Errorf("%d sessions alive after Close, want %d", n, base)
	}
}

// A stream of models that are slow to create, each Loaded under a short
// deadline (a hostile publisher on the models topic, say), must not pile
// up the creations Load abandons: each runs on after its Load returned,
// holding its own copy of the model and ONNX Runtime's memory. At most
// onnx.MaxCreating sessions are being created at once; a Load that finds
// no room waits for it until its context ends. Before, every abandoned
// creation ran at once: six Loads left six sessions being created.
func TestRuntimeAbandonedCreationsAreBounded(t *testing.T) {
	f := runtimeFormat(t)
	base := onnx.LiveSessions()
	b := slowToLoad(1 << 24)
	most := int64(0)
	for range onnx.MaxCreating + 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		m, err := f.Load(ctx, serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: b})
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			if m != nil {
				m.(serving.Closer).Close()
			}
			t.Fatalf("Load = %v, %v; want context.DeadlineExceeded", m, err)
		}
		most = max(most, onnx.LiveSessions()-base)
	}
	if most > onnx.MaxCreating {
		t.Errorf("%d sessions being created at once after Loads that gave up, want at most %d", most, onnx.MaxCreating)
	}
	for deadline := time.Now().Add(2 * time.Minute); onnx.LiveSessions() != base; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions alive two minutes after the Loads returned, want %d", onnx.LiveSessions(), base)
		}
	}
}

// An output whose size the record's values set, and which the load-time
// run on ones leaves empty (y = the elements of x below 1, as
// NonMaxSuppression's selected boxes or a Slice with bounds from the
// record can be): the model loads, a record that fills y is scored, and
// one that leaves it empty fails alone with ErrBackend while the model
// keeps serving. Before, Load refused the model (`output "y" is empty`),
// as it did 13 models of the ONNX backend suite.
func TestRuntimeOutputEmptyOnOnes(t *testing.T) {
	b := model(13, graphSpec{
		nodes: [][]byte{
			node("Less", []string{"x", "one"}, []string{"below"}),
			node("Compress", []string{"x", "below"}, []string{"y"}),
		},
		inits:   [][]byte{initializer("one", nil, []float32{1})},
		inputs:  [][]byte{valueInfo("x", elemFloat, 3)},
		outputs: [][]byte{valueInfo("y", elemFloat, "k")},
	})
	m := loadRuntime(t, runtimeFormat(t), b)
	ctx := context.Background()
	for _, tc := range []struct{ x, want []float64 }{
		{[]float64{0.5, 2, -1}, []float64{0.5, -1}},
		{[]float64{3, 0.25, 4}, []float64{0.25}},
		{[]float64{1, 2, 3}, nil},
		{[]float64{-2, -3, 0}, []float64{-2, -3, 0}},
	} {
		p, err := m.Predict(ctx, tc.x)
		switch {
		case tc.want == nil:
			if !errors.Is(err, onnx.ErrBackend) {
				t.Errorf("Predict(%v) = %+v, %v; want ErrBackend (y is empty)", tc.x, p, err)
			}
		case err != nil:
			t.Errorf("Predict(%v): %v", tc.x, err)
		case len(tc.want) == 1 && (p.Value != tc.want[0] || p.Values != nil),
			len(tc.want) > 1 && !slices.Equal(p.Values, tc.want):
			t.Errorf("Predict(%v) = %+v, want %v", tc.x, p, tc.want)
		}
	}
}

// The same model with y declared as holding no element whatever the
// record: refused at load, since no record could be scored.
func TestRuntimeOutputDeclaredEmpty(t *testing.T) {
	b := model(13, graphSpec{
		nodes: [][]byte{
			node("Less", []string{"x", "one"}, []string{"below"}),
			node("Compress", []string{"x", "below"}, []string{"y"}),
		},
		inits:   [][]byte{initializer("one", nil, []float32{1})},
		inputs:  [][]byte{valueInfo("x", elemFloat, 3)},
		outputs: [][]byte{valueInfo("y", elemFloat, 0)},
	})
	m, err := runtimeFormat(t).Load(context.Background(), serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: b})
	if !errors.Is(err, serving.ErrUnsupportedModel) {
		if m != nil {
			m.(serving.Closer).Close()
		}
		t.Fatalf("Load = %v, %v; want serving.ErrUnsupportedModel", m, err)
	}
}

// An input with a dimension of 0 (ReduceSum's axes, empty to reduce over
// every axis) takes no value of a record and is fed empty. Before, Load
// refused the model (`input "axes" has an empty dimension in [0]`), as
// it did 9 models of the ONNX backend suite. A graph whose only input is
// empty has nothing a record can fill, and is still refused.
func TestRuntimeEmptyInput(t *testing.T) {
	b := model(13, graphSpec{
		nodes:   [][]byte{node("ReduceSum", []string{"x", "axes"}, []string{"y"}, attrInt("keepdims", 1))},
		inputs:  [][]byte{valueInfo("x", elemFloat, 2, 3), valueInfo("axes", elemInt64, 0)},
		outputs: [][]byte{valueInfo("y", elemFloat, 1, 1)},
	})
	m := loadRuntime(t, runtimeFormat(t), b)
	if n := m.(serving.Describer).Describe().Features; n != 6 {
		t.Errorf("Features = %d, want 6", n)
	}
	if p, err := m.Predict(context.Background(), []float64{1, 2, 3, 4, 5, 6}); err != nil || p.Value != 21 {
		t.Errorf("Predict = %+v, %v; want Value 21", p, err)
	}
	only := model(13, graphSpec{
		nodes:   [][]byte{node("Shape", []string{"axes"}, []string{"y"})},
		inputs:  [][]byte{valueInfo("axes", elemInt64, 0)},
		outputs: [][]byte{valueInfo("y", elemInt64, 1)},
	})
	if m, err := runtimeFormat(t).Load(context.Background(), serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: only}); !errors.Is(err, serving.ErrUnsupportedModel) {
		if m != nil {
			m.(serving.Closer).Close()
		}
		t.Errorf("Load of a graph whose one input is empty = %v; want serving.ErrUnsupportedModel", err)
	}
}
