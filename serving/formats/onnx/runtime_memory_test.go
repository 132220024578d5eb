//go:build cgo && linux

package onnx_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/onnx"
)

// doubling is a model of k Concat nodes, each of the value before it
// with itself, from an input of one float: the last holds 2^k floats.
// Every size in it is fixed, and none is set by a constant, so nothing
// at load bounds it: 26 such nodes, 1.4 KB of model, made ONNX Runtime
// take 850 MB in its load-time run.
func doubling(k int) []byte {
	var nodes [][]byte
	prev := "x"
	for i := 1; i <= k; i++ {
		cur := fmt.Sprintf("c%d", i)
		nodes = append(nodes, node("Concat", []string{prev, prev}, []string{cur}, attrInt("axis", 0)))
		prev = cur
	}
	nodes = append(nodes, node("ReduceSum", []string{prev}, []string{"y"}, attrInt("keepdims", 1)))
	return model(13, graphSpec{nodes: nodes, inputs: [][]byte{valueInfo("x", elemFloat, 1)}, outputs: [][]byte{valueInfo("y", elemFloat, 1)}})
}

// expanding is a model whose constants alone make a tensor of rows*cols
// floats: a ConstantOfShape of [rows], reshaped to [rows 1] and expanded
// to [rows cols], summed and added to its input x of shape [1]. Every
// size the load-time walk reads is small (rows, and the Expand's shape
// [1 cols]), so it is not refused for MaxTensorElements; ONNX Runtime's
// constant folding made the tensor when it created the session, outside
// the MaxMemory arena.
func expanding(rows, cols int64) []byte {
	return model(13, graphSpec{
		nodes: [][]byte{
			node("ConstantOfShape", []string{"rows"}, []string{"a"}, attrTensor("value", initializer("one", []int{1}, []float32{1}))),
			node("Reshape", []string{"a", "column"}, []string{"col"}),
			node("Expand", []string{"col", "wide"}, []string{"big"}),
			node("ReduceSum", []string{"big"}, []string{"s"}, attrInt("keepdims", 0)),
			node("Add", []string{"x", "s"}, []string{"y"}),
		},
		inits: [][]byte{
			int64Initializer("rows", []int{1}, []int64{rows}),
			int64Initializer("column", []int{2}, []int64{rows, 1}),
			int64Initializer("wide", []int{2}, []int64{1, cols}),
		},
		inputs:  [][]byte{valueInfo("x", elemFloat, 1)},
		outputs: [][]byte{valueInfo("y", elemFloat, 1)},
	})
}

// A model whose graph makes a value larger than MaxMemory is refused at
// load, when its load-time run asks ONNX Runtime for that memory, and
// the models within the bound load and score beside it. Before, the
// 2^25 floats (128 MiB) of doubling(25) were allocated, and a few more
// nodes took all the host's memory. It runs in a child process, since
// the bound is the process's, set when the library loads.
func TestRuntimeMaxMemory(t *testing.T) {
	if os.Getenv("ONNX_TEST_MAX_MEMORY") == "" {
		runtimeFormat(t) // skips without the library, or fails under CI
		cmd := exec.Command(os.Args[0], "-test.run", "^TestRuntimeMaxMemory$", "-test.v")
		cmd.Env = append(os.Environ(), "ONNX_TEST_MAX_MEMORY=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	ctx := context.Background()
	f := runtimeFormat(t, onnx.MaxMemory(64<<20))
	small := loadRuntime(t, f, doubling(16)) // 256 KiB
	if p, err := small.Predict(ctx, []float64{1}); err != nil || p.Value != 1<<16 {
		t.Fatalf("doubling(16): Predict = %v, %v; want %v", p.Value, err, 1<<16)
	}
	// A tensor the model's constants make counts against the bound too:
	// ONNX Runtime's constant folding at session creation allocated the
	// 2^25 floats of expanding(2^15, 2^10) outside the arena, and the
	// model loaded.
	if e, err := f.Load(ctx, serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: expanding(1<<5, 1<<10)}); err != nil {
		t.Fatalf("Load(expanding(2^5, 2^10)): %v", err)
	} else {
		p, err := e.Predict(ctx, []float64{1})
		e.(serving.Closer).Close()
		if err != nil || p.Value != 1+1<<15 {
			t.Fatalf("expanding(2^5, 2^10): Predict = %v, %v; want %v", p.Value, err, 1+1<<15)
		}
	}
	m, err := f.Load(ctx, serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: expanding(1<<15, 1<<10)})
	if !errors.Is(err, serving.ErrUnsupportedModel) {
		if m != nil {
			m.(serving.Closer).Close()
		}
		t.Fatalf("Load(expanding(2^15, 2^10)) = %v; want serving.ErrUnsupportedModel", err)
	}
	t.Logf("Load(expanding(2^15, 2^10)): %v", err)
	m, err = f.Load(ctx, serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: doubling(25)})
	if !errors.Is(err, serving.ErrUnsupportedModel) {
		if m != nil {
			p, perr := m.Predict(ctx, []float64{1})
			m.(serving.Closer).Close()
			t.Errorf("doubling(25) loaded and scored %v, %v", p.Value, perr)
		}
		t.Fatalf("Load(doubling(25)) = %v; want serving.ErrUnsupportedModel", err)
	}
	t.Logf("Load(doubling(25)): %v", err)
	// The bound holds after a refusal: with the arena growing by what each
	// run asked, ONNX Runtime let the next run past it, and
	// expanding(2^15, 2^10), refused before doubling(25), loaded after it
	// (so did expanding(2^18, 2^10): 1 GiB).
	if m, err := f.Load(ctx, serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: expanding(1<<15, 1<<10)}); !errors.Is(err, serving.ErrUnsupportedModel) {
		if m != nil {
			m.(serving.Closer).Close()
		}
		t.Fatalf("Load(expanding(2^15, 2^10)) after the refusal of doubling(25) = %v; want serving.ErrUnsupportedModel", err)
	}
	if p, err := small.Predict(ctx, []float64{2}); err != nil || p.Value != 2<<16 {
		t.Errorf("doubling(16) after the refusal: Predict = %v, %v; want %v", p.Value, err, 2<<16)
	}
	tiny := loadRuntime(t, f, tinyScorer())
	if p, err := tiny.Predict(ctx, []float64{1, 2}); err != nil || math.Abs(p.Value-tinyScorerReference([]float64{1, 2})) > 1e-6 {
		t.Errorf("tiny scorer: Predict = %v, %v", p.Value, err)
	}
	// The bound is the process's: an engine asking for another fails.
	if _, err := onnx.Open(onnx.Runtime(onnx.MaxMemory(128 << 20))); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("Open(Runtime(MaxMemory(128 MiB))) after 64 MiB: %v; want serving.ErrConfig", err)
	}
}

// foreverLoop adds x to a Loop with no trip count whose condition is a
// constant true, over a constant: its run never ends, whatever the
// record, so no check of what the record reaches refuses it.
func foreverLoop() []byte {
	var body pb
	body = body.bytes(1, node("Identity", []string{"c_in"}, []string{"c_out"}))
	body = body.bytes(1, node("Add", []string{"v_in", "one"}, []string{"v_out"}))
	body = body.str(2, "body")
	body = body.bytes(11, valueInfo("i", elemInt64)).bytes(11, valueInfo("c_in", 9)).bytes(11, valueInfo("v_in", elemFloat, 1))
	body = body.bytes(12, valueInfo("c_out", 9)).bytes(12, valueInfo("v_out", elemFloat, 1))
	yes := pb(nil).varint(2, 9).varint(5, 1).str(8, "yes") // a bool true
	return model(13, graphSpec{
		nodes: [][]byte{
			node("Loop", []string{"", "yes", "zero"}, []string{"l"}, attrGraph("body", body)),
			node("Add", []string{"l", "x"}, []string{"y"}),
		},
		inits:   [][]byte{yes, initializer("one", nil, []float32{1}), initializer("zero", []int{1}, []float32{0})},
		inputs:  [][]byte{valueInfo("x", elemFloat, 1)},
		outputs: [][]byte{valueInfo("y", elemFloat, 1)},
	})
}

// A model whose load-time run never ends is refused once that run has
// taken the engine's limit, even when Load's context never ends (as the
// context a feed loads with may not). Before, Load spun for ever, holding
// a core and the caller.
func TestRuntimeLoadRunIsBounded(t *testing.T) {
	f := runtimeFormat(t)
	defer onnx.SetLoadRunLimit(200 * time.Millisecond)()
	type result struct {
		m   serving.Model
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: foreverLoop()})
		done <- result{m, err}
	}()
	select {
	case r := <-done:
		if !errors.Is(r.err, serving.ErrUnsupportedModel) {
			if r.m != nil {
				r.m.(serving.Closer).Close()
			}
			t.Fatalf("Load = %v, %v; want serving.ErrUnsupportedModel", r.m, r.err)
		}
		t.Logf("Load: %v", r.err)
	case <-time.After(30 * time.Second):
		t.Fatal("Load of a model whose run never ends has not returned after 30 s, with a limit of 200 ms")
	}
	// The engine still loads and scores.
	tiny := loadRuntime(t, f, tinyScorer())
	if p, err := tiny.Predict(context.Background(), []float64{1, 2}); err != nil || math.Abs(p.Value-tinyScorerReference([]float64{1, 2})) > 1e-6 {
		t.Errorf("tiny scorer: Predict = %v, %v", p.Value, err)
	}
}

// whileBelowTen is a Loop with no trip count that adds 1 to v, from the
// record's x, while v < 10: a record of -1e9 makes it run 10^9 times.
func whileBelowTen() []byte {
	var body pb
	body = body.bytes(1, node("Add", []string{"v_in", "one"}, []string{"v_out"}))
	body = body.bytes(1, node("Less", []string{"v_out", "ten"}, []string{"c_out"}))
	body = body.str(2, "body")
	body = body.bytes(11, valueInfo("i", elemInt64)).bytes(11, valueInfo("c_in", 9, 1)).bytes(11, valueInfo("v_in", elemFloat, 1))
	body = body.bytes(12, valueInfo("c_out", 9, 1)).bytes(12, valueInfo("v_out", elemFloat, 1))
	return model(13, graphSpec{
		nodes: [][]byte{
			node("Less", []string{"x", "ten"}, []string{"c"}),
			node("Loop", []string{"", "c", "x"}, []string{"y"}, attrGraph("body", body)),
		},
		inits:   [][]byte{initializer("one", nil, []float32{1}), initializer("ten", nil, []float32{10})},
		inputs:  [][]byte{valueInfo("x", elemFloat, 1)},
		outputs: [][]byte{valueInfo("y", elemFloat, 1)},
	})
}

// A Loop with no trip count whose inputs the record computes is refused
// at load: a record could make it run, and its scan outputs grow, for as
// long as the scoring call's context lasts. Before, whileBelowTen loaded,
// and a record of -1e9 would have spun in Predict.
func TestRuntimeRefusesALoopARecordDrives(t *testing.T) {
	m, err := runtimeFormat(t).Load(context.Background(), serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: whileBelowTen()})
	if !errors.Is(err, serving.ErrUnsupportedModel) {
		if m != nil {
			p, perr := m.Predict(context.Background(), []float64{5})
			m.(serving.Closer).Close()
			t.Errorf("whileBelowTen loaded; Predict([5]) = %v, %v", p.Value, perr)
		}
		t.Fatalf("Load = %v; want serving.ErrUnsupportedModel", err)
	}
	t.Logf("Load: %v", err)
}
