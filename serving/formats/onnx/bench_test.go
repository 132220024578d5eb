package onnx_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelstream/modelstream/serving/formats/onnx"
)

// BenchmarkONNXPredict scores the tiny classifier (Gemm 4→3, Softmax) one
// row at a time.
func BenchmarkONNXPredict(b *testing.B) {
	m := mustParse(b, tinyClassifier())
	x := []float64{1, 0.5, -1, 2}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Predict(ctx, x); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkONNXPredictSingleOutput scores the MatMul, Add, Sigmoid model.
func BenchmarkONNXPredictSingleOutput(b *testing.B) {
	m := mustParse(b, tinyScorer())
	x := []float64{1, 2}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Predict(ctx, x); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkONNXPredictParallel scores the tiny classifier from
// GOMAXPROCS goroutines, with one backend instance (calls take turns) and
// with two.
func BenchmarkONNXPredictParallel(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run("instances="+string(rune('0'+n)), func(b *testing.B) {
			m := mustParse(b, tinyClassifier(), onnx.Instances(n))
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				x := []float64{1, 0.5, -1, 2}
				for pb.Next() {
					if _, err := m.Predict(ctx, x); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkONNXPredictPytorchConv2d scores the ONNX suite's
// pytorch-converted/test_Conv2d (a [2 4 6 5] input), when installed.
func BenchmarkONNXPredictPytorchConv2d(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("/usr/share/libonnx-testdata/data", "pytorch-converted/test_Conv2d", "model.onnx"))
	if err != nil {
		b.Skip("libonnx-testdata is not installed")
	}
	m := mustParse(b, raw)
	x := make([]float64, m.Describe().Features)
	for i := range x {
		x[i] = float64(i%7) / 7
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Predict(ctx, x); err != nil {
			b.Fatal(err)
		}
	}
}
