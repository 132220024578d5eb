package onnx_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	onnxgo "github.com/owulveryck/onnx-go"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/onnx"
)

func mustParse(t testing.TB, b []byte, opts ...onnx.Option) *onnx.Model {
	t.Helper()
	m, err := onnx.Parse(b, opts...)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return m
}

func close32(got, want float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	if math.IsInf(want, 0) {
		return got == want
	}
	return math.Abs(got-want) <= 1e-5+1e-4*math.Abs(want)
}

func TestRegistered(t *testing.T) {
	if !slices.Contains(serving.Formats(), onnx.FormatName) {
		t.Fatalf("Formats() = %v, want it to contain %q", serving.Formats(), onnx.FormatName)
	}
}

func TestTinyClassifierDescribesItsInput(t *testing.T) {
	m := mustParse(t, tinyClassifier())
	info := m.Describe()
	want := serving.ModelInfo{Features: 4, Outputs: 3, Input: "float32 tensor [1 4] (symbolic N fixed to 1)"}
	if !reflect.DeepEqual(info, want) {
		t.Errorf("Describe() = %+v, want %+v", info, want)
	}
	in := m.Inputs()
	if len(in) != 1 || in[0].Name != "x" || in[0].Type != "float32" || !slices.Equal(in[0].Shape, []int{1, 4}) {
		t.Errorf("Inputs() = %+v", in)
	}
	if out := m.Output(); out.Name != "probs" || out.Type != "float32" || !slices.Equal(out.Shape, []int{1, 3}) {
		t.Errorf("Output() = %+v", out)
	}
}

func TestTinyClassifierMatchesReference(t *testing.T) {
	m := mustParse(t, tinyClassifier())
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		x := []float64{r.NormFloat64() * 3, r.NormFloat64(), r.NormFloat64() * 2, r.NormFloat64()}
		p, err := m.Predict(context.Background(), x)
		if err != nil {
			t.Fatal(err)
		}
		want := tinyReference(x)
		if len(p.Values) != 3 {
			t.Fatalf("Values = %v, want 3 probabilities", p.Values)
		}
		best := 0
		for k := range want {
			if !close32(p.Values[k], want[k]) {
				t.Fatalf("x=%v: Values = %v, want %v", x, p.Values, want)
			}
			if want[k] > want[best] {
				best = k
			}
		}
		if p.Value != p.Values[best] && math.Abs(want[best]-p.Value) > 1e-6 {
			t.Errorf("Value = %v, want the largest output %v", p.Value, p.Values[best])
		}
		// Near-ties may flip under float32; check the label only when clear.
		sorted := slices.Sorted(slices.Values(want))
		if sorted[2]-sorted[1] > 1e-4 && p.Label != strconv.Itoa(best) {
			t.Errorf("Label = %q, want %d for %v", p.Label, best, want)
		}
		if p.Confidence != 0 {
			t.Errorf("Confidence = %v, want 0 (the format cannot tell probabilities from scores)", p.Confidence)
		}
	}
}

func TestSingleOutputSetsValueOnly(t *testing.T) {
	m := mustParse(t, tinyScorer())
	if info := m.Describe(); info.Features != 2 || info.Outputs != 1 || info.Input != "float32 tensor [1 2]" {
		t.Errorf("Describe() = %+v", info)
	}
	for _, x := range [][]float64{{0, 0}, {1, 2}, {-3, 4.5}, {100, -100}} {
		p, err := m.Predict(context.Background(), x)
		if err != nil {
			t.Fatal(err)
		}
		if p.Values != nil || p.Label != "" {
			t.Errorf("single output: Values = %v, Label = %q, want nil and empty", p.Values, p.Label)
		}
		if want := tinyScorerReference(x); !close32(p.Value, want) {
			t.Errorf("Predict(%v) = %v, want %v", x, p.Value, want)
		}
	}
}

// Results must not depend on earlier calls: no state may leak through the
// reused input tensors or the graph's bound values.
func TestPredictIsRepeatable(t *testing.T) {
	m := mustParse(t, tinyClassifier())
	a, b := []float64{1, 2, 3, 4}, []float64{-4, 0.5, 2, -1}
	pa, _ := m.Predict(context.Background(), a)
	pb, _ := m.Predict(context.Background(), b)
	pa2, _ := m.Predict(context.Background(), a)
	if !slices.Equal(pa.Values, pa2.Values) {
		t.Errorf("same input, different outputs: %v then %v", pa.Values, pa2.Values)
	}
	if slices.Equal(pa.Values, pb.Values) {
		t.Errorf("different inputs, same outputs %v", pa.Values)
	}
}

func TestLoadThroughServing(t *testing.T) {
	b := tinyScorer()
	d := serving.Descriptor{Name: "scorer", Version: 1, Format: onnx.FormatName, Bytes: b, SHA256: serving.ContentID(b)}
	m, err := serving.Load(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Predict(context.Background(), []float64{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := tinyScorerReference([]float64{1, 2}); !close32(p.Value, want) {
		t.Errorf("Value = %v, want %v", p.Value, want)
	}
	if _, ok := m.(serving.Describer); !ok {
		t.Error("model does not implement serving.Describer")
	}
}

func TestFeatureCountMismatch(t *testing.T) {
	m := mustParse(t, tinyClassifier())
	for _, n := range []int{0, 3, 5, 8} {
		_, err := m.Predict(context.Background(), make([]float64, n))
		var fc *serving.FeatureCountError
		if !errors.As(err, &fc) || fc.Want != 4 || fc.Got != n {
			t.Errorf("%d features: err = %v, want *FeatureCountError{4, %d}", n, err, n)
		}
		if !errors.Is(err, serving.ErrFeatureCount) {
			t.Errorf("%d features: errors.Is(err, ErrFeatureCount) = false", n)
		}
	}
}

// Every strict prefix of a model is a truncated graph (the builder writes
// the graph last), and must be refused as corrupt without a panic.
func TestTruncatedIsCorrupt(t *testing.T) {
	for _, b := range [][]byte{tinyClassifier(), tinyScorer()} {
		for n := range len(b) {
			_, err := onnx.Parse(b[:n])
			if !errors.Is(err, serving.ErrCorruptModel) {
				t.Fatalf("prefix of %d/%d bytes: err = %v, want ErrCorruptModel", n, len(b), err)
			}
		}
	}
}

func TestRandomBytesAreRefused(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		b := make([]byte, r.IntN(512))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		_, err := onnx.Parse(b)
		if !errors.Is(err, serving.ErrCorruptModel) {
			t.Fatalf("random input %d (%d bytes): err = %v, want ErrCorruptModel", i, len(b), err)
		}
	}
}

// Corrupting single bytes of a valid model must give a model or a typed
// error, never a panic.
func TestFlippedBytes(t *testing.T) {
	orig := tinyClassifier()
	r := rand.New(rand.NewPCG(5, 6))
	for range 3000 {
		b := slices.Clone(orig)
		for range 1 + r.IntN(3) {
			b[r.IntN(len(b))] ^= byte(1 + r.IntN(255))
		}
		m, err := onnx.Parse(b)
		if err != nil {
			if !errors.Is(err, serving.ErrCorruptModel) && !errors.Is(err, serving.ErrUnsupportedModel) {
				t.Fatalf("untyped error: %v", err)
			}
			continue
		}
		if _, err := m.Predict(context.Background(), make([]float64, m.Describe().Features)); err != nil && !errors.Is(err, onnx.ErrBackend) {
			t.Fatalf("Predict on a loaded model: untyped error %v", err)
		}
	}
}

func TestUnsupportedOpIsRejectedAtLoad(t *testing.T) {
	b := model(13, graphSpec{
		nodes:   [][]byte{node("Erf", []string{"x"}, []string{"y"})},
		inputs:  [][]byte{valueInfo("x", elemFloat, 1, 3)},
		outputs: [][]byte{valueInfo("y", elemFloat, 1, 3)},
	})
	_, err := onnx.Parse(b)
	if !errors.Is(err, serving.ErrUnsupportedModel) {
		t.Fatalf("err = %v, want ErrUnsupportedModel", err)
	}
	var ni *onnxgo.ErrNotImplemented
	if !errors.As(err, &ni) || ni.Operator != "Erf" {
		t.Errorf("err = %v, want it to wrap *onnx.ErrNotImplemented for Erf", err)
	}
}

func TestRefusedAtLoad(t *testing.T) {
	relu := func(in []byte) []byte {
		return model(13, graphSpec{
			nodes:   [][]byte{node("Relu", []string{"x"}, []string{"y"})},
			inputs:  [][]byte{in},
			outputs: [][]byte{valueInfo("y", elemFloat, 1, 3)},
		})
	}
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"int64 input", relu(valueInfo("x", elemInt64, 1, 3)), serving.ErrUnsupportedModel},
		{"huge declared shape", relu(valueInfo("x", elemFloat, 1<<20, 1<<20)), serving.ErrUnsupportedModel},
		{"negative dimension", relu(valueInfo("x", elemFloat, -2, 3)), serving.ErrCorruptModel},
		{"zero dimension", relu(valueInfo("x", elemFloat, 0, 3)), serving.ErrUnsupportedModel},
		{"no shape", relu(pb(nil).str(1, "x").bytes(2, pb(nil).bytes(1, pb(nil).varint(1, elemFloat)))), serving.ErrUnsupportedModel},
		{"custom domain", model(13, graphSpec{
			nodes:   [][]byte{pb(node("Relu", []string{"x"}, []string{"y"})).str(7, "com.example")},
			inputs:  [][]byte{valueInfo("x", elemFloat, 1, 3)},
			outputs: [][]byte{valueInfo("y", elemFloat, 1, 3)},
		}), serving.ErrUnsupportedModel},
		{"no nodes", model(13, graphSpec{
			inputs:  [][]byte{valueInfo("x", elemFloat, 1, 3)},
			outputs: [][]byte{valueInfo("y", elemFloat, 1, 3)},
		}), serving.ErrCorruptModel},
		{"no outputs", model(13, graphSpec{
			nodes:  [][]byte{node("Relu", []string{"x"}, []string{"y"})},
			inputs: [][]byte{valueInfo("x", elemFloat, 1, 3)},
		}), serving.ErrCorruptModel},
		{"output read inside the graph", model(13, graphSpec{
			nodes: [][]byte{
				node("Relu", []string{"x"}, []string{"y"}),
				node("Neg", []string{"y"}, []string{"z"}),
			},
			inputs:  [][]byte{valueInfo("x", elemFloat, 1, 3)},
			outputs: [][]byte{valueInfo("y", elemFloat, 1, 3), valueInfo("z", elemFloat, 1, 3)},
		}), serving.ErrUnsupportedModel},
		// Opset 13 Softmax over axis 0 of a [2 3] tensor normalises
		// columns; gorgonnx would normalise rows.
		{"softmax gorgonnx gets wrong", model(13, graphSpec{
			nodes:   [][]byte{node("Softmax", []string{"x"}, []string{"y"}, attrInt("axis", 0))},
			inputs:  [][]byte{valueInfo("x", elemFloat, 2, 3)},
			outputs: [][]byte{valueInfo("y", elemFloat, 2, 3)},
		}), serving.ErrUnsupportedModel},
		{"empty", nil, serving.ErrCorruptModel},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := onnx.Parse(c.b)
			t.Log(err)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestOptionsAreValidated(t *testing.T) {
	// The pure-Go engine refuses the options of ONNX Runtime alone, rather
	// than ignore them.
	for name, opt := range map[string]onnx.Option{"LibraryPath": onnx.LibraryPath("/x.so"), "IntraOpThreads": onnx.IntraOpThreads(2), "InterOpThreads": onnx.InterOpThreads(2)} {
		if _, err := onnx.Open(onnx.PureGo(opt)); !errors.Is(err, serving.ErrConfig) || !strings.Contains(err.Error(), name) {
			t.Errorf("Open(PureGo(%s)): err = %v, want ErrConfig naming it", name, err)
		}
	}
	if _, err := onnx.Parse(tinyClassifier(), onnx.Instances(0)); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("Instances(0): err = %v, want ErrConfig", err)
	}
	if _, err := onnx.Parse(tinyClassifier(), onnx.MaxTensorElements(0)); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("MaxTensorElements(0): err = %v, want ErrConfig", err)
	}
	if _, err := onnx.Open(onnx.PureGo(onnx.Instances(0))); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("Open(PureGo(Instances(0))): err = %v, want ErrConfig", err)
	}
	if _, err := onnx.Parse(tinyClassifier(), onnx.MaxTensorElements(3)); !errors.Is(err, serving.ErrUnsupportedModel) {
		t.Errorf("input declared [N 4] under a 3-element limit: err = %v, want ErrUnsupportedModel", err)
	}
}

func TestClose(t *testing.T) {
	m := mustParse(t, tinyScorer())
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := m.Predict(context.Background(), []float64{1, 2}); !errors.Is(err, serving.ErrClosed) {
		t.Errorf("Predict after Close: err = %v, want serving.ErrClosed", err)
	}
}

func TestCancelledContext(t *testing.T) {
	m := mustParse(t, tinyScorer())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Predict(ctx, []float64{1, 2}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// Many goroutines share one model; each result must match the reference
// for its own input. Run with -race.
func TestConcurrentPredict(t *testing.T) {
	for _, instances := range []int{1, 3} {
		t.Run("instances="+strconv.Itoa(instances), func(t *testing.T) {
			m := mustParse(t, tinyClassifier(), onnx.Instances(instances))
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(g), 9))
					for range 150 {
						x := []float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64(), r.NormFloat64()}
						p, err := m.Predict(context.Background(), x)
						if err != nil {
							errs <- err
							return
						}
						want := tinyReference(x)
						for k := range want {
							if !close32(p.Values[k], want[k]) {
								errs <- errors.New("result does not match its own input")
								return
							}
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// The pure-Go engine names graph inputs as the ONNX Runtime engine does:
// an input of one element by its name, one of several by name[i].
func TestPureGoDescribesNamedInputs(t *testing.T) {
	b := model(13, graphSpec{
		nodes:   [][]byte{node("Concat", []string{"x", "age"}, []string{"y"}, attrInt("axis", 1))},
		inputs:  [][]byte{valueInfo("x", elemFloat, 1, 2), valueInfo("age", elemFloat, 1, 1)},
		outputs: [][]byte{valueInfo("y", elemFloat, 1, 3)},
	})
	m := mustParse(t, b)
	var names []string
	for _, in := range m.Describe().Inputs {
		names = append(names, in.Name)
	}
	if want := []string{"x[0]", "x[1]", "age"}; !slices.Equal(names, want) {
		t.Errorf("Inputs = %v, want %v", names, want)
	}
	p, err := m.Predict(context.Background(), []float64{1, 2, 3})
	if err != nil || !slices.Equal(p.Values, []float64{1, 2, 3}) {
		t.Errorf("Predict = %+v, %v", p, err)
	}
}

// TestDeclaredShapesInTotal: onnx-go allocates a zero tensor for every
// shape a model declares, so MaxTensorElements bounds them together,
// not only one by one: a 300-byte model that declares eight extra
// outputs of 1 Mi float64 elements each asked for 64 MiB (and eight of
// the default 16 Mi, 1 GiB) and loaded.
func TestDeclaredShapesInTotal(t *testing.T) {
	withOutputs := func(n int) []byte {
		outs := [][]byte{valueInfo("y", elemFloat, 1, 2)}
		for i := range n {
			outs = append(outs, valueInfo(fmt.Sprintf("v%d", i), 11, 1<<10, 1<<10))
		}
		return model(13, graphSpec{
			nodes:   [][]byte{node("Sigmoid", []string{"x"}, []string{"y"})},
			inputs:  [][]byte{valueInfo("x", elemFloat, 1, 2)},
			outputs: outs,
		})
	}
	limit := onnx.MaxTensorElements(1 << 20)
	if _, err := onnx.Parse(withOutputs(0), limit); err != nil {
		t.Fatalf("the model without extra outputs: %v", err)
	}
	b := withOutputs(8)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := onnx.Parse(b, limit)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, serving.ErrUnsupportedModel) {
		t.Errorf("%d bytes declaring 8 Mi elements under MaxTensorElements(1 Mi): err = %v, want ErrUnsupportedModel", len(b), err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
		t.Errorf("refusing %d bytes allocated %d MiB", len(b), got>>20)
	}
}

// TestPureGoGraphSize: onnx-go and gorgonia build and sort a graph in
// time quadratic in its size, so the pure-Go engine refuses a graph of
// more than 10,000 entries. 40,000 unused initializers (a 1.3 MB model)
// loaded, taking 20 s on this machine under load, and a few MB would
// hold the feed for minutes. A model under the bound loads.
func TestPureGoGraphSize(t *testing.T) {
	withInits := func(n int) []byte {
		g := graphSpec{
			nodes:   [][]byte{node("Sigmoid", []string{"x"}, []string{"y"})},
			inputs:  [][]byte{valueInfo("x", elemFloat, 1, 2)},
			outputs: [][]byte{valueInfo("y", elemFloat, 1, 2)},
		}
		for i := range n {
			g.inits = append(g.inits, initializer(fmt.Sprintf("w%d", i), []int{1}, []float32{1}))
		}
		return model(13, g)
	}
	if _, err := onnx.Parse(withInits(2000)); err != nil {
		t.Fatalf("2,000 initializers: %v", err)
	}
	b := withInits(40_000)
	_, err := onnx.Parse(b)
	if !errors.Is(err, serving.ErrUnsupportedModel) || !strings.Contains(err.Error(), "10000") {
		t.Errorf("40,000 initializers (%d bytes): err = %v, want ErrUnsupportedModel naming the bound", len(b), err)
	}
}

// TestWideInputsArePositional: a model names each element of its inputs
// in ModelInfo.Inputs (name[i]) up to 65,536 in all; past that it is fed
// by position. Two inputs of 2^20 elements each were named element by
// element, 2 Mi names built on every Describe (2^23 each: gigabytes).
func TestWideInputsArePositional(t *testing.T) {
	for _, tc := range []struct {
		width int
		named bool
	}{{1 << 15, true}, {1<<15 + 1, false}, {1 << 20, false}} {
		m := mustParse(t, model(13, graphSpec{
			nodes:   [][]byte{node("Add", []string{"a", "b"}, []string{"y"})},
			inputs:  [][]byte{valueInfo("a", elemFloat, 1, tc.width), valueInfo("b", elemFloat, 1, tc.width)},
			outputs: [][]byte{valueInfo("y", elemFloat, 1, tc.width)},
		}))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		info := m.Describe()
		runtime.ReadMemStats(&after)
		if got := after.TotalAlloc - before.TotalAlloc; !tc.named && got > 1<<20 {
			t.Errorf("width %d: Describe allocated %d KiB", tc.width, got>>10)
		}
		switch {
		case tc.named && (len(info.Inputs) != 2*tc.width || info.Inputs[2*tc.width-1].Name != fmt.Sprintf("b[%d]", tc.width-1)):
			t.Errorf("width %d: %d inputs named, want a[0]..b[%d]", tc.width, len(info.Inputs), tc.width-1)
		case !tc.named && info.Inputs != nil:
			t.Errorf("width %d: %d inputs named, want none (fed by position)", tc.width, len(info.Inputs))
		}
	}
}
