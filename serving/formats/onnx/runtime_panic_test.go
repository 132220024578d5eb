//go:build cgo

package onnx_test

import (
	"context"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/onnx"
)

// A panic while ONNX Runtime's binding creates a model's second session
// is recovered as a refused model (by Load's own goroutine when its
// context can end, by serving.Load otherwise); the first session, made
// before it, must be destroyed, and the one being created no longer
// counted. Before, both stayed counted and the first was never
// destroyed.
func TestRuntimePanicCreatingASessionLeaksNone(t *testing.T) {
	f := runtimeFormat(t, onnx.Instances(2))
	base := onnx.LiveSessions()
	restore := onnx.PanicCreatingSessionAfter(1)
	defer restore()
	d := serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: tinyScorer()}

	// A context that can end: the sessions are created in a goroutine.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if m, err := f.Load(ctx, d); err == nil {
		m.(serving.Closer).Close()
		t.Fatal("Load succeeded though creating a session panicked")
	}
	if n := onnx.LiveSessions(); n != base {
		t.Errorf("%d sessions alive after a Load whose second session panicked, want %d", n, base)
	}

	// One that cannot: the panic reaches the caller.
	restore()
	restore = onnx.PanicCreatingSessionAfter(1)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not reach Load's caller")
			}
		}()
		if m, err := f.Load(context.Background(), d); err == nil {
			m.(serving.Closer).Close()
		}
	}()
	if n := onnx.LiveSessions(); n != base {
		t.Errorf("%d sessions alive after a Load whose second session panicked, want %d", n, base)
	}
}

// A panic in the run Load makes to learn the model's outputs (the dry
// run) reaches Load's caller, whatever the context (serving.Load
// recovers it as a refused model); the model's sessions, all made by
// then, must be destroyed and no longer counted. Before, they stayed
// alive and counted.
func TestRuntimePanicInTheLoadTimeRunLeaksNone(t *testing.T) {
	f := runtimeFormat(t, onnx.Instances(2))
	base := onnx.LiveSessions()
	d := serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: tinyScorer()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
	}{{"context.Background", context.Background()}, {"a cancellable context", ctx}} {
		func() {
			defer onnx.PanicRunningAfter(0)()
			defer func() {
				if recover() == nil {
					t.Errorf("%s: the panic did not reach Load's caller", c.name)
				}
			}()
			if m, err := f.Load(c.ctx, d); err == nil {
				m.(serving.Closer).Close()
			}
		}()
		if n := onnx.LiveSessions(); n != base {
			t.Errorf("%s: %d sessions alive after a Load whose load-time run panicked, want %d", c.name, n, base)
		}
	}

	// Without the panic, the same Load keeps its sessions until Close.
	m, err := f.Load(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if n := onnx.LiveSessions(); n != base+2 {
		t.Errorf("%d sessions alive after a Load of two, want %d", n, base+2)
	}
	m.(serving.Closer).Close()
	if n := onnx.LiveSessions(); n != base {
		t.Errorf("%d sessions alive after Close, want %d", n, base)
	}
}
