package onnx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/modelstream/modelstream/serving"
)

// Engine is a way to run ONNX models: [PureGo], [Runtime] or
// [RuntimeOrPureGo]. It is a description; [UseEngine] or [Open] starts it.
// The zero Engine is PureGo with the default options.
type Engine struct {
	kind engineKind
	opts []Option
}

type engineKind int

const (
	kindPureGo engineKind = iota
	kindRuntime
	kindRuntimeOrPureGo
)

// PureGo is the engine of onnx-go with its gorgonnx backend, in pure Go,
// configured by opts (see [Option]). It is the engine of a program that
// never calls [UseEngine].
func PureGo(opts ...Option) Engine { return Engine{kind: kindPureGo, opts: opts} }

// Runtime is the ONNX Runtime engine, run through its C API from a shared
// library that [UseEngine] or [Open] loads (see [LibraryPath] for where it
// is looked for). It needs cgo: in a program built with CGO_ENABLED=0,
// starting it fails with an error wrapping [ErrRuntimeUnavailable].
func Runtime(opts ...Option) Engine { return Engine{kind: kindRuntime, opts: opts} }

// RuntimeOrPureGo is [Runtime] when its shared library loads, and [PureGo]
// otherwise, with the options the two share ([Instances],
// [MaxTensorElements]); the others are then unused. Starting it never fails for want of
// the library: why it fell back is logged.
func RuntimeOrPureGo(opts ...Option) Engine {
	return Engine{kind: kindRuntimeOrPureGo, opts: opts}
}

// String names the engine: "pure-go", "onnxruntime" or
// "onnxruntime-or-pure-go".
func (e Engine) String() string {
	switch e.kind {
	case kindRuntime:
		return "onnxruntime"
	case kindRuntimeOrPureGo:
		return "onnxruntime-or-pure-go"
	}
	return "pure-go"
}

// loader is a started engine.
type loader interface {
	load(ctx context.Context, b []byte) (serving.Model, error)
	// describe names the started engine for logs, such as
	// "onnxruntime 1.24.3 (/usr/lib/libonnxruntime.so)".
	describe() string
}

// start opens e. fallback is set when RuntimeOrPureGo fell back, with
// the reason.
func (e Engine) start() (l loader, fallback error, err error) {
	switch e.kind {
	case kindRuntime, kindRuntimeOrPureGo:
		ro, err := newRuntimeOptions(e.opts)
		if err != nil {
			return nil, nil, err
		}
		rt, err := openRuntime(ro)
		if err == nil {
			return rt, nil, nil
		}
		var le *libraryError
		if e.kind == kindRuntime || !errors.As(err, &le) {
			return nil, nil, err
		}
		o, _ := newOptions(e.opts) // checked by newRuntimeOptions
		return &goFormat{o: o}, err, nil
	}
	f, err := newGoFormat(e.opts...)
	if err != nil {
		return nil, nil, err
	}
	return f, nil, nil
}

// logger is the logger e's options give, once e has started.
func (e Engine) logger() *slog.Logger {
	o, _ := newOptions(e.opts) // checked by start
	return o.log
}

// liveSessions counts the ONNX Runtime sessions being created or alive
// (not yet destroyed), so that tests can see each one released.
var liveSessions atomic.Int64

// maxCreating bounds the ONNX Runtime sessions being created at once, by
// every Load of the process together.
const maxCreating = 4

// active is the engine behind the registered format.
var active atomic.Pointer[engineFormat]

func init() {
	f, err := newGoFormat()
	if err != nil {
		panic(err) // the defaults are valid; this cannot happen
	}
	active.Store(&engineFormat{l: f})
	serving.Register(FormatName, registered{})
}

// registered is the format registered under FormatName: it loads with
// whichever engine UseEngine chose last.
type registered struct{}

func (registered) Load(ctx context.Context, d serving.Descriptor) (serving.Model, error) {
	return active.Load().Load(ctx, d)
}

// engineFormat is a serving.Format over one started engine.
type engineFormat struct{ l loader }

func (f *engineFormat) Load(ctx context.Context, d serving.Descriptor) (serving.Model, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return f.l.load(ctx, d.Bytes)
}

// UseEngine starts e and makes it run every "onnx" model loaded from now
// on through serving.Load and the Server; models already loaded keep the
// engine that loaded them. Call it once at start-up, before models
// arrive, for example
//
//	if err := onnx.UseEngine(onnx.Runtime()); err != nil { ... }
//
// A program that never calls UseEngine runs models on [PureGo]. The choice
// is logged through the engine's [Logger]: the engine at Info, and for
// ONNX Runtime the library's version and path, or, at Warn, why
// RuntimeOrPureGo fell back. On error
// the engine in use does not change; the error wraps serving.ErrConfig for
// invalid options, or wraps [ErrRuntimeUnavailable] when ONNX Runtime cannot be
// loaded. UseEngine is safe for concurrent use.
func UseEngine(e Engine) error {
	l, fallback, err := e.start()
	if err != nil {
		return err
	}
	active.Store(&engineFormat{l: l})
	log := e.logger()
	if fallback != nil {
		log.Warn("onnx: ONNX Runtime is unavailable; ONNX models run on the pure-Go engine", "err", fallback)
		return nil
	}
	log.Info("onnx: engine chosen", "engine", l.describe())
	return nil
}

// Open starts e and returns a serving.Format that loads with it, apart
// from the registered "onnx" format: to load models directly, or to
// register a second name, such as "onnx-runtime" beside "onnx", so that
// both engines serve side by side. Errors are as for [UseEngine].
func Open(e Engine) (serving.Format, error) {
	l, fallback, err := e.start()
	if err != nil {
		return nil, err
	}
	if fallback != nil {
		e.logger().Warn("onnx: ONNX Runtime is unavailable; this format runs on the pure-Go engine", "err", fallback)
	}
	return &engineFormat{l: l}, nil
}

// ErrRuntimeUnavailable means the ONNX Runtime shared library could not be
// loaded: missing, of the wrong version, or the program was built without
// cgo. The error says why, and lists every library looked at.
var ErrRuntimeUnavailable = errors.New("onnx: ONNX Runtime unavailable")

// libraryError says why no ONNX Runtime shared library could be loaded,
// listing every place looked at. It wraps ErrRuntimeUnavailable.
type libraryError struct {
	// Tried lists the candidates in the order tried.
	Tried []libraryAttempt
	// Reason is set when no candidate was tried, such as a program built
	// without cgo.
	Reason string
}

// libraryAttempt is one library candidate and why it was refused.
type libraryAttempt struct {
	// Path is the file or library name given to dlopen.
	Path string
	// From says where the candidate came from: "LibraryPath",
	// "ONNXRUNTIME_LIB" or "default name".
	From string
	// Err is why it was refused.
	Err error
}

// Error implements error.
func (e *libraryError) Error() string {
	var b strings.Builder
	b.WriteString(ErrRuntimeUnavailable.Error())
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	for i, t := range e.Tried {
		if i == 0 {
			b.WriteString(": tried ")
		} else {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s (%s): %v", t.Path, t.From, t.Err)
	}
	return b.String()
}

// Unwrap returns ErrRuntimeUnavailable.
func (e *libraryError) Unwrap() error { return ErrRuntimeUnavailable }

// runtimeError is an error of ONNX Runtime itself, such as a graph it
// refuses or an op it lacks. At load it is wrapped in a
// *serving.FormatError of kind serving.ErrCorruptModel or
// serving.ErrUnsupportedModel; at Predict, with [ErrBackend]. Its
// Unwrap gives ONNX Runtime's own error.
type runtimeError struct {
	// Op is what failed: "create session" or "run".
	Op string
	// Err is ONNX Runtime's error.
	Err error
}

// Error implements error.
func (e *runtimeError) Error() string { return "onnxruntime: " + e.Op + ": " + e.Err.Error() }

// Unwrap returns ONNX Runtime's error.
func (e *runtimeError) Unwrap() error { return e.Err }

// describe implements loader.
func (f *goFormat) describe() string { return "pure-go (onnx-go with gorgonnx)" }

// load implements loader. A refused model is a nil Model, not a nil
// *goModel in a Model, which a caller's m != nil would take for a model.
func (f *goFormat) load(_ context.Context, b []byte) (serving.Model, error) {
	m, err := f.parse(b)
	if err != nil {
		return nil, err
	}
	return m, nil
}
