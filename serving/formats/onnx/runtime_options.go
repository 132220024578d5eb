package onnx

import (
	"fmt"

	"github.com/modelstream/modelstream/serving"
)

// LibraryEnv is the environment variable naming the ONNX Runtime shared
// library, consulted when no [LibraryPath] is given.
const LibraryEnv = "ONNXRUNTIME_LIB"

// Defaults of the options of [Runtime], which their docs state.
const (
	defaultIntraOpThreads = 1
	defaultInterOpThreads = 1
	defaultSessions       = 1
)

// defaultLibraryNames are tried, through the dynamic loader's own search
// (LD_LIBRARY_PATH, the loader cache, the system directories), when
// neither LibraryPath nor ONNXRUNTIME_LIB is set.
var defaultLibraryNames = []string{"libonnxruntime.so", "libonnxruntime.so.1", "libonnxruntime.dylib"}

// RuntimeOption configures the [Runtime] engine.
type RuntimeOption func(*runtimeOptions)

type runtimeOptions struct {
	library  string
	intra    int
	inter    int
	sessions int
	maxElems int64
}

// LibraryPath names the ONNX Runtime shared library to load, such as
// "/opt/onnxruntime/lib/libonnxruntime.so.1.24.3". Without it, the
// library named by the ONNXRUNTIME_LIB environment variable is loaded,
// and without that, the names libonnxruntime.so, libonnxruntime.so.1 and
// libonnxruntime.dylib are tried in the dynamic loader's search path.
// When a path is given, by option or environment, nothing else is tried.
//
// The library is loaded once per process, by the first engine that starts
// (it stays loaded): a later engine naming another library fails.
func LibraryPath(path string) RuntimeOption { return func(o *runtimeOptions) { o.library = path } }

// IntraOpThreads sets the threads ONNX Runtime uses inside one op, per
// session. Overrides the default of 1: a service scores many records at
// once from several goroutines, so parallelism across records beats
// parallelism inside one small model, and ONNX Runtime's own pool would
// compete with those goroutines for the same cores. 0 means ONNX
// Runtime's own default, one per physical core. n must not be negative.
func IntraOpThreads(n int) RuntimeOption { return func(o *runtimeOptions) { o.intra = n } }

// InterOpThreads sets the threads ONNX Runtime uses to run independent
// ops of one graph side by side, per session. Overrides the default of
// 1, for the same reason as [IntraOpThreads]; 0 means ONNX Runtime's own
// default. n must not be negative.
func InterOpThreads(n int) RuntimeOption { return func(o *runtimeOptions) { o.inter = n } }

// Sessions sets how many ONNX Runtime sessions each model keeps; calls
// are spread over them in turn. Every session holds its own copy of the
// optimized graph and weights. Overrides the default of
// 1: one session serves concurrent calls already (ONNX Runtime's Run is
// safe for concurrent use).
// n must be at least 1.
func Sessions(n int) RuntimeOption { return func(o *runtimeOptions) { o.sessions = n } }

// RuntimeMaxTensorElements bounds the elements of every input a record
// fills, and so the feature vector. Overrides the default of
// 16 Mi elements (64 MiB of float32). n must be at least 1.
func RuntimeMaxTensorElements(n int64) RuntimeOption {
	return func(o *runtimeOptions) { o.maxElems = n }
}

func newRuntimeOptions(opts []RuntimeOption) (runtimeOptions, error) {
	o := runtimeOptions{intra: defaultIntraOpThreads, inter: defaultInterOpThreads, sessions: defaultSessions, maxElems: defaultMaxTensorElements}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case o.intra < 0:
		return o, fmt.Errorf("%w: onnx: IntraOpThreads(%d): must not be negative", serving.ErrConfig, o.intra)
	case o.inter < 0:
		return o, fmt.Errorf("%w: onnx: InterOpThreads(%d): must not be negative", serving.ErrConfig, o.inter)
	case o.sessions < 1:
		return o, fmt.Errorf("%w: onnx: Sessions(%d): must be at least 1", serving.ErrConfig, o.sessions)
	case o.maxElems < 1:
		return o, fmt.Errorf("%w: onnx: RuntimeMaxTensorElements(%d): must be at least 1", serving.ErrConfig, o.maxElems)
	}
	return o, nil
}

// libraryCandidates lists what to try, in order, with where each came
// from.
func (o runtimeOptions) libraryCandidates(env string) []LibraryAttempt {
	switch {
	case o.library != "":
		return []LibraryAttempt{{Path: o.library, From: "LibraryPath"}}
	case env != "":
		return []LibraryAttempt{{Path: env, From: LibraryEnv}}
	}
	var c []LibraryAttempt
	for _, n := range defaultLibraryNames {
		c = append(c, LibraryAttempt{Path: n, From: "default name"})
	}
	return c
}
