package tensorflow_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

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
	l := newLoopMLP(net)
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
			row = row[:len(out)]
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

// BenchmarkMLPGraphVsLoops alternates the graph and the plain loops on
// the same record, timing each call, so that both see the same machine
// load; it reports each one's mean time and their ratio. The timer adds
// some tens of nanoseconds to both.
func BenchmarkMLPGraphVsLoops(b *testing.B) {
	net, rows := benchNet()
	m := mustLoad(b, net.graph(f32), nil)
	l := newLoopMLP(net)
	ctx := context.Background()
	var tg, tl time.Duration
	i := 0
	for b.Loop() {
		x := rows[i%len(rows)]
		t0 := time.Now()
		p, err := m.Predict(ctx, x)
		t1 := time.Now()
		v := l.predict(x)
		t2 := time.Now()
		if err != nil {
			b.Fatal(err)
		}
		if math.Abs(p.Value-v) > 1e-5 {
			b.Fatalf("graph %v, loops %v", p.Value, v)
		}
		tg += t1.Sub(t0)
		tl += t2.Sub(t1)
		i++
	}
	b.ReportMetric(float64(tg.Nanoseconds())/float64(b.N), "graph-ns/op")
	b.ReportMetric(float64(tl.Nanoseconds())/float64(b.N), "loops-ns/op")
	b.ReportMetric(float64(tg)/float64(tl), "graph/loops")
}

func newLoopMLP(net *mlp) *loopMLP {
	l := &loopMLP{}
	for i := range net.w {
		l.w = append(l.w, toF32(net.w[i]))
		l.b = append(l.b, toF32(net.b[i]))
	}
	for _, n := range net.sizes {
		l.bufs = append(l.bufs, make([]float32, n))
	}
	return l
}

func toF32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}
