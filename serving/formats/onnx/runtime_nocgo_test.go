//go:build !cgo

package onnx_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving/formats/onnx"
)

func TestRuntimeWithoutCgo(t *testing.T) {
	_, err := onnx.Open(onnx.Runtime())
	var le *onnx.LibraryError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "without cgo") {
		t.Fatalf("Open: %v, want a *LibraryError saying cgo is missing", err)
	}
	if _, err := onnx.Open(onnx.RuntimeOrPureGo()); err != nil {
		t.Fatalf("RuntimeOrPureGo: %v, want the pure-Go fallback", err)
	}
}
