//go:build cgo

package onnx

/*
#cgo linux LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

// The first two members of OrtApiBase, whose layout the ONNX Runtime C API
// keeps stable across versions.
typedef struct {
	const void* (*GetApi)(uint32_t version);
	const char* (*GetVersionString)(void);
} msOrtApiBase;

typedef const msOrtApiBase* (*msGetApiBase)(void);

// msProbe opens path and checks that it is an ONNX Runtime library that
// offers API version api. It writes the library's version into ver.
// Returns 0 when usable, 1 when dlopen fails, 2 when it is not ONNX
// Runtime, 3 when the API version is not offered. The library stays
// open when usable.
static int msProbe(const char* path, uint32_t api, char* ver, size_t verlen, char* err, size_t errlen) {
	ver[0] = 0;
	err[0] = 0;
	void* h = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
	if (!h) {
		const char* e = dlerror();
		snprintf(err, errlen, "%s", e ? e : "dlopen failed");
		return 1;
	}
	msGetApiBase f = (msGetApiBase)dlsym(h, "OrtGetApiBase");
	if (!f) {
		dlclose(h);
		return 2;
	}
	const msOrtApiBase* b = f();
	if (!b) {
		dlclose(h);
		return 2;
	}
	const char* v = b->GetVersionString ? b->GetVersionString() : 0;
	snprintf(ver, verlen, "%s", v ? v : "");
	if (!b->GetApi || !b->GetApi(api)) {
		dlclose(h);
		return 3;
	}
	return 0;
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/modelstream/modelstream/serving"
)

// runtimeAPIVersion is ORT_API_VERSION in the onnxruntime_c_api.h that
// github.com/yalue/onnxruntime_go v1.27.0 compiles against: ONNX Runtime
// 1.24. A library offers its own API version and every older one, so
// ONNX Runtime 1.24 or newer works.
const runtimeAPIVersion = 24

// The ONNX Runtime environment is one per process: loaded by the first
// engine that starts, and kept.
var rtLib struct {
	sync.Mutex
	loaded  bool
	path    string
	version string
}

// openRuntime loads the shared library, once per process, and returns
// the engine.
func openRuntime(o runtimeOptions) (loader, error) {
	rtLib.Lock()
	defer rtLib.Unlock()
	if !rtLib.loaded && ort.IsInitialized() {
		// Initialized by other code of this program.
		rtLib.loaded, rtLib.path, rtLib.version = true, "(loaded elsewhere in this program)", ort.GetVersion()
	}
	if rtLib.loaded {
		if o.library != "" && o.library != rtLib.path {
			return nil, fmt.Errorf("%w: onnx: LibraryPath(%q): ONNX Runtime is already loaded from %s in this process", serving.ErrConfig, o.library, rtLib.path)
		}
		return &runtimeEngine{o: o}, nil
	}
	tried := o.libraryCandidates(os.Getenv(LibraryEnv))
	for i := range tried {
		t := &tried[i]
		version, err := probeLibrary(t.Path)
		if err != nil {
			t.Err = err
			continue
		}
		ort.SetSharedLibraryPath(t.Path)
		// ONNX Runtime's errors are returned to the caller: its own log
		// (to stderr) is kept to fatal ones.
		if err := ort.InitializeEnvironment(ort.WithLogLevelFatal()); err != nil {
			t.Err = fmt.Errorf("ONNX Runtime %s did not start: %v", version, err)
			continue
		}
		rtLib.loaded, rtLib.path, rtLib.version = true, t.Path, version
		return &runtimeEngine{o: o}, nil
	}
	return nil, &libraryError{Tried: tried}
}

// probeLibrary checks path before onnxruntime_go loads it, so that a
// library of the wrong version is refused with its version.
func probeLibrary(path string) (version string, err error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var ver, msg [256]C.char
	rc := C.msProbe(cpath, C.uint32_t(runtimeAPIVersion), &ver[0], C.size_t(len(ver)), &msg[0], C.size_t(len(msg)))
	version = C.GoString(&ver[0])
	switch rc {
	case 0:
		return version, nil
	case 1:
		return "", errors.New(C.GoString(&msg[0]))
	case 2:
		return "", errors.New("not an ONNX Runtime library (no OrtGetApiBase)")
	}
	return version, fmt.Errorf("ONNX Runtime %s does not offer C API version %d: this build needs ONNX Runtime 1.24 or newer", version, runtimeAPIVersion)
}

// runtimeEngine is the started Runtime engine.
type runtimeEngine struct{ o runtimeOptions }

func (e *runtimeEngine) describe() string {
	return fmt.Sprintf("onnxruntime %s (%s), %d intra-op and %d inter-op threads, %d session(s) per model",
		rtLib.version, rtLib.path, e.o.intra, e.o.inter, e.o.sessions)
}

// loadFailure classifies an error ONNX Runtime returned while loading: a
// missing op or opset is unsupported; anything else is a model ONNX
// Runtime finds invalid.
func loadFailure(op string, err error) error {
	re := &runtimeError{Op: op, Err: err}
	msg := err.Error()
	for _, s := range []string{"NOT_IMPLEMENTED", "Could not find an implementation", "not a registered function/op", "No Op registered", "opset", "Opset", "not supported", "Unsupported", "unsupported"} {
		if strings.Contains(msg, s) {
			return serving.Unsupported(FormatName, re)
		}
	}
	return serving.Corrupt(FormatName, re)
}

func (e *runtimeEngine) load(ctx context.Context, b []byte) (serving.Model, error) {
	gi, err := parseModel(b)
	if err != nil {
		return nil, err
	}
	switch {
	case !gi.hasGraph:
		return nil, serving.Corrupt(FormatName, errors.New("no graph in the model"))
	case len(gi.outputs) == 0:
		return nil, serving.Corrupt(FormatName, errors.New("the graph declares no outputs"))
	}
	if err := checkMLAttributes(gi); err != nil {
		return nil, serving.Corrupt(FormatName, err)
	}
	if err := checkIntegerDivision(b, e.o.maxElems); err != nil {
		return nil, serving.Unsupported(FormatName, err)
	}
	plan, err := planInputs(gi, e.o.maxElems)
	if err != nil {
		return nil, err
	}
	m := &runtimeModel{plan: plan, maxElems: e.o.maxElems}
	inNames := make([]string, len(plan.inputs))
	for i, in := range plan.inputs {
		inNames[i] = in.name
	}
	for _, vi := range gi.outputs {
		switch vi.typeCase {
		case 8, 9:
			return nil, serving.Unsupported(FormatName, fmt.Errorf("output %q is an optional or sparse value, which a Prediction cannot hold", vi.name))
		}
		m.outNames = append(m.outNames, vi.name)
		// onnxruntime_go cannot allocate a scalar output itself, nor read
		// a float16 or bfloat16 one it allocated (it copies half the
		// bytes): such outputs are allocated before each run.
		var pre preOut
		switch {
		case vi.hasType && vi.hasShape && len(vi.dims) == 0:
			if v, err := newScalar(vi.elem); err == nil {
				v.Destroy()
				pre.elem = vi.elem
			}
		case vi.hasType && (vi.elem == elemFloat16 || vi.elem == elemBfloat16):
			if !vi.hasShape {
				return nil, serving.Unsupported(FormatName, fmt.Errorf("output %q is %s of no declared shape, which this engine cannot read", vi.name, elemName(vi.elem)))
			}
			pre.elem, pre.halves = vi.elem, true
			elems := int64(1) // per row, bounded as an input is
			for i, d := range vi.dims {
				switch {
				case i == 0 && (d.param != "" || !d.known):
					pre.dims = append(pre.dims, -1)
				case d.param != "" || !d.known:
					return nil, serving.Unsupported(FormatName, fmt.Errorf("output %q is %s of symbolic shape %s, which this engine cannot read", vi.name, elemName(vi.elem), dimString(vi.dims)))
				case d.value < 0 || d.value > 0 && elems > e.o.maxElems/d.value:
					return nil, serving.Unsupported(FormatName, fmt.Errorf("output %q declares shape %s, more than %d elements", vi.name, dimString(vi.dims), e.o.maxElems))
				default:
					elems *= d.value
					pre.dims = append(pre.dims, d.value)
				}
			}
		}
		m.preOut = append(m.preOut, pre)
	}
	if m.sessions, err = e.newSessions(ctx, b, inNames, m.outNames); err != nil {
		return nil, err
	}
	// Every return but the model's, and a panic in the load-time run
	// (recovered by serving.Load), destroys the sessions.
	kept := false
	defer func() {
		if !kept {
			m.destroy()
		}
	}()
	if err := m.dryRun(ctx, gi); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		// A load-time run that ctx cut short may have turned batching
		// off: the model is not kept.
		return nil, err
	}
	kept = true
	return m, nil
}

// newSessions creates the model's sessions. ONNX Runtime cannot stop a
// session it is creating, and a hostile model can make that take
// seconds (constant folding at load). So when ctx can end, the sessions
// are created in a goroutine of their own, on a copy of b: when ctx ends
// first, newSessions returns ctx's error at once, and the sessions are
// destroyed as soon as their creation is over.
func (e *runtimeEngine) newSessions(ctx context.Context, b []byte, in, out []string) ([]*ort.DynamicAdvancedSession, error) {
	if ctx.Done() == nil {
		return e.createSessions(ctx, b, in, out)
	}
	b = slices.Clone(b) // Load must not keep the caller's bytes
	type result struct {
		ss  []*ort.DynamicAdvancedSession
		err error
	}
	var mu sync.Mutex
	abandoned := false
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if v := recover(); v != nil {
				r.err = serving.Corrupt(FormatName, fmt.Errorf("onnxruntime: create session: panic: %v", v))
			}
			mu.Lock()
			defer mu.Unlock()
			if abandoned {
				destroySessions(r.ss)
				return
			}
			done <- r
		}()
		r.ss, r.err = e.createSessions(ctx, b, in, out)
	}()
	select {
	case r := <-done:
		return r.ss, r.err
	case <-ctx.Done():
	}
	mu.Lock()
	abandoned = true
	mu.Unlock()
	select {
	case r := <-done: // created just as ctx ended
		destroySessions(r.ss)
	default: // the goroutine destroys them
	}
	return nil, ctx.Err()
}

// createSessions creates the model's sessions, one after another, and
// stops before the next one when ctx has ended. On error it destroys
// those it made.
func (e *runtimeEngine) createSessions(ctx context.Context, b []byte, in, out []string) (ss []*ort.DynamicAdvancedSession, err error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, &runtimeError{Op: "create session options", Err: err}
	}
	defer so.Destroy()
	if e.o.intra > 0 {
		if err := so.SetIntraOpNumThreads(e.o.intra); err != nil {
			return nil, &runtimeError{Op: "set intra-op threads", Err: err}
		}
	}
	if e.o.inter > 0 {
		if err := so.SetInterOpNumThreads(e.o.inter); err != nil {
			return nil, &runtimeError{Op: "set inter-op threads", Err: err}
		}
	}
	// A panic while creating one (recovered by newSessions's goroutine
	// or by serving.Load) must not leak the sessions made before it.
	defer func() {
		if v := recover(); v != nil {
			destroySessions(ss)
			panic(v)
		}
	}()
	for range e.o.sessions {
		if err := ctx.Err(); err != nil {
			destroySessions(ss)
			return nil, err
		}
		// A creation that its Load abandoned still holds its turn, so a
		// stream of models slow to create, each Loaded under a deadline,
		// cannot run more than maxCreating creations at once.
		select {
		case creating <- struct{}{}:
		case <-ctx.Done():
			destroySessions(ss)
			return nil, ctx.Err()
		}
		s, err := createSession(b, in, out, so)
		if err != nil {
			destroySessions(ss)
			return nil, loadFailure("create session", err)
		}
		ss = append(ss, s)
	}
	return ss, nil
}

// creating holds a turn for each session being created (see
// maxCreating).
var creating = make(chan struct{}, maxCreating)

// createSession creates one session in a turn taken from creating, and
// gives the turn back however it ends: a panic (recovered by Load) must
// not keep it, nor leave the session counted in liveSessions.
func createSession(b []byte, in, out []string, so *ort.SessionOptions) (s *ort.DynamicAdvancedSession, err error) {
	liveSessions.Add(1)
	defer func() {
		<-creating
		if s == nil || err != nil {
			liveSessions.Add(-1)
		}
	}()
	return newSession(b, in, out, so)
}

// newSession is ONNX Runtime's session constructor; tests replace it.
var newSession = ort.NewDynamicAdvancedSessionWithONNXData

// destroySessions destroys ss.
func destroySessions(ss []*ort.DynamicAdvancedSession) {
	for _, s := range ss {
		s.Destroy()
		liveSessions.Add(-1)
	}
}

// runtimeModel is a model loaded into ONNX Runtime. It is safe for
// concurrent use: ONNX Runtime's Run is, and calls are spread over the
// sessions in turn.
type runtimeModel struct {
	plan     *rtPlan
	out      *rtOutPlan
	outNames []string
	// preOut says, per output, whether it is allocated before each run.
	preOut   []preOut
	maxElems int64
	batch    bool // PredictBatch runs rows together

	next atomic.Uint32
	// stopped is set by the first call that lost outputs (see
	// outputError); every later call fails, so that the memory lost
	// stays that of one run.
	stopped  atomic.Pointer[outputError]
	mu       sync.RWMutex // held shared by calls, exclusively by Close
	closed   bool
	sessions []*ort.DynamicAdvancedSession
}

var (
	_ serving.Model          = (*runtimeModel)(nil)
	_ serving.BatchPredictor = (*runtimeModel)(nil)
	_ serving.Describer      = (*runtimeModel)(nil)
	_ serving.Closer         = (*runtimeModel)(nil)
)

// dryRun runs the model once on ones (the second category of a string
// input, or its only one), which fixes how outputs become a Prediction,
// and once on two rows when the inputs have a batch dimension, to learn
// whether the outputs follow it. Ones rather than zeros: a model that
// divides by an input is better not tried on a zero divisor.
func (m *runtimeModel) dryRun(ctx context.Context, gi *graphInfo) error {
	zero := make([]float64, m.plan.features)
	off := 0
	for _, in := range m.plan.inputs {
		for k := range in.perRow {
			if in.elem != elemString || len(in.categories) > 1 {
				zero[off+k] = 1
			}
		}
		off += in.perRow
	}
	outs, err := m.run(ctx, [][]float64{zero})
	// An output ONNX Runtime made a scalar, though it is not declared as
	// one, is allocated before each run from now on, and the run is
	// tried again: each round learns one output.
	for range m.preOut {
		var oe *outputError
		if !errors.As(err, &oe) || m.preOut[oe.Index].elem != 0 {
			break
		}
		vi := gi.outputs[oe.Index]
		if !vi.hasType || vi.typeCase != fTypeTensor {
			break
		}
		v, serr := newScalar(vi.elem)
		if serr != nil {
			break
		}
		v.Destroy()
		m.preOut[oe.Index] = preOut{elem: vi.elem}
		outs, err = m.run(ctx, [][]float64{zero})
	}
	var re *runtimeError
	if errors.As(err, &re) {
		// Ones may be values the model cannot run on (a shape, an axis,
		// an index): plan from the declared outputs instead, and let a
		// record with values that work be scored.
		if m.out, err = planDeclaredOutputs(gi); err != nil {
			return loadFailure("dry run on ones", re.Err)
		}
		return nil
	}
	if err != nil {
		return serving.Unsupported(FormatName, fmt.Errorf("dry run on ones: %w", err))
	}
	m.out, err = planOutputs(gi, m.outNames, outs)
	if err != nil {
		return err
	}
	if !m.plan.batch {
		return nil
	}
	outs, err = m.run(ctx, [][]float64{zero, zero})
	if err != nil {
		return nil // the declared batch dimension does not work: score rows one by one
	}
	two := make([]serving.Prediction, 2)
	if m.out.predictions(outs, 2, two) != nil {
		return nil
	}
	m.batch = m.rowsIndependent(ctx, zero)
	return nil
}

// rowsIndependent reports whether the model scores each row of a batch
// as it scores that row alone: a graph may mix the rows of its batch
// dimension (a mean over it, a softmax across it), and then a record's
// score would depend on the records batched with it. It runs ones and
// another row (twos; 0 for a bool, the first category of a string)
// together and alone. Values agree up to float rounding, which differs
// between one row and several in ONNX Runtime's kernels; a row the
// model cannot run alone counts as disagreeing.
func (m *runtimeModel) rowsIndependent(ctx context.Context, ones []float64) bool {
	other := make([]float64, len(ones))
	off := 0
	for _, in := range m.plan.inputs {
		for k := range in.perRow {
			switch in.elem {
			case elemBool, elemString:
				other[off+k] = 0
			default:
				other[off+k] = 2
			}
		}
		off += in.perRow
	}
	var both [2]serving.Prediction
	outs, err := m.run(ctx, [][]float64{ones, other})
	if err != nil || m.out.predictions(outs, 2, both[:]) != nil {
		return false
	}
	for i, row := range [][]float64{ones, other} {
		var alone [1]serving.Prediction
		outs, err := m.run(ctx, [][]float64{row})
		if err != nil || m.out.predictions(outs, 1, alone[:]) != nil || !samePrediction(alone[0], both[i]) {
			return false
		}
	}
	return true
}

// samePrediction reports whether a and b hold the same values, up to a
// relative 1e-4.
func samePrediction(a, b serving.Prediction) bool {
	close := func(x, y float64) bool {
		if x == y || math.IsNaN(x) && math.IsNaN(y) {
			return true
		}
		return math.Abs(x-y) <= 1e-4*max(1, math.Abs(x), math.Abs(y))
	}
	if !close(a.Value, b.Value) || len(a.Values) != len(b.Values) {
		return false
	}
	for i := range a.Values {
		if !close(a.Values[i], b.Values[i]) {
			return false
		}
	}
	return true
}

func (m *runtimeModel) destroy() {
	destroySessions(m.sessions)
	m.sessions = nil
}

// Describe implements serving.Describer.
func (m *runtimeModel) Describe() serving.ModelInfo {
	return serving.ModelInfo{Features: m.plan.features, Inputs: m.plan.servingInputs(), Outputs: m.out.outputs, Input: m.plan.desc}
}

// Close releases the sessions. The Server calls it once, after the last
// call in flight; a call after Close fails with serving.ErrClosed.
// Close is idempotent.
func (m *runtimeModel) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.closed = true
		m.destroy()
	}
	return nil
}

// Predict implements serving.Model.
func (m *runtimeModel) Predict(ctx context.Context, x []float64) (serving.Prediction, error) {
	var out [1]serving.Prediction
	if err := m.predict(ctx, [][]float64{x}, out[:]); err != nil {
		return serving.Prediction{}, err
	}
	return out[0], nil
}

// PredictBatch implements serving.BatchPredictor: rows run together in
// one call of ONNX Runtime when the model has a batch dimension, in
// chunks that keep each input within the element bound.
func (m *runtimeModel) PredictBatch(ctx context.Context, rows [][]float64, out []serving.Prediction) error {
	if len(out) != len(rows) {
		return fmt.Errorf("onnx: PredictBatch: %d rows but %d predictions", len(rows), len(out))
	}
	if !m.batch {
		for i, r := range rows {
			if err := m.predict(ctx, [][]float64{r}, out[i:i+1]); err != nil {
				return err
			}
		}
		return nil
	}
	chunk := max(1, int(m.maxElems)/max(1, m.plan.features))
	for len(rows) > 0 {
		n := min(chunk, len(rows))
		if err := m.predict(ctx, rows[:n], out[:n]); err != nil {
			return err
		}
		rows, out = rows[n:], out[n:]
	}
	return nil
}

func (m *runtimeModel) predict(ctx context.Context, rows [][]float64, out []serving.Prediction) error {
	for _, r := range rows {
		if len(r) != m.plan.features {
			return &serving.FeatureCountError{Want: m.plan.features, Got: len(r)}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return errClosed
	}
	if oe := m.stopped.Load(); oe != nil {
		return fmt.Errorf("%w: the model stopped when a run lost the outputs after %q: %w", ErrBackend, oe.Name, oe)
	}
	outs, err := m.run(ctx, rows)
	if err != nil {
		var oe *outputError
		if errors.As(err, &oe) && m.losesAfter(oe.Index) {
			m.stopped.CompareAndSwap(nil, oe)
		}
		return err
	}
	if err := m.out.predictions(outs, len(rows), out); err != nil {
		return fmt.Errorf("%w: %w", ErrBackend, err)
	}
	return nil
}

// run feeds rows (one, or several when the model has a batch dimension)
// to a session and decodes the outputs. The caller holds m.mu.
func (m *runtimeModel) run(ctx context.Context, rows [][]float64) ([]rtOut, error) {
	inputs := make([]ort.Value, 0, len(m.plan.inputs))
	defer func() {
		for _, v := range inputs {
			v.Destroy()
		}
	}()
	off := 0
	for i := range m.plan.inputs {
		in := &m.plan.inputs[i]
		v, err := in.tensor(rows, off)
		if err != nil {
			return nil, err
		}
		inputs = append(inputs, v)
		off += in.perRow
	}
	outputs := make([]ort.Value, len(m.outNames))
	for i, pre := range m.preOut {
		if pre.elem == 0 {
			continue
		}
		var v ort.Value
		var err error
		if pre.halves {
			shape := ort.Shape(append([]int64(nil), pre.dims...))
			if len(shape) > 0 && shape[0] == -1 {
				shape[0] = int64(len(rows))
			}
			v, err = ort.NewCustomDataTensor(shape, make([]byte, 2*shape.FlattenedSize()), ort.TensorElementDataType(pre.elem))
		} else {
			v, err = newScalar(pre.elem)
		}
		if err != nil {
			for _, o := range outputs {
				destroyValue(o)
			}
			return nil, fmt.Errorf("%w: %w", ErrBackend, err)
		}
		outputs[i] = v
	}
	defer func() {
		for _, v := range outputs {
			destroyValue(v)
		}
	}()
	s := m.sessions[int(m.next.Add(1))%len(m.sessions)]
	if err := runSession(ctx, s, inputs, outputs); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if i := unreadOutput(outputs, err); i >= 0 {
			return nil, fmt.Errorf("%w: %w", ErrBackend, &outputError{Index: i, Name: m.outNames[i], Err: err})
		}
		return nil, fmt.Errorf("%w: %w", ErrBackend, &runtimeError{Op: "run", Err: err})
	}
	rowsN := len(rows)
	if !m.plan.batch {
		rowsN = 1
	}
	decoded := make([]rtOut, len(outputs))
	for i, v := range outputs {
		var err error
		if decoded[i], err = decode(v, rowsN, m.plan.batch); err != nil {
			return nil, fmt.Errorf("%w: output %q: %w", ErrBackend, m.outNames[i], err)
		}
	}
	return decoded, nil
}

// outputError is an output ONNX Runtime computed and allocated but
// onnxruntime_go could not turn into a Go value: a scalar (it only makes
// tensors of one dimension or more), or a sequence holding one. The
// binding then never releases the outputs after it, which are lost; the
// engine avoids that by allocating before each run every output it knows
// is a scalar (see runtimeModel.dryRun).
type outputError struct {
	Index int    // in the session's outputs
	Name  string // the graph output's name
	Err   error  // onnxruntime_go's error
}

func (e *outputError) Error() string {
	return fmt.Sprintf("onnxruntime: output %q cannot be read: %v", e.Name, e.Err)
}

func (e *outputError) Unwrap() error { return e.Err }

// losesAfter reports whether a run whose output i could not be read lost
// outputs: outputs after i that ONNX Runtime allocated.
func (m *runtimeModel) losesAfter(i int) bool {
	for _, pre := range m.preOut[i+1:] {
		if pre.elem == 0 {
			return true
		}
	}
	return false
}

// unreadOutput returns the index of the output onnxruntime_go failed to
// convert after a run that succeeded, or -1 when err is not such a
// failure. The binding (v1.27.0) converts the outputs it allocated in
// order, stops at the first that fails, leaving a nil Value (typed or
// not) at its index, and says "Error creating tensor from ort".
func unreadOutput(outputs []ort.Value, err error) int {
	if !strings.HasPrefix(err.Error(), "Error creating tensor from ort") {
		return -1
	}
	for i, v := range outputs {
		if isNilValue(v) {
			return i
		}
	}
	return -1
}

// isNilValue reports whether v is nil or holds a nil pointer.
func isNilValue(v ort.Value) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// destroyValue destroys v, which may be nil or hold a nil pointer:
// onnxruntime_go leaves a typed nil in an output it failed to convert.
func destroyValue(v ort.Value) {
	if !isNilValue(v) {
		v.Destroy()
	}
}

// runSession runs s, cut short when ctx ends; tests replace it.
var runSession = func(ctx context.Context, s *ort.DynamicAdvancedSession, inputs, outputs []ort.Value) error {
	if ctx.Done() == nil {
		return s.Run(inputs, outputs)
	}
	return runCancellable(ctx, s, inputs, outputs)
}

// runCancellable runs s and terminates the run when ctx is done first.
// The run options are released only once a termination that started is
// over: stop does not wait for it, and it would set the flag in released
// memory.
func runCancellable(ctx context.Context, s *ort.DynamicAdvancedSession, inputs, outputs []ort.Value) error {
	ro, err := ort.NewRunOptions()
	if err != nil {
		return err
	}
	terminated := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(terminated)
		ro.Terminate()
	})
	err = s.RunWithOptions(inputs, outputs, ro)
	if !stop() {
		<-terminated
	}
	ro.Destroy()
	return err
}

// tensor builds the input tensor for rows, reading each row from off.
func (in *rtInput) tensor(rows [][]float64, off int) (ort.Value, error) {
	shape := ort.Shape(append([]int64(nil), in.shape...))
	if len(shape) > 0 && shape[0] == -1 {
		shape[0] = int64(len(rows))
	} else if len(rows) != 1 {
		return nil, fmt.Errorf("onnx: %d rows for input %q, which has no batch dimension", len(rows), in.name)
	}
	switch in.elem {
	case elemFloat:
		return newTensor(in, shape, rows, off, func(v float64) (float32, bool) { return float32(v), true }, "")
	case elemDouble:
		return newTensor(in, shape, rows, off, func(v float64) (float64, bool) { return v, true }, "")
	case elemInt64:
		// float64(math.MaxInt64) is 2^63, one past the range: the bound
		// is the largest float64 below it.
		return newTensor(in, shape, rows, off, intConv[int64](math.MinInt64, math.Nextafter(1<<63, 0)), "an int64")
	case elemInt32:
		return newTensor(in, shape, rows, off, intConv[int32](math.MinInt32, math.MaxInt32), "an int32")
	case elemInt16:
		return newTensor(in, shape, rows, off, intConv[int16](math.MinInt16, math.MaxInt16), "an int16")
	case elemInt8:
		return newTensor(in, shape, rows, off, intConv[int8](math.MinInt8, math.MaxInt8), "an int8")
	case elemUint8:
		return newTensor(in, shape, rows, off, intConv[uint8](0, math.MaxUint8), "a uint8")
	case elemUint16:
		return newTensor(in, shape, rows, off, intConv[uint16](0, math.MaxUint16), "a uint16")
	case elemUint32:
		return newTensor(in, shape, rows, off, intConv[uint32](0, math.MaxUint32), "a uint32")
	case elemUint64:
		return newTensor(in, shape, rows, off, intConv[uint64](0, 1<<63), "a uint64")
	case elemBool:
		return newTensor(in, shape, rows, off, func(v float64) (bool, bool) { return v == 1, v == 0 || v == 1 }, "a bool (0 or 1)")
	case elemFloat16, elemBfloat16:
		data := make([]byte, 0, 2*len(rows)*in.perRow)
		for _, r := range rows {
			for _, v := range r[off : off+in.perRow] {
				h := toFloat16(v)
				if in.elem == elemBfloat16 {
					h = toBfloat16(v)
				}
				data = append(data, byte(h), byte(h>>8))
			}
		}
		return ort.NewCustomDataTensor(shape, data, ort.TensorElementDataType(in.elem))
	case elemString:
		t, err := ort.NewStringTensor(shape)
		if err != nil {
			return nil, err
		}
		vals := make([]string, 0, len(rows)*in.perRow)
		for _, r := range rows {
			for k, v := range r[off : off+in.perRow] {
				c, ok := integral(v, 0, float64(len(in.categories)-1))
				if !ok {
					t.Destroy()
					return nil, in.badValue(k, v, fmt.Sprintf("a category code in [0, %d]", len(in.categories)-1))
				}
				vals = append(vals, in.categories[c])
			}
		}
		if err := t.SetContents(vals); err != nil {
			t.Destroy()
			return nil, err
		}
		return t, nil
	}
	return nil, fmt.Errorf("onnx: input %q: element type %s", in.name, elemName(in.elem))
}

func intConv[T int64 | int32 | int16 | int8 | uint8 | uint16 | uint32 | uint64](lo, hi float64) func(float64) (T, bool) {
	return func(v float64) (T, bool) {
		i, ok := integral(v, lo, hi)
		if !ok {
			return 0, false
		}
		if hi > math.MaxInt64 || lo >= 0 && v >= 1<<63 {
			return T(uint64(v)), true
		}
		return T(i), true
	}
}

func newTensor[T ort.TensorData](in *rtInput, shape ort.Shape, rows [][]float64, off int, conv func(float64) (T, bool), want string) (ort.Value, error) {
	data := make([]T, 0, len(rows)*in.perRow)
	for _, r := range rows {
		for k, v := range r[off : off+in.perRow] {
			x, ok := conv(v)
			if !ok {
				return nil, in.badValue(k, v, want)
			}
			data = append(data, x)
		}
	}
	if len(shape) == 0 {
		return ort.NewScalar(data[0])
	}
	return ort.NewTensor(shape, data)
}

// decode reads an output into an rtOut. rows is the batch size when batch
// is set; the output's first dimension (or sequence length) must match it.
func decode(v ort.Value, rows int, batch bool) (rtOut, error) {
	o := rtOut{rows: rows}
	checkRows := func(shape ort.Shape) error {
		if batch && (len(shape) == 0 || shape[0] != int64(rows)) {
			return fmt.Errorf("%w: shape %v for %d rows", errOutputShape, shape, rows)
		}
		return nil
	}
	switch t := v.(type) {
	case *ort.Tensor[float32]:
		o.nums = convert(t.GetData())
	case *ort.Tensor[float64]:
		o.nums = append([]float64(nil), t.GetData()...)
	case *ort.Tensor[int64]:
		o.nums = convert(t.GetData())
	case *ort.Tensor[int32]:
		o.nums = convert(t.GetData())
	case *ort.Tensor[int16]:
		o.nums = convert(t.GetData())
	case *ort.Tensor[int8]:
		o.nums = convert(t.GetData())
	case *ort.Tensor[uint8]:
		o.nums = convert(t.GetData())
	case *ort.Tensor[uint16]:
		o.nums = convert(t.GetData())
	case *ort.Tensor[uint32]:
		o.nums = convert(t.GetData())
	case *ort.Tensor[uint64]:
		o.nums = convert(t.GetData())
	case *ort.Tensor[bool]:
		for _, b := range t.GetData() {
			o.nums = append(o.nums, b2f(b))
		}
	case *ort.CustomDataTensor:
		dt := int64(t.DataType())
		if dt != elemFloat16 && dt != elemBfloat16 {
			return o, fmt.Errorf("element type %s is not read", elemName(dt))
		}
		d := t.GetData()
		for i := 0; i+1 < len(d); i += 2 {
			h := uint16(d[i]) | uint16(d[i+1])<<8
			if dt == elemBfloat16 {
				o.nums = append(o.nums, float64(math.Float32frombits(uint32(h)<<16)))
			} else {
				o.nums = append(o.nums, float16(h))
			}
		}
	case *ort.Scalar[float32]:
		o.nums = []float64{float64(t.GetData())}
	case *ort.Scalar[float64]:
		o.nums = []float64{t.GetData()}
	case *ort.Scalar[int64]:
		o.nums = []float64{float64(t.GetData())}
	case *ort.Scalar[int32]:
		o.nums = []float64{float64(t.GetData())}
	case *ort.Scalar[int16]:
		o.nums = []float64{float64(t.GetData())}
	case *ort.Scalar[int8]:
		o.nums = []float64{float64(t.GetData())}
	case *ort.Scalar[uint8]:
		o.nums = []float64{float64(t.GetData())}
	case *ort.Scalar[uint16]:
		o.nums = []float64{float64(t.GetData())}
	case *ort.Scalar[uint32]:
		o.nums = []float64{float64(t.GetData())}
	case *ort.Scalar[uint64]:
		o.nums = []float64{float64(t.GetData())}
	case *ort.Scalar[bool]:
		o.nums = []float64{b2f(t.GetData())}
	case *ort.StringTensor:
		s, err := t.GetContents()
		if err != nil {
			return o, err
		}
		o.kind, o.strs = outStrings, s
	case *ort.Sequence:
		items, err := t.GetValues()
		if err != nil {
			return o, err
		}
		if batch && len(items) != rows || !batch && len(items) != 1 {
			return o, fmt.Errorf("%w: a sequence of %d for %d rows", errOutputShape, len(items), rows)
		}
		o.kind = outMaps
		for _, it := range items {
			mp, ok := it.(*ort.Map)
			if !ok {
				return o, fmt.Errorf("a sequence of %T is not read", it)
			}
			keys, vals, err := mapContents(mp)
			if err != nil {
				return o, err
			}
			o.mapKeys = append(o.mapKeys, keys)
			o.mapVals = append(o.mapVals, vals)
		}
		return o, nil
	default:
		return o, fmt.Errorf("a %T is not read", v)
	}
	return o, checkRows(v.GetShape())
}

// mapContents reads a map of int64 or string keys to numbers.
func mapContents(mp *ort.Map) ([]string, []float64, error) {
	kv, vv, err := mp.GetKeysAndValues()
	if err != nil {
		return nil, nil, err
	}
	var keys []string
	switch k := kv.(type) {
	case *ort.StringTensor:
		if keys, err = k.GetContents(); err != nil {
			return nil, nil, err
		}
	case *ort.Tensor[int64]:
		for _, x := range k.GetData() {
			keys = append(keys, fmt.Sprint(x))
		}
	default:
		return nil, nil, fmt.Errorf("map keys of %T are not read", kv)
	}
	var vals []float64
	switch v := vv.(type) {
	case *ort.Tensor[float32]:
		vals = convert(v.GetData())
	case *ort.Tensor[float64]:
		vals = append(vals, v.GetData()...)
	default:
		return nil, nil, fmt.Errorf("map values of %T are not read", vv)
	}
	if len(keys) != len(vals) {
		return nil, nil, fmt.Errorf("a map of %d keys and %d values", len(keys), len(vals))
	}
	return keys, vals, nil
}

func convert[T int64 | int32 | int16 | int8 | uint8 | uint16 | uint32 | uint64 | float32](d []T) []float64 {
	out := make([]float64, len(d))
	for i, x := range d {
		out[i] = float64(x)
	}
	return out
}

// float16 decodes an IEEE 754 half-precision number.
func float16(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac != 0 {
			return math.NaN()
		}
		return sign * math.Inf(1)
	}
	return sign * math.Ldexp(1+frac/1024, exp-15)
}

// newScalar allocates a scalar of element type elem, for an output.
func newScalar(elem int64) (ort.Value, error) {
	switch elem {
	case elemFloat:
		return ort.NewEmptyScalar[float32]()
	case elemDouble:
		return ort.NewEmptyScalar[float64]()
	case elemInt64:
		return ort.NewEmptyScalar[int64]()
	case elemInt32:
		return ort.NewEmptyScalar[int32]()
	case elemInt16:
		return ort.NewEmptyScalar[int16]()
	case elemInt8:
		return ort.NewEmptyScalar[int8]()
	case elemUint8:
		return ort.NewEmptyScalar[uint8]()
	case elemUint16:
		return ort.NewEmptyScalar[uint16]()
	case elemUint32:
		return ort.NewEmptyScalar[uint32]()
	case elemUint64:
		return ort.NewEmptyScalar[uint64]()
	case elemBool:
		return ort.NewEmptyScalar[bool]()
	}
	return nil, fmt.Errorf("no scalar of element type %s", elemName(elem))
}

// preOut is an output allocated before each run: a scalar of type elem,
// or a float16 or bfloat16 tensor of shape dims (-1 for the batch).
type preOut struct {
	elem   int64
	halves bool
	dims   []int64
}
