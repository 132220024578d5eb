//go:build cgo

package onnx

import (
	"context"
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
