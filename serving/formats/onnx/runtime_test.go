package onnx_test

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/onnx"
)

// runtimeFormat starts the ONNX Runtime engine on the library named by
// ONNXRUNTIME_LIB (or the default names). Without a library the test
// skips, except under CI (CI set), where .ci/run installs one and its
// absence is a failure.
func runtimeFormat(t testing.TB, opts ...onnx.Option) serving.Format {
	t.Helper()
	f, err := onnx.Open(onnx.Runtime(opts...))
	if err != nil {
		var le *onnx.LibraryError
		if errors.As(err, &le) && os.Getenv("CI") == "" {
			t.Skipf("ONNX Runtime is not installed (set %s; .ci/install-onnxruntime fetches it): %v", onnx.LibraryEnv, err)
		}
		t.Fatal(err)
	}
	return f
}

func loadRuntime(t testing.TB, f serving.Format, b []byte) serving.Model {
	t.Helper()
	m, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: b})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c, ok := m.(serving.Closer); ok {
			c.Close()
		}
	})
	return m
}

func TestRuntimeTinyClassifierMatchesReference(t *testing.T) {
	m := loadRuntime(t, runtimeFormat(t), tinyClassifier())
	info := m.(serving.Describer).Describe()
	if info.Features != 4 || info.Outputs != 3 || info.Inputs != nil {
		t.Errorf("Describe() = %+v", info)
	}
	r := rand.New(rand.NewPCG(1, 2))
	rows := make([][]float64, 64)
	for i := range rows {
		rows[i] = []float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64(), r.NormFloat64()}
	}
	batch := make([]serving.Prediction, len(rows))
	if err := m.(serving.BatchPredictor).PredictBatch(context.Background(), rows, batch); err != nil {
		t.Fatal(err)
	}
	for i, x := range rows {
		p, err := m.Predict(context.Background(), x)
		if err != nil {
			t.Fatal(err)
		}
		want := tinyReference(x)
		for k := range want {
			if !close32(p.Values[k], want[k]) || !close32(batch[i].Values[k], want[k]) {
				t.Fatalf("row %d: Values = %v, batched %v, want %v", i, p.Values, batch[i].Values, want)
			}
		}
		if p.Label != batch[i].Label || p.Value != batch[i].Value {
			t.Fatalf("row %d: one by one %+v, batched %+v", i, p, batch[i])
		}
	}
}

func TestRuntimeSingleOutputWithoutBatchDimension(t *testing.T) {
	m := loadRuntime(t, runtimeFormat(t), tinyScorer())
	p, err := m.Predict(context.Background(), []float64{0.3, -1.2})
	if err != nil {
		t.Fatal(err)
	}
	if p.Values != nil || !close32(p.Value, tinyScorerReference([]float64{0.3, -1.2})) {
		t.Errorf("Predict = %+v, want Value %v", p, tinyScorerReference([]float64{0.3, -1.2}))
	}
	rows := [][]float64{{1, 2}, {3, 4}, {-1, 0.5}}
	out := make([]serving.Prediction, len(rows))
	if err := m.(serving.BatchPredictor).PredictBatch(context.Background(), rows, out); err != nil {
		t.Fatal(err)
	}
	for i, x := range rows {
		if !close32(out[i].Value, tinyScorerReference(x)) {
			t.Errorf("row %d: %v, want %v", i, out[i].Value, tinyScorerReference(x))
		}
	}
}

func TestRuntimeFeatureCountAndClose(t *testing.T) {
	f := runtimeFormat(t)
	m, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: tinyClassifier()})
	if err != nil {
		t.Fatal(err)
	}
	var fc *serving.FeatureCountError
	if _, err := m.Predict(context.Background(), []float64{1, 2}); !errors.As(err, &fc) || fc.Want != 4 {
		t.Errorf("short vector: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Predict(ctx, []float64{1, 2, 3, 4}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	c := m.(serving.Closer)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := m.Predict(context.Background(), []float64{1, 2, 3, 4}); !errors.Is(err, serving.ErrClosed) {
		t.Errorf("Predict after Close: %v, want serving.ErrClosed", err)
	}
}

func TestRuntimeConcurrentPredict(t *testing.T) {
	for _, sessions := range []int{1, 3} {
		m := loadRuntime(t, runtimeFormat(t, onnx.Instances(sessions)), tinyClassifier())
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 8 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(g), 9))
				for range 200 {
					x := []float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64(), r.NormFloat64()}
					p, err := m.Predict(context.Background(), x)
					if err != nil {
						errs <- err
						return
					}
					want := tinyReference(x)
					for k := range want {
						if !close32(p.Values[k], want[k]) {
							errs <- errors.New("wrong answer under concurrency")
							return
						}
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("Sessions(%d): %v", sessions, err)
		}
	}
}

func TestRuntimeLibraryErrorListsWhatWasTried(t *testing.T) {
	runtimeFormat(t) // the library is loaded for the process from here on
	dir := t.TempDir()
	bogus := filepath.Join(dir, "libonnxruntime.so")
	if err := os.WriteFile(bogus, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Once a library is loaded, another path is a configuration error.
	_, err := onnx.Open(onnx.Runtime(onnx.LibraryPath(bogus)))
	if !errors.Is(err, serving.ErrConfig) || !strings.Contains(err.Error(), "already loaded") {
		t.Errorf("Open with another library: %v", err)
	}
}

func TestRuntimeOptionsAreValidated(t *testing.T) {
	for _, opt := range []onnx.Option{onnx.IntraOpThreads(-1), onnx.InterOpThreads(-1), onnx.Instances(0), onnx.MaxTensorElements(0)} {
		if _, err := onnx.Open(onnx.Runtime(opt)); !errors.Is(err, serving.ErrConfig) {
			t.Errorf("Open: %v, want serving.ErrConfig", err)
		}
	}
}

func TestRuntimeRefusesBadBytes(t *testing.T) {
	f := runtimeFormat(t)
	good := tinyClassifier()
	for name, b := range map[string][]byte{
		"truncated": good[:len(good)/2],
		"random":    []byte("\x0a\xff\xff\xff\xff\x0f garbage"),
		"empty":     {},
	} {
		m, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: b})
		if err == nil {
			m.(serving.Closer).Close()
			t.Errorf("%s: loaded", name)
			continue
		}
		if !errors.Is(err, serving.ErrCorruptModel) && !errors.Is(err, serving.ErrUnsupportedModel) {
			t.Errorf("%s: %v, want a corrupt or unsupported model", name, err)
		}
	}
}

// TestRuntimeLibraryErrors starts the engine in child processes (the
// library is loaded once per process) on libraries that are missing, not
// ONNX Runtime, or of an API version too old, and checks the one error
// each gets.
func TestRuntimeLibraryErrors(t *testing.T) {
	if os.Getenv("ONNX_LIBRARY_CHILD") != "" {
		_, err := onnx.Open(onnx.Runtime())
		var le *onnx.LibraryError
		if !errors.As(err, &le) || !errors.Is(err, onnx.ErrRuntimeUnavailable) {
			t.Fatalf("Open: %v, want a *LibraryError", err)
		}
		os.Stdout.WriteString("\nERR " + err.Error() + "\n")
		// The fallback engine loads the model on pure Go instead, and
		// says why in the log.
		var logs strings.Builder
		prev := slog.Default()
		slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
		f, err := onnx.Open(onnx.RuntimeOrPureGo())
		slog.SetDefault(prev)
		if err != nil {
			t.Fatalf("RuntimeOrPureGo: %v", err)
		}
		m, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: tinyClassifier()})
		if err != nil {
			t.Fatalf("RuntimeOrPureGo load: %v", err)
		}
		if info := m.(serving.Describer).Describe(); !strings.Contains(info.Input, "fixed to 1") {
			t.Errorf("RuntimeOrPureGo: %+v, want the pure-Go engine", info)
		}
		if !strings.Contains(logs.String(), "ONNX Runtime is unavailable") || !strings.Contains(logs.String(), "tried") {
			t.Errorf("fallback log: %s", logs.String())
		}
		return
	}
	runtimeFormat(t) // skips where the engine cannot run at all
	dir := t.TempDir()
	old := filepath.Join(dir, "libonnxruntime-old.so")
	src := filepath.Join(dir, "old.c")
	// A library that says it is ONNX Runtime 1.10.0 and offers API
	// versions up to 10 only.
	os.WriteFile(src, []byte(`#include <stddef.h>
#include <stdint.h>
static const void* get_api(uint32_t v) { return v <= 10 ? (const void*)1 : NULL; }
static const char* version(void) { return "1.10.0"; }
static const struct { const void* (*a)(uint32_t); const char* (*b)(void); } base = { get_api, version };
const void* OrtGetApiBase(void) { return &base; }
`), 0o644)
	haveCC := exec.Command("cc", "-shared", "-fPIC", "-o", old, src).Run() == nil
	cases := []struct{ name, env, want string }{
		{"missing", filepath.Join(dir, "nowhere.so"), "nowhere.so (ONNXRUNTIME_LIB): "},
		{"not onnxruntime", "libm.so.6", "not an ONNX Runtime library"},
		{"too old", old, "ONNX Runtime 1.10.0 does not offer C API version 24"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "too old" && !haveCC {
				t.Skip("no C compiler to build the stand-in library")
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestRuntimeLibraryErrors$", "-test.v")
			cmd.Env = append(os.Environ(), "ONNX_LIBRARY_CHILD=1", onnx.LibraryEnv+"="+c.env)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "ERR onnx: ONNX Runtime unavailable: tried "+c.env) || !strings.Contains(string(out), c.want) {
				t.Errorf("child said:\n%s\nwant the path and %q", out, c.want)
			}
		})
	}
}

func TestUseEngineSwitchesTheRegisteredFormat(t *testing.T) {
	runtimeFormat(t)
	var logs strings.Builder
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() {
		slog.SetDefault(prev)
		if err := onnx.UseEngine(onnx.PureGo()); err != nil {
			t.Error(err)
		}
	})
	load := func() serving.ModelInfo {
		m, err := serving.Load(context.Background(), serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: tinyClassifier()})
		if err != nil {
			t.Fatal(err)
		}
		defer m.(serving.Closer).Close()
		return m.(serving.Describer).Describe()
	}
	if info := load(); !strings.Contains(info.Input, "fixed to 1") {
		t.Fatalf("default engine: %+v, want the pure-Go engine", info)
	}
	if err := onnx.UseEngine(onnx.Runtime()); err != nil {
		t.Fatal(err)
	}
	if info := load(); !strings.Contains(info.Input, "the batch") {
		t.Errorf("after UseEngine(Runtime()): %+v, want the ONNX Runtime engine", info)
	}
	// With no Logger, only warnings reach slog.Default: the choice of
	// engine is routine.
	if logs.Len() != 0 {
		t.Errorf("UseEngine with no Logger wrote to slog.Default:\n%s", logs.String())
	}
	var given strings.Builder
	if err := onnx.UseEngine(onnx.Runtime(onnx.Logger(slog.New(slog.NewTextHandler(&given, nil))))); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(given.String(), "engine=\"onnxruntime 1.") {
		t.Errorf("log given: %s", given.String())
	}
	// A failed choice leaves the engine as it was.
	if err := onnx.UseEngine(onnx.Runtime(onnx.Instances(0))); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("UseEngine(Sessions(0)): %v", err)
	}
	if info := load(); !strings.Contains(info.Input, "the batch") {
		t.Errorf("after a failed UseEngine: %+v", info)
	}
}

// TestRuntimeRefusesAtLoad: models a record cannot feed, or that ONNX
// Runtime itself refuses, fail at load with a typed error and the reason.
func TestRuntimeRefusesAtLoad(t *testing.T) {
	f := runtimeFormat(t)
	identity := func(in []byte) []byte {
		return model(13, graphSpec{
			nodes:   [][]byte{node("Identity", []string{"x"}, []string{"y"})},
			inputs:  [][]byte{in},
			outputs: [][]byte{valueInfo("y", elemFloat, "N", 3)},
		})
	}
	seqInput := pb(nil).str(1, "x").bytes(2, pb(nil).bytes(4, pb(nil).bytes(1, pb(nil).bytes(1, pb(nil).varint(1, elemFloat)))))
	cases := []struct {
		name  string
		model []byte
		kind  error
		want  string
	}{
		{"symbolic inner dimension", identity(valueInfo("x", elemFloat, "N", "seq", 3)), serving.ErrUnsupportedModel, `symbolic dimension "seq" at axis 1`},
		{"no shape", identity(pb(nil).str(1, "x").bytes(2, pb(nil).bytes(1, pb(nil).varint(1, elemFloat)))), serving.ErrUnsupportedModel, "declares no shape"},
		{"complex64 input", identity(valueInfo("x", 14, "N", 3)), serving.ErrUnsupportedModel, "complex64"},
		{"sequence input", identity(seqInput), serving.ErrUnsupportedModel, "not a tensor"},
		{"string input without categories", identity(valueInfo("x", 8, "N", 3)), serving.ErrUnsupportedModel, "no LabelEncoder"},
		{"op ONNX Runtime lacks", model(13, graphSpec{
			nodes:   [][]byte{node("NoSuchOp", []string{"x"}, []string{"y"})},
			inputs:  [][]byte{valueInfo("x", elemFloat, "N", 3)},
			outputs: [][]byte{valueInfo("y", elemFloat, "N", 3)},
		}), serving.ErrUnsupportedModel, "onnxruntime: create session"},
		{"graph ONNX Runtime finds invalid", model(13, graphSpec{
			nodes:   [][]byte{node("Add", []string{"x", "nowhere"}, []string{"y"})},
			inputs:  [][]byte{valueInfo("x", elemFloat, "N", 3)},
			outputs: [][]byte{valueInfo("y", elemFloat, "N", 3)},
		}), serving.ErrCorruptModel, "onnxruntime: create session"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: c.model})
			if err == nil {
				m.(serving.Closer).Close()
				t.Fatal("loaded")
			}
			if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %v saying %q", err, c.kind, c.want)
			}
			var re *onnx.RuntimeError
			if strings.HasPrefix(c.want, "onnxruntime") && !errors.As(err, &re) {
				t.Errorf("err = %v, want a *onnx.RuntimeError", err)
			}
		})
	}
}

// TestRuntimeBadFeatureValues: a value an integer, bool or string input
// cannot take is a *serving.FieldError naming the input element.
func TestRuntimeBadFeatureValues(t *testing.T) {
	b, _ := readFixture(t, "mixed_inputs")
	m := loadRuntime(t, runtimeFormat(t), b)
	b2, _ := readFixture(t, "torch_two_inputs")
	m2 := loadRuntime(t, runtimeFormat(t), b2)
	cases := []struct {
		m     serving.Model
		x     []float64
		field string
	}{
		{m, []float64{3, 1, 0}, "color"},   // no fourth category
		{m, []float64{0.5, 1, 0}, "color"}, // not a code
		{m, []float64{1, 1, 2}, "flag"},    // not 0 or 1
		{m, []float64{1, 1, math.NaN()}, "flag"},
		{m2, []float64{0, 0, 0, 1.5}, "token"},
		{m2, []float64{0, 0, 0, math.Inf(1)}, "token"},
		// 2^63 is the float64 nearest math.MaxInt64 but past it: it
		// must not wrap to math.MinInt64.
		{m2, []float64{0, 0, 0, 1 << 63}, "token"},
		{m2, []float64{0, 0, 0, -(1 << 63) - 1025}, "token"},
	}
	for _, c := range cases {
		_, err := c.m.Predict(context.Background(), c.x)
		var fe *serving.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !errors.Is(err, serving.ErrFieldType) {
			t.Errorf("Predict(%v) = %v, want a FieldError for %q", c.x, err, c.field)
		}
	}
	// The model still scores.
	if _, err := m.Predict(context.Background(), []float64{2, 1, 1}); err != nil {
		t.Error(err)
	}
}

// TestRuntimeModelsUnderTheServer: the Server closes a replaced ONNX
// Runtime model once it is drained, and the live one on Close; each
// Close releases the sessions, after which the model answers serving.ErrClosed.
func TestRuntimeModelsUnderTheServer(t *testing.T) {
	f := runtimeFormat(t)
	load := func() serving.Model {
		m, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: tinyClassifier()})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	s, err := serving.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	v1, v2 := load(), load()
	ctx := context.Background()
	if _, err := s.ActivateModel(ctx, serving.ModelRef{Name: "m", Version: 1, Format: onnx.FormatName}, v1); err != nil {
		t.Fatal(err)
	}
	x := []float64{1, 2, 3, 4}
	if _, err := s.Model("m").Score(ctx, serving.Record{Features: x}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ActivateModel(ctx, serving.ModelRef{Name: "m", Version: 2, Format: onnx.FormatName}, v2); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Model("m").Score(ctx, serving.Record{Features: x}); err != nil || res.Provenance.Model.Version != 2 {
		t.Fatalf("after the swap: %+v, %v", res, err)
	}
	if _, err := v1.Predict(ctx, x); !errors.Is(err, serving.ErrClosed) {
		t.Errorf("v1 after the swap: %v, want serving.ErrClosed (closed by the Server)", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := v2.Predict(ctx, x); !errors.Is(err, serving.ErrClosed) {
		t.Errorf("v2 after Server.Close: %v, want serving.ErrClosed", err)
	}
}

// TestRuntimeCancelRacesTheRun cancels contexts while runs finish. The
// run's options are released after the run: the cancellation that
// terminates it must be over by then, or it writes into released memory
// (under -race: a data race on the RunOptions).
func TestRuntimeCancelRacesTheRun(t *testing.T) {
	m := loadRuntime(t, runtimeFormat(t), tinyClassifier())
	x := []float64{1, 2, 3, 4}
	for i := range 500 {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range i % 50 {
				runtime.Gosched()
			}
			cancel()
		}()
		if _, err := m.Predict(ctx, x); err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("run %d: %v", i, err)
		}
		<-done
	}
}

// TestRuntimeBatchDoesNotMixRows: a graph that mixes the rows of its
// batch dimension (here y = x - mean(x) over the batch) scores each
// record of a PredictBatch as Predict scores it alone. Its batch
// dimension used to be trusted on shapes alone, and PredictBatch of 1
// and 3 answered -1 and 1 where each record alone scores 0: a record's
// score depended on the records batched with it.
func TestRuntimeBatchDoesNotMixRows(t *testing.T) {
	f := runtimeFormat(t)
	axes0 := pb(nil).str(1, "axes").varint(8, 0).varint(20, 7)
	m := loadRuntime(t, f, model(13, graphSpec{
		nodes: [][]byte{
			node("ReduceMean", []string{"x"}, []string{"mean"}, axes0, attrInt("keepdims", 1)),
			node("Sub", []string{"x", "mean"}, []string{"y"}),
		},
		inputs:  [][]byte{valueInfo("x", elemFloat, "N", 1)},
		outputs: [][]byte{valueInfo("y", elemFloat, "N", 1)},
	}))
	rows := [][]float64{{1}, {3}, {-2}, {7}}
	out := make([]serving.Prediction, len(rows))
	if err := m.(serving.BatchPredictor).PredictBatch(context.Background(), rows, out); err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		alone, err := m.Predict(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		if out[i].Value != alone.Value {
			t.Errorf("row %d (%v): PredictBatch %v, Predict %v", i, r, out[i].Value, alone.Value)
		}
	}
}
