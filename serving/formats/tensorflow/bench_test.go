package tensorflow_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/modelstream/modelstream/serving"
)

// The benchmarks score a 30-64-64-1 float32 MLP (MatMul, BiasAdd, Relu,
// Relu, Sigmoid) one record at a time, and compare it with the same
// network computed by plain float32 loops over preallocated buffers in
// the same run:
//
//	go test -run '^$' -bench 'MLP' -count 5 ./serving/formats/tensorflow/

func benchNet() (*mlp, [][]float64) {
	rng := rand.New(rand.NewPCG(21, 22))
	net := newMLP(rng, f32, 30, 64, 64, 1)
	rows := make([][]float64, 256)
	for i := range rows {
		rows[i] = randVals(rng, 30)
	}
	return net, rows
}

// BenchmarkMLPGraph is the frozen graph through Model.Predict.
func BenchmarkMLPGraph(b *testing.B) {
	net, rows := benchNet()
	m := mustLoad(b, net.graph(f32), nil)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := m.Predict(ctx, rows[i%len(rows)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkMLPGraphBatch is the frozen graph through PredictBatch, 256
// rows per call, reported per row.
func BenchmarkMLPGraphBatch(b *testing.B) {
	net, rows := benchNet()
	m := mustLoad(b, net.graph(f32), nil)
	ctx := context.Background()
	out := make([]serving.Prediction, len(rows))
	b.ReportAllocs()
	for b.Loop() {
		if err := m.PredictBatch(ctx, rows, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
}

// BenchmarkMLPLoops is the baseline: the same weights, float32, three
// plain loops per layer into buffers allocated once.
func BenchmarkMLPLoops(b *testing.B) {
	net, rows := benchNet()
	w := make([][]float32, len(net.w))
	bias := make([][]float32, len(net.b))
	for l := range net.w {
		w[l] = toF32(net.w[l])
		bias[l] = toF32(net.b[l])
	}
	l := &loopMLP{w: w, b: bias, bufs: [][]float32{make([]float32, 30), make([]float32, 64), make([]float32, 64), make([]float32, 1)}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.predict(rows[i%len(rows)])
		i++
	}
}

// loopMLP is the baseline network: weights [in, out] row-major per layer.
type loopMLP struct {
	w, b [][]float32
	bufs [][]float32
}

func (m *loopMLP) predict(x []float64) float64 {
	for j, v := range x {
		m.bufs[0][j] = float32(v)
	}
	for l := range m.w {
		in, out, w := m.bufs[l], m.bufs[l+1], m.w[l]
		n := len(out)
		copy(out, m.b[l])
		for p, a := range in {
			row := w[p*n : (p+1)*n]
			for j := range out {
				out[j] += a * row[j]
			}
		}
		if l < len(m.w)-1 {
			for j, v := range out {
				out[j] = max(v, 0)
			}
		}
	}
	return 1 / (1 + math.Exp(-float64(m.bufs[len(m.bufs)-1][0])))
}

func toF32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}
