package onnx

import (
	"fmt"
	"slices"

	"github.com/modelstream/modelstream/serving"
)

// LibraryEnv is the environment variable naming the ONNX Runtime shared
// library, consulted when no [LibraryPath] is given.
const LibraryEnv = "ONNXRUNTIME_LIB"

// Defaults of the options of [Runtime], which their docs state.
const (
	defaultIntraOpThreads = 1
	defaultInterOpThreads = 1
	defaultMaxMemory      = 4 << 30
	minMaxMemory          = 1 << 20
)

// defaultLibraryNames are tried, through the dynamic loader's own search
// (LD_LIBRARY_PATH, the loader cache, the system directories), when
// neither LibraryPath nor ONNXRUNTIME_LIB is set.
var defaultLibraryNames = []string{"libonnxruntime.so", "libonnxruntime.so.1", "libonnxruntime.dylib"}

type runtimeOptions struct {
	library  string
	intra    int
	inter    int
	sessions int
	maxElems int64
	maxMem   int64
	// maxMemSet is set when MaxMemory was given.
	maxMemSet bool
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
func LibraryPath(path string) Option {
	return func(o *options) { o.library = path; o.runtimeOnly = append(o.runtimeOnly, "LibraryPath") }
}

// IntraOpThreads sets the threads ONNX Runtime uses inside one op, per
// session. Overrides the default of 1: a service scores many records at
// once from several goroutines, so parallelism across records beats
// parallelism inside one small model, and ONNX Runtime's own pool would
// compete with those goroutines for the same cores. 0 means ONNX
// Runtime's own default, one per physical core. n must not be negative.
func IntraOpThreads(n int) Option {
	return func(o *options) { o.intra = n; o.runtimeOnly = append(o.runtimeOnly, "IntraOpThreads") }
}

// InterOpThreads sets the threads ONNX Runtime uses to run independent
// ops of one graph side by side, per session. Overrides the default of
// 1, for the same reason as [IntraOpThreads]; 0 means ONNX Runtime's own
// default. n must not be negative.
func InterOpThreads(n int) Option {
	return func(o *options) { o.inter = n; o.runtimeOnly = append(o.runtimeOnly, "InterOpThreads") }
}

// MaxMemory bounds, in bytes, the memory ONNX Runtime allocates for
// tensors in this process: the weights of every model loaded on it and
// the values their runs make, together. The sessions of every model
// allocate from one arena of that size, so that a model whose graph
// makes a huge value (k Concat nodes, each of the value before it with
// itself, make 2^k floats out of one: 26 took 850 MB at load) fails when
// it asks, instead of taking the host's memory: refused at Load when its
// load-time run asks, or, for a record, with [ErrBackend] while the model
// keeps serving. The arena keeps the memory it has taken, for later runs.
// Overrides the default of 4 GiB; n must be at least 1 MiB.
//
// The bound is set once per process, by the first engine that starts (it
// loads the library): a later engine giving another bound fails.
func MaxMemory(n int64) Option {
	return func(o *options) { o.maxMemory = n; o.runtimeOnly = append(o.runtimeOnly, "MaxMemory") }
}

// newRuntimeOptions applies opts over the defaults for ONNX Runtime.
func newRuntimeOptions(opts []Option) (runtimeOptions, error) {
	c, err := newOptions(opts)
	o := runtimeOptions{library: c.library, intra: c.intra, inter: c.inter, sessions: c.instances, maxElems: c.maxElements, maxMem: defaultMaxMemory}
	if err != nil {
		return o, err
	}
	if c.maxMemory != 0 || slices.Contains(c.runtimeOnly, "MaxMemory") {
		o.maxMem, o.maxMemSet = c.maxMemory, true
	}
	switch {
	case o.maxMem < minMaxMemory:
		return o, fmt.Errorf("%w: onnx: MaxMemory(%d): must be at least %d (1 MiB)", serving.ErrConfig, o.maxMem, minMaxMemory)
	case o.intra < 0:
		return o, fmt.Errorf("%w: onnx: IntraOpThreads(%d): must not be negative", serving.ErrConfig, o.intra)
	case o.inter < 0:
		return o, fmt.Errorf("%w: onnx: InterOpThreads(%d): must not be negative", serving.ErrConfig, o.inter)
	}
	return o, nil
}

// libraryCandidates lists what to try, in order, with where each came
// from.
func (o runtimeOptions) libraryCandidates(env string) []libraryAttempt {
	switch {
	case o.library != "":
		return []libraryAttempt{{Path: o.library, From: "LibraryPath"}}
	case env != "":
		return []libraryAttempt{{Path: env, From: LibraryEnv}}
	}
	var c []libraryAttempt
	for _, n := range defaultLibraryNames {
		c = append(c, libraryAttempt{Path: n, From: "default name"})
	}
	return c
}
