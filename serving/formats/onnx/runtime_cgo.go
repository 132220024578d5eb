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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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
	maxMem  int64 // the arena's bound (see MaxMemory)
}

// shareArena registers, in ONNX Runtime's environment, the CPU arena of
// maxMem bytes that every session allocates from (see MaxMemory).
func shareArena(maxMem int64) error {
	// arena_extend_strategy 0 (kNextPowerOfTwo): the arena grows by
	// regions of doubling size, within max_mem. With 1 (kSameAsRequested,
	// regions of what a run asks) ONNX Runtime 1.24 stopped bounding the
	// arena once a run had been refused for memory: under a bound of 64
	// MiB, after a model's load-time run was refused, the next model's run
	// took 1 GiB.
	cfg, err := ort.NewArenaCfgV2(map[string]int{"max_mem": int(maxMem), "arena_extend_strategy": 0})
	if err != nil {
		return err
	}
	defer cfg.Destroy()
	mi, err := ort.GetMemoryInfo()
	if err != nil {
		return err
	}
	return ort.CreateAndRegisterAllocator(mi, cfg)
}

// openRuntime loads the shared library, once per process, and returns
// the engine.
func openRuntime(o runtimeOptions) (loader, error) {
	rtLib.Lock()
	defer rtLib.Unlock()
	if err := checkBinding(); err != nil {
		return nil, &libraryError{Reason: err.Error()}
	}
	if !rtLib.loaded && ort.IsInitialized() {
		// Initialized by other code of this program.
		if err := initRunAPI(""); err != nil {
			return nil, &libraryError{Reason: "ONNX Runtime was loaded by other code of this program: " + err.Error()}
		}
		if err := shareArena(o.maxMem); err != nil {
			return nil, &libraryError{Reason: "ONNX Runtime was loaded by other code of this program, and its memory cannot be bounded: " + err.Error()}
		}
		rtLib.loaded, rtLib.path, rtLib.version, rtLib.maxMem = true, "(loaded elsewhere in this program)", ort.GetVersion(), o.maxMem
	}
	if rtLib.loaded {
		if o.library != "" && o.library != rtLib.path {
			return nil, fmt.Errorf("%w: onnx: LibraryPath(%q): ONNX Runtime is already loaded from %s in this process", serving.ErrConfig, o.library, rtLib.path)
		}
		if o.maxMemSet && o.maxMem != rtLib.maxMem {
			return nil, fmt.Errorf("%w: onnx: MaxMemory(%d): ONNX Runtime's memory is already bounded to %d bytes in this process", serving.ErrConfig, o.maxMem, rtLib.maxMem)
		}
		o.maxMem = rtLib.maxMem
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
		if err := initRunAPI(t.Path); err != nil {
			// The binding has started on this library: no other can be
			// tried.
			t.Err = fmt.Errorf("ONNX Runtime %s started, but its C API cannot be called: %v", version, err)
			return nil, &libraryError{Tried: tried[:i+1]}
		}
		if err := shareArena(o.maxMem); err != nil {
			t.Err = fmt.Errorf("ONNX Runtime %s started, but its memory cannot be bounded: %v", version, err)
			return nil, &libraryError{Tried: tried[:i+1]}
		}
		rtLib.loaded, rtLib.path, rtLib.version, rtLib.maxMem = true, t.Path, version, o.maxMem
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
	return fmt.Sprintf("onnxruntime %s (%s), %d intra-op and %d inter-op threads, %d session(s) per model, tensors within %d MiB",
		rtLib.version, rtLib.path, e.o.intra, e.o.inter, e.o.sessions, e.o.maxMem>>20)
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
	if err := checkDomains(gi); err != nil {
		return nil, serving.Unsupported(FormatName, err)
	}
	if err := checkMaxUnpool(gi); err != nil {
		return nil, serving.Unsupported(FormatName, err)
	}
	if err := checkMLAttributes(gi); err != nil {
		return nil, serving.Corrupt(FormatName, err)
	}
	if err := checkPositiveAttrs(gi); err != nil {
		return nil, serving.Corrupt(FormatName, err)
	}
	if err := checkIntegerDivision(b, e.o.maxElems); err != nil {
		return nil, serving.Unsupported(FormatName, err)
	}
	plan, err := planInputs(gi, e.o.maxElems)
	if err != nil {
		return nil, err
	}
	m := &runtimeModel{plan: plan, maxElems: e.o.maxElems, maxMem: e.o.maxMem}
	inNames := make([]string, len(plan.inputs))
	for i, in := range plan.inputs {
		inNames[i] = in.name
	}
	for _, vi := range gi.outputs {
		switch vi.typeCase {
		case 8, 9:
			return nil, serving.Unsupported(FormatName, fmt.Errorf("output %q is an optional or sparse value, which a Prediction cannot hold", vi.name))
		}
		for _, d := range vi.dims {
			if d.known && d.param == "" && d.value == 0 {
				return nil, serving.Unsupported(FormatName, fmt.Errorf("output %q is declared empty (%s): a Prediction holds at least one value", vi.name, dimString(vi.dims)))
			}
		}
		m.outNames = append(m.outNames, vi.name)
	}
	if m.sessions, err = e.newSessions(ctx, b, inNames, m.outNames); err != nil {
		return nil, err
	}
	m.inC, m.outC = newCNames(inNames), newCNames(m.outNames)
	// Every return but the model's, and a panic in the load-time run
	// (recovered by serving.Load), destroys the sessions.
	kept := false
	defer func() {
		if !kept {
			m.destroy()
		}
	}()
	runCtx, cancel := context.WithTimeout(ctx, loadRunLimit)
	defer cancel()
	if err := m.dryRun(runCtx, gi); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if runCtx.Err() != nil {
			return nil, serving.Unsupported(FormatName, fmt.Errorf("the load-time runs took over %v", loadRunLimit))
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

// loadRunLimit bounds the load-time runs of a model (see dryRun),
// whatever Load's context: a model whose run on ones never ends (a Loop
// with no trip count whose condition stays true) is refused then, rather
// than holding Load, and a core, for as long as the caller's context
// lasts, which may be for ever. Tests change it.
var loadRunLimit = time.Minute

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
	// Every session allocates from the process's arena (see shareArena).
	if err := so.AddSessionConfigEntry("session.use_env_allocators", "1"); err != nil {
		return nil, &runtimeError{Op: "share the arena", Err: err}
	}
	// Constant folding allocates outside that arena: a 300-byte model
	// whose constants expand to a 1 GiB tensor took 2.1 GB and 11 s to
	// load under MaxMemory(256 MiB). Without it, such a tensor is made at
	// each run, from the arena, and the load-time run refuses the model.
	if err := so.AddSessionConfigEntry("optimization.disable_specified_optimizers", "ConstantFolding"); err != nil {
		return nil, &runtimeError{Op: "disable constant folding", Err: err}
	}
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
		s, err := createSession(ctx, b, in, out, so)
		if err != nil {
			destroySessions(ss)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
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
// not keep it, nor leave the session counted in liveSessions. When ctx
// has ended by the time the session is made (its Load gave up), the
// session is destroyed, and uncounted, before the turn is given back:
// otherwise the next creation could start while it is still alive, and
// the sessions of Loads that gave up would outnumber maxCreating.
func createSession(ctx context.Context, b []byte, in, out []string, so *ort.SessionOptions) (s *ort.DynamicAdvancedSession, err error) {
	liveSessions.Add(1)
	defer func() {
		if s == nil || err != nil {
			liveSessions.Add(-1)
		}
		<-creating
	}()
	s, err = newSession(b, in, out, so)
	if err == nil && ctx.Err() != nil {
		destroySession(s)
		return nil, ctx.Err()
	}
	return s, err
}

// newSession is ONNX Runtime's session constructor; tests replace it.
var newSession = ort.NewDynamicAdvancedSessionWithONNXData

// destroySession destroys one session; tests replace it.
var destroySession = func(s *ort.DynamicAdvancedSession) { s.Destroy() }

// destroySessions destroys ss.
func destroySessions(ss []*ort.DynamicAdvancedSession) {
	for _, s := range ss {
		destroySession(s)
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
	// inC and outC are the input and output names, for ONNX Runtime.
	inC, outC cNames
	maxElems  int64
	maxMem    int64 // the process's MaxMemory, for errors
	batch     bool  // PredictBatch runs rows together

	next     atomic.Uint32
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
	var re *runtimeError
	if errors.As(err, &re) && outOfArena(re.Err) {
		return serving.Unsupported(FormatName, fmt.Errorf("dry run on ones: the model asks for more memory than MaxMemory(%d) leaves: %w", m.maxMem, re))
	}
	if errors.As(err, &re) {
		// Ones may be values the model cannot run on (a shape, an axis,
		// an index): plan from the declared outputs instead, and let a
		// record with values that work be scored. Kept, not refused as
		// corrupt: 31 models of the ONNX backend suite that reproduce
		// their test data fail on ones (Reshape, Slice, Split, Squeeze,
		// Unsqueeze, CumSum and RoiAlign of inputs a record fills), and
		// TestRuntimeLoadsAModelOnesCannotRun keeps one. What this run
		// would have refused (a run past MaxMemory) is then met by
		// records, each bounded alone: by the arena, and by its context.
		if m.out, err = planDeclaredOutputs(gi); err != nil {
			return loadFailure("dry run on ones", re.Err)
		}
		return nil
	}
	if err != nil {
		return serving.Unsupported(FormatName, fmt.Errorf("dry run on ones: %w", err))
	}
	m.out, err = planOutputs(gi, m.outNames, outs)
	if errors.Is(err, errEmptyOutput) {
		// Ones left an output empty: its size is set by the record's
		// values (NonMaxSuppression's selected boxes, a Slice whose
		// bounds are inputs). Plan from the declared outputs, as when
		// ones cannot run, and score rows one by one; a record that
		// leaves an output empty fails alone with ErrBackend.
		if m.out, err = planDeclaredOutputs(gi); err != nil {
			return serving.Unsupported(FormatName, err)
		}
		return nil
	}
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

// outOfArena reports whether err is ONNX Runtime's answer to a run that
// asked its arena for more than MaxMemory leaves.
func outOfArena(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "is smaller than requested bytes") || strings.Contains(msg, "Failed to allocate memory")
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
	m.inC.free()
	m.outC.free()
	m.inC, m.outC = nil, nil
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
	outs, err := m.run(ctx, rows)
	if err != nil {
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
	// ONNX Runtime allocates every output; each is released here, also
	// when the run, or reading another output, fails (see runValues).
	outputs := make([]unsafe.Pointer, len(m.outNames))
	defer releaseValues(outputs)
	s := m.sessions[int(m.next.Add(1))%len(m.sessions)]
	if err := runSession(ctx, s, m.inC, m.outC, inputs, outputs); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
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

// runSession runs s, cut short when ctx ends; tests replace it.
var runSession = runValues

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
