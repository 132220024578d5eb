package onnx_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/onnx"
)

// benchModel is a model with rows to score.
type benchModel struct {
	name string
	b    []byte
	rows [][]float64
}

func benchModels(b *testing.B) []benchModel {
	mnist, err := os.ReadFile(filepath.Join("testdata", "mnist.onnx"))
	if err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "mnist_input_0.pb"))
	if err != nil {
		b.Fatal(err)
	}
	in, err := readSuiteTensor(raw)
	if err != nil {
		b.Fatal(err)
	}
	models := []benchModel{{name: "mnist", b: mnist, rows: [][]float64{in.nums}}}
	for _, name := range []string{"torch_mlp", "torch_cnn"} {
		mb, fx := readFixture(b, name)
		models = append(models, benchModel{name: name, b: mb, rows: fx.Rows})
	}
	return models
}

// BenchmarkEngines scores the same models on both engines, in the same
// run: batch=1 is one Predict per record; batch=8 and 64 are one
// PredictBatch over that many records (ONNX Runtime runs them together
// when the model has a batch dimension; the pure-Go engine, and MNIST,
// whose input is fixed at one image, score them one by one).
//
//	go test ./serving/formats/onnx/ -run '^$' -bench Engines -count 5
func BenchmarkEngines(b *testing.B) {
	engines := []struct {
		name string
		f    func(b *testing.B) serving.Format
	}{
		{"pure-go", func(b *testing.B) serving.Format {
			f, err := onnx.Open(onnx.PureGo())
			if err != nil {
				b.Fatal(err)
			}
			return f
		}},
		{"onnxruntime", func(b *testing.B) serving.Format { return runtimeFormat(b) }},
	}
	for _, bm := range benchModels(b) {
		for _, e := range engines {
			f := e.f(b)
			m, err := f.Load(context.Background(), serving.Descriptor{Name: bm.name, Format: onnx.FormatName, Bytes: bm.b})
			if err != nil {
				b.Logf("%s on %s: %v", bm.name, e.name, err)
				continue
			}
			for _, n := range []int{1, 8, 64} {
				rows := make([][]float64, n)
				for i := range rows {
					rows[i] = bm.rows[i%len(bm.rows)]
				}
				out := make([]serving.Prediction, n)
				b.Run(fmt.Sprintf("%s/%s/batch=%d", bm.name, e.name, n), func(b *testing.B) {
					ctx := context.Background()
					for b.Loop() {
						if n == 1 {
							if _, err := m.Predict(ctx, rows[0]); err != nil {
								b.Fatal(err)
							}
							continue
						}
						if bp, ok := m.(serving.BatchPredictor); ok {
							if err := bp.PredictBatch(ctx, rows, out); err != nil {
								b.Fatal(err)
							}
							continue
						}
						for _, r := range rows {
							if _, err := m.Predict(ctx, r); err != nil {
								b.Fatal(err)
							}
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
					b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
				})
			}
			if c, ok := m.(serving.Closer); ok {
				c.Close()
			}
		}
	}
}

// BenchmarkRuntimeSessions scores one record per call from GOMAXPROCS
// goroutines: one ONNX Runtime session shared by all, against a pool of
// two, each with one intra-op thread, and one session with two. Besides
// records/s (wall time), cpu-ns/record is the process's CPU time per
// record (ONNX Runtime's threads included, spinning too), which the load
// of a shared machine disturbs much less.
//
//	go test ./serving/formats/onnx/ -run '^$' -bench RuntimeSessions -count 5 -cpu 2
func BenchmarkRuntimeSessions(b *testing.B) {
	configs := []struct {
		name string
		opts []onnx.Option
	}{
		{"sessions=1", []onnx.Option{onnx.Instances(1)}},
		{"sessions=2", []onnx.Option{onnx.Instances(2)}},
		{"sessions=1/intra=2", []onnx.Option{onnx.Instances(1), onnx.IntraOpThreads(2)}},
	}
	for _, bm := range benchModels(b) {
		for _, c := range configs {
			m := loadRuntime(b, runtimeFormat(b, c.opts...), bm.b)
			b.Run(bm.name+"/"+c.name, func(b *testing.B) {
				cpu0 := processCPU()
				b.RunParallel(func(pb *testing.PB) {
					ctx := context.Background()
					i := 0
					for pb.Next() {
						if _, err := m.Predict(ctx, bm.rows[i%len(bm.rows)]); err != nil {
							b.Error(err)
							return
						}
						i++
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
				b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/record")
			})
		}
	}
}

// BenchmarkRuntimeClassifiers scores scikit-learn classifiers whose
// outputs ONNX Runtime allocates as a label tensor and a sequence of maps
// (ZipMap), one record per Predict and 64 per PredictBatch: the cost of
// reading outputs beside the run.
//
//	go test ./serving/formats/onnx/ -run '^$' -bench RuntimeClassifiers -count 5
func BenchmarkRuntimeClassifiers(b *testing.B) {
	f := runtimeFormat(b)
	for _, name := range []string{"sklearn_random_forest", "sklearn_logistic", "sklearn_logistic_binary"} {
		mb, fx := readFixture(b, name)
		m := loadRuntime(b, f, mb)
		for _, n := range []int{1, 64} {
			rows := make([][]float64, n)
			for i := range rows {
				rows[i] = fx.Rows[i%len(fx.Rows)]
			}
			out := make([]serving.Prediction, n)
			b.Run(fmt.Sprintf("%s/batch=%d", name, n), func(b *testing.B) {
				ctx := context.Background()
				for b.Loop() {
					if err := m.(serving.BatchPredictor).PredictBatch(ctx, rows, out); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
			})
		}
	}
}
