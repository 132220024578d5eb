//go:build linux

package onnx_test

import (
	"context"
	"errors"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/onnx"
)

// rss is the process's resident set size, from /proc/self/statm.
func rss(t *testing.T) int64 {
	t.Helper()
	debug.FreeOSMemory() // Go's garbage is not what is measured
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

// rankThenBig is rankFromData with r first and, after it, y: x expanded
// to rows×3 floats, an output ONNX Runtime allocates at each run.
func rankThenBig(rows int) []byte {
	return model(13, graphSpec{
		nodes: [][]byte{
			node("Cast", []string{"x"}, []string{"xb"}, attrInt("to", 9)),
			node("Compress", []string{"ones", "xb"}, []string{"shape"}),
			node("Reshape", []string{"five", "shape"}, []string{"r"}),
			node("Expand", []string{"x", "yshape"}, []string{"y"}),
		},
		inits: [][]byte{
			int64Initializer("ones", []int{3}, []int64{1, 1, 1}),
			initializer("five", []int{1}, []float32{5}),
			int64Initializer("yshape", []int{2}, []int64{int64(rows), 3}),
		},
		inputs:  [][]byte{valueInfo("x", elemFloat, 3)},
		outputs: [][]byte{valueInfo("r", elemFloat, 1), valueInfo("y", elemFloat, rows, 3)},
	})
}

// scalarSeqThenBig has a first output q, a sequence holding one scalar
// (the sum of x), which this engine does not read, so that its Load
// fails in the load-time run, and then y as in rankThenBig.
func scalarSeqThenBig(rows int) []byte {
	seq := pb(nil).bytes(4, pb(nil).bytes(1, pb(nil).bytes(1, pb(nil).varint(1, elemFloat))))
	return model(13, graphSpec{
		nodes: [][]byte{
			node("ReduceSum", []string{"x"}, []string{"s"}, attrInt("keepdims", 0)),
			node("SequenceConstruct", []string{"s"}, []string{"q"}),
			node("Expand", []string{"x", "yshape"}, []string{"y"}),
		},
		inits:   [][]byte{int64Initializer("yshape", []int{2}, []int64{int64(rows), 3})},
		inputs:  [][]byte{valueInfo("x", elemFloat, 3)},
		outputs: [][]byte{pb(nil).str(1, "q").bytes(2, seq), valueInfo("y", elemFloat, rows, 3)},
	})
}

// A model whose first output is a scalar for some records only, with an
// output ONNX Runtime allocates after it, published again and again (a
// new version per message, each scored on such a record, then closed):
// no run may leave ONNX Runtime's memory behind; nor may a Load that
// fails because its load-time run made an output this engine does not
// read. Before, onnxruntime_go stopped converting the outputs at the
// scalar (or the sequence holding one) and never released y, 3 MB a
// version here: 60 versions of each grew the process by 572 MB (375 MB
// with the first model alone).
func TestRuntimeRepublishedModelsLeakNoOutputs(t *testing.T) {
	f := runtimeFormat(t)
	const rows = 1 << 18 // y holds 3 MB of float32
	b, refused := rankThenBig(rows), scalarSeqThenBig(rows)
	ctx := context.Background()
	version := func() {
		if m, err := f.Load(ctx, serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: refused}); !errors.Is(err, serving.ErrUnsupportedModel) {
			t.Fatalf("Load of a model whose first output is a sequence of a scalar = %v, %v; want serving.ErrUnsupportedModel", m, err)
		}
		m, err := f.Load(ctx, serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: b})
		if err != nil {
			t.Fatal(err)
		}
		defer m.(serving.Closer).Close()
		for _, x := range [][]float64{{1, 0, 0}, {0, 0, 0}, {1, 1, 0}} {
			m.Predict(ctx, x) // scored or refused: either way nothing is kept
		}
	}
	for range 5 { // ONNX Runtime's arenas and Go's heap reach their size
		version()
	}
	before := rss(t)
	const versions = 60
	for range versions {
		version()
	}
	grew := rss(t) - before
	t.Logf("RSS grew %.1f MB over %d versions", float64(grew)/(1<<20), versions)
	if lost := 2 * int64(versions) * rows * 3 * 4; grew > lost/3 {
		t.Errorf("RSS grew %.1f MB over %d versions, a third or more of the %.1f MB the runs' outputs held: outputs are not released",
			float64(grew)/(1<<20), versions, float64(lost)/(1<<20))
	}
}
