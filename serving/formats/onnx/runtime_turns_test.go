//go:build cgo

package onnx_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/onnx"
)

// The bound holds at every moment, not only when a Load returns: a
// creation that a Load gave up destroys its session before it gives its
// turn to the next one. Here MaxCreating creations are held until their
// Loads have given up, and a further Load waits for a turn; each destroy
// waits for a creation to start. Before, the turn was given back first,
// so the waiting Load started its creation while the MaxCreating
// sessions were still alive: 5 at once, want at most 4 (which
// TestRuntimeAbandonedCreationsAreBounded met once at load ~5, when a
// creation ended while its session was being destroyed).
func TestRuntimeAbandonedSessionGoesBeforeItsTurn(t *testing.T) {
	f := runtimeFormat(t)
	base := onnx.LiveSessions()
	open, peak, restore := onnx.GateCreations()
	defer restore()
	defer open()
	d := serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: tinyScorer()}
	for range onnx.MaxCreating {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		m, err := f.Load(ctx, d)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			if err == nil {
				m.(serving.Closer).Close()
			}
			t.Fatalf("Load = %v; want context.DeadlineExceeded", err)
		}
	}
	type result struct {
		m   serving.Model
		err error
	}
	waiting := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		m, err := f.Load(ctx, d)
		waiting <- result{m, err}
	}()
	open()
	r := <-waiting
	if r.err != nil {
		t.Fatalf("Load after the turns came back: %v", r.err)
	}
	r.m.(serving.Closer).Close()
	if most := peak() - base; most > onnx.MaxCreating {
		t.Errorf("%d sessions alive as a creation started, after Loads that gave up, want at most %d", most, onnx.MaxCreating)
	}
	for deadline := time.Now().Add(time.Minute); onnx.LiveSessions() != base; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions alive a minute after the Loads returned, want %d", onnx.LiveSessions(), base)
		}
	}
}
