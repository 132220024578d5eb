package training

import (
	"math/rand/v2"
	"testing"
	"time"
)

func benchData(n, d int, kind Kind) []Sample {
	r := rand.New(rand.NewPCG(1, 1))
	out := make([]Sample, n)
	for i := range out {
		x := make([]float64, d)
		for j := range x {
			x[j] = r.NormFloat64() * float64(j+1)
		}
		y := x[0] - 0.5*x[1]
		switch kind {
		case Logistic:
			y = float64(r.IntN(2))
		case Softmax:
			y = float64(r.IntN(3))
		}
		out[i] = Sample{Features: x, Target: y}
	}
	return out
}

// benchCases are the learners the benchmarks compare: each kind with its
// default optimiser, and with Adam, the default before LeastSquares and
// Newton, measured in the same run.
var benchCases = []struct {
	name string
	kind Kind
	opts []Option
}{
	{"linear", Linear, nil},
	{"linear-adam", Linear, []Option{WithOptimizer(Adam)}},
	{"logistic", Logistic, nil},
	{"logistic-adam", Logistic, []Option{WithOptimizer(Adam)}},
	{"softmax", Softmax, nil},
	{"softmax-adam", Softmax, []Option{WithOptimizer(Adam)}},
}

func newBenchLearner(b *testing.B, kind Kind, d int, extra ...Option) *Learner {
	opts := extra
	if kind == Softmax {
		opts = append(opts, WithClasses(3))
	}
	l, err := NewLearner(kind, d, opts...)
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// BenchmarkLearnOnline measures one-record updates with 11 features, as
// in the wine data: progressive prediction, standardiser update, and the
// optimiser's step (a Cholesky solve and a co-moment update for
// LeastSquares, an Adam step otherwise). It runs on one goroutine, so
// samples/s is per core.
func BenchmarkLearnOnline(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			data := benchData(4096, 11, c.kind)
			l := newBenchLearner(b, c.kind, 11, c.opts...)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				if _, err := l.Learn(data[i&4095]); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpuTime()-cpu0, 1)
		})
	}
}

// BenchmarkLearnBatch64 measures mini-batches of 64 records with 11
// features; samples/s counts records, not batches.
func BenchmarkLearnBatch64(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			data := benchData(4096, 11, c.kind)
			l := newBenchLearner(b, c.kind, 11, c.opts...)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				off := (i * 64) & 4095
				if _, err := l.LearnBatch(data[off : off+64]); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpuTime()-cpu0, 64)
		})
	}
}

// BenchmarkPredict is the baseline: the learner's prediction alone.
func BenchmarkPredict(b *testing.B) {
	data := benchData(4096, 11, Linear)
	l := newBenchLearner(b, Linear, 11)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := l.Predict(data[i&4095].Features); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "samples/s")
}

// reportCPU reports samples per second of wall time, and per second of
// the process's CPU time, which on a shared machine measures the learner
// rather than its neighbours: samples/cpu-s is the per-core throughput.
func reportCPU(b *testing.B, cpu time.Duration, perOp int) {
	n := float64(b.N) * float64(perOp)
	b.ReportMetric(n/b.Elapsed().Seconds(), "samples/s")
	if cpu > 0 {
		b.ReportMetric(n/cpu.Seconds(), "samples/cpu-s")
	}
}
