package onnx_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/onnx"
)

// FuzzLoadONNX feeds arbitrary bytes to the decoder. Each input must give
// a model or an error wrapping ErrCorruptModel or ErrUnsupportedModel, and
// a model must score a zero vector or fail with ErrBackend: nothing may
// panic, hang or exhaust memory. Seeds: the Go-built models, plus a few
// models of the ONNX suite when libonnx-testdata is installed.
func FuzzLoadONNX(f *testing.F) {
	f.Add(tinyClassifier())
	f.Add(tinyScorer())
	for _, name := range []string{"node/test_relu", "node/test_gemm_default_vector_bias", "node/test_basic_conv_with_padding", "pytorch-converted/test_Linear"} {
		if b, err := os.ReadFile(filepath.Join("/usr/share/libonnx-testdata/data", name, "model.onnx")); err == nil {
			f.Add(b)
		}
	}
	// A small limit keeps each run fast; the bound itself is what is tested.
	format, err := onnx.New(onnx.MaxTensorElements(1 << 14))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := format.Parse(b)
		if err != nil {
			if !errors.Is(err, serving.ErrCorruptModel) && !errors.Is(err, serving.ErrUnsupportedModel) {
				t.Fatalf("untyped load error: %v", err)
			}
			return
		}
		info := m.Describe()
		_, err = m.Predict(context.Background(), make([]float64, info.Features))
		if err != nil && !errors.Is(err, onnx.ErrBackend) {
			t.Fatalf("untyped predict error: %v", err)
		}
	})
}
