package onnx_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	onnxgo "github.com/owulveryck/onnx-go"
	"github.com/owulveryck/onnx-go/backend/x/gorgonnx"
	"gorgonia.org/tensor"

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

// BenchmarkONNXGoTapeMachine is the baseline: the same tiny classifier run
// the way onnx-go's README does, through gorgonnx's default tape machine
// (SetInput, Run, GetOutputTensors), with none of this package's checks.
// It measures cost only: the tape machine runs ops on a goroutine of its
// own, where a panic cannot be recovered, which is why the format does not
// use it.
func BenchmarkONNXGoTapeMachine(b *testing.B) {
	g := gorgonnx.NewGraph()
	m := onnxgo.NewModel(g)
	if err := m.UnmarshalBinary(tinyClassifier()); err != nil {
		b.Fatal(err)
	}
	x := tensor.New(tensor.WithShape(1, 4), tensor.WithBacking([]float32{1, 0.5, -1, 2}))
	b.ReportAllocs()
	for b.Loop() {
		if err := m.SetInput(0, x); err != nil {
			b.Fatal(err)
		}
		if err := g.Run(); err != nil {
			b.Fatal(err)
		}
		if _, err := m.GetOutputTensors(); err != nil {
			b.Fatal(err)
		}
	}
}
