//go:build cgo

package onnx

import ort "github.com/yalue/onnxruntime_go"

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
