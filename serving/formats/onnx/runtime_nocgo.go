//go:build !cgo

package onnx

// openRuntime fails: ONNX Runtime is reached through cgo, and this
// program was built without it.
func openRuntime(runtimeOptions) (loader, error) {
	return nil, &libraryError{Reason: "this program was built without cgo (CGO_ENABLED=0), which the ONNX Runtime engine needs"}
}
