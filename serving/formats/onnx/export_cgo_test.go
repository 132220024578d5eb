//go:build cgo

package onnx

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	ort "github.com/yalue/onnxruntime_go"
)

// PanicCreatingSessionAfter makes every session creation after the
// first n panic once the session is made, as a panic in ONNX Runtime's
// binding would, until the returned function restores the constructor.
func PanicCreatingSessionAfter(n int) (restore func()) {
	real := newSession
	made := 0
	newSession = func(b []byte, in, out []string, so *ort.SessionOptions) (*ort.DynamicAdvancedSession, error) {
		s, err := real(b, in, out, so)
		if made++; made > n {
			if err == nil {
				s.Destroy()
			}
			panic("onnxruntime_go panicked creating a session")
		}
		return s, err
	}
	return func() { newSession = real }
}

// PanicRunningAfter makes every session run after the first n panic once
// the run is over, as a panic in ONNX Runtime's binding would, until the
// returned function restores the runner.
func PanicRunningAfter(n int) (restore func()) {
	real := runSession
	ran := 0
	runSession = func(ctx context.Context, s *ort.DynamicAdvancedSession, in, out cNames, inputs []ort.Value, outputs []unsafe.Pointer) error {
		err := real(ctx, s, in, out, inputs, outputs)
		if ran++; ran > n {
			panic("onnxruntime_go panicked running a session")
		}
		return err
	}
	return func() { runSession = real }
}

// SetLoadRunLimit sets loadRunLimit until the returned function restores
// it.
func SetLoadRunLimit(d time.Duration) (restore func()) {
	old := loadRunLimit
	loadRunLimit = d
	return func() { loadRunLimit = old }
}

// GateCreations holds every session creation, once counted in
// liveSessions, until open is called, and makes every session destroy
// wait until another creation has started since, or half a second, so
// that a creation which could start while a session of a Load that gave
// up is still alive does. peak is the most sessions counted as a
// creation started; restore puts ONNX Runtime's constructor and
// destructor back.
func GateCreations() (open func(), peak func() int64, restore func()) {
	realNew, realDestroy := newSession, destroySession
	gate := make(chan struct{})
	var started, most atomic.Int64
	newSession = func(b []byte, in, out []string, so *ort.SessionOptions) (*ort.DynamicAdvancedSession, error) {
		n := liveSessions.Load()
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		started.Add(1)
		<-gate
		return realNew(b, in, out, so)
	}
	destroySession = func(s *ort.DynamicAdvancedSession) {
		n := started.Load()
		for deadline := time.Now().Add(500 * time.Millisecond); started.Load() == n && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		realDestroy(s)
	}
	var once sync.Once
	return func() { once.Do(func() { close(gate) }) }, most.Load, func() { newSession, destroySession = realNew, realDestroy }
}
