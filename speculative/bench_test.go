package speculative_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/speculative"
)

func instant(name string) serving.Scorer {
	f := &servingtest.Fake{Output: serving.Prediction{Value: 0.9, Label: "yes", Confidence: 0.9}}
	return f.Scorer(name, 1)
}

var benchRecord = serving.Record{Key: []byte("user-1"), Features: []float64{1, 2, 3, 4, 5, 6, 7, 8}}

// BenchmarkDirect is the baseline: one instant model, called directly.
func BenchmarkDirect(b *testing.B) {
	benchScorer(b, instant("m"), 1)
}

// BenchmarkBudget runs a Budget over n instant models (the fallback and
// n-1 others) with the default First decider.
func BenchmarkBudget(b *testing.B) {
	for _, n := range []int{1, 3, 5} {
		b.Run(fmt.Sprintf("models=%d", n), func(b *testing.B) {
			var others []serving.Scorer
			for i := 1; i < n; i++ {
				others = append(others, instant(fmt.Sprint("m", i)))
			}
			bud, err := speculative.NewBudget(time.Second, instant("fb"), others)
			if err != nil {
				b.Fatal(err)
			}
			benchScorer(b, bud, n)
		})
	}
}

// BenchmarkVote runs an Ensemble with Vote over n instant models that
// agree.
func BenchmarkVote(b *testing.B) {
	for _, n := range []int{1, 3, 5} {
		b.Run(fmt.Sprintf("models=%d", n), func(b *testing.B) {
			var models []serving.Scorer
			for i := range n {
				models = append(models, instant(fmt.Sprint("m", i)))
			}
			en, err := speculative.NewEnsemble(speculative.Vote(), models)
			if err != nil {
				b.Fatal(err)
			}
			benchScorer(b, en, n)
		})
	}
}

// benchScorer reports, besides ns/op, the process CPU time per call
// (cpu-ns/op: every goroutine the call started, and the garbage
// collector), which a loaded machine disturbs far less than wall time.
func benchScorer(b *testing.B, s serving.Scorer, n int) {
	ctx := context.Background()
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := s.Score(ctx, benchRecord); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkSplit, BenchmarkSwitch and BenchmarkShadow measure the
// routers over one instant model per variant.
func BenchmarkSplit(b *testing.B) {
	s, err := speculative.NewSplit([]speculative.Variant{{Name: "a", Scorer: instant("a"), Weight: 90}, {Name: "b", Scorer: instant("b"), Weight: 10}})
	if err != nil {
		b.Fatal(err)
	}
	benchScorer(b, s, 1)
}

func BenchmarkSwitch(b *testing.B) {
	s, err := speculative.NewSwitch(instant("blue"), instant("green"))
	if err != nil {
		b.Fatal(err)
	}
	benchScorer(b, s, 1)
}

// BenchmarkShadow: with the default queue most records are dropped (dropped/op), since a
// caller in a loop outruns the workers, so BenchmarkShadow measures the
// caller's side; BenchmarkShadowMirrored gives the queue room for every
// record, so that it also counts the workers' cost of mirroring each.
func BenchmarkShadow(b *testing.B) {
	benchShadow(b)
}

func BenchmarkShadowMirrored(b *testing.B) {
	benchShadow(b, speculative.WithQueue(1<<20))
}

func benchShadow(b *testing.B, opts ...speculative.ShadowOption) {
	s, err := speculative.NewShadow(instant("primary"), []serving.Scorer{instant("shadow")}, opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchScorer(b, s, 1)
	st := s.Stats()
	b.ReportMetric(float64(st.Dropped)/float64(st.Invocations), "dropped/op")
}

// BenchmarkBudgetLatency reports the latency distribution of a Budget of
// 20ms over a fast fallback (log-normal, median 1ms, p99 4ms) and a slow,
// heavy-tailed model (median 10ms, p99 200ms), next to calling each model
// directly. Eight callers run at once. Run it with -benchtime=2000x.
func BenchmarkBudgetLatency(b *testing.B) {
	const d = 20 * time.Millisecond
	mk := func() (serving.Scorer, serving.Scorer) {
		fast := &servingtest.Fake{Output: serving.Prediction{Label: "fast"}, Latency: servingtest.LogNormal(time.Millisecond, 4*time.Millisecond), Seed: 11}
		slow := &servingtest.Fake{Output: serving.Prediction{Label: "slow"}, Latency: servingtest.LogNormal(10*time.Millisecond, 200*time.Millisecond), Seed: 12}
		return fast.Scorer("fast", 1), slow.Scorer("slow", 1)
	}
	run := func(b *testing.B, s serving.Scorer) {
		const callers = 8
		lat := make([]time.Duration, b.N)
		stop := make(chan struct{})
		stall := starvationProbe(stop)
		var wg sync.WaitGroup
		b.ResetTimer()
		for w := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < b.N; i += callers {
					t0 := time.Now()
					s.Score(context.Background(), benchRecord) //nolint:errcheck // a late fallback is part of the distribution
					lat[i] = time.Since(t0)
				}
			}()
		}
		wg.Wait()
		b.StopTimer()
		close(stop)
		// How long the process went unscheduled: on a busy machine this,
		// not the Budget, sets the tail.
		b.ReportMetric(float64(<-stall)/1e6, "stall-ms")
		slices.Sort(lat)
		q := func(p float64) float64 { return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / 1e6 }
		b.ReportMetric(q(0.50), "p50-ms")
		b.ReportMetric(q(0.99), "p99-ms")
		b.ReportMetric(q(0.999), "p99.9-ms")
		b.ReportMetric(float64(lat[len(lat)-1])/1e6, "max-ms")
	}
	b.Run("budget", func(b *testing.B) {
		fast, slow := mk()
		bud, err := speculative.NewBudget(d, fast, []serving.Scorer{slow})
		if err != nil {
			b.Fatal(err)
		}
		run(b, bud)
		st := bud.Stats()
		b.ReportMetric(float64(st.Models[1].Wins)/float64(st.Invocations), "slow-wins/op")
		b.ReportMetric(float64(st.FallbackMisses)/float64(st.Invocations), "misses/op")
	})
	b.Run("direct-slow", func(b *testing.B) {
		_, slow := mk()
		run(b, slow)
	})
	b.Run("direct-fast", func(b *testing.B) {
		fast, _ := mk()
		run(b, fast)
	})
}
