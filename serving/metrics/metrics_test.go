package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/linear"
	"github.com/modelstream/modelstream/serving/metrics"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/speculative/canary"
)

func linearDescriptor(b testing.TB, features int) serving.Descriptor {
	doc := linear.Document{Kind: linear.KindLinear, Features: features, Weights: [][]float64{make([]float64, features)}, Bias: []float64{0.5},
		Mean: make([]float64, features), Scale: make([]float64, features)}
	for j := range features {
		doc.Weights[0][j] = float64(j) * 0.1
		doc.Scale[j] = 1
	}
	by, err := doc.Marshal()
	require.NoError(b, err)
	return serving.Descriptor{Name: "wine", Version: 1, Format: linear.FormatName, Bytes: by}
}

// BenchmarkServerHooks measures the cost of the Prometheus hooks on the
// scoring path: the same Server and linear model (11 features) without
// metrics, with Metrics, with Metrics keeping one stripe of cells per
// series instead of eight, and with the legacy hook (HistogramVec and
// CounterVec children, see legacy_test.go) as the baseline, in one run.
func BenchmarkServerHooks(b *testing.B) {
	for _, name := range []string{"off", "on", "on-1stripe", "legacy"} {
		opts := []serving.Option{serving.WithLogger(slog.New(slog.DiscardHandler))}
		var hook prometheus.Collector
		switch name {
		case "on":
			hook = mustNew()
		case "on-1stripe":
			hook = metrics.NewStriped(1)
		case "legacy":
			hook = newLegacyScored()
		}
		if hook != nil {
			prometheus.NewRegistry().MustRegister(hook)
			opts = append(opts, serving.WithHooks(hook))
		}
		b.Run("prometheus="+name, func(b *testing.B) {
			srv, err := serving.NewServer(opts...)
			require.NoError(b, err)
			defer srv.Close()
			_, err = srv.Activate(context.Background(), linearDescriptor(b, 11))
			require.NoError(b, err)
			sc := srv.Model("wine")
			rec := serving.Record{Features: []float64{7.4, 0.7, 0, 1.9, 0.076, 11, 34, 0.9978, 3.51, 0.56, 9.4}}
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := sc.Score(ctx, rec); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkOnScored measures the scoring hook alone against the legacy
// hook, with durations spread over the buckets ("spread") or all in one
// bucket ("onebucket", what a steady model gives: every core adds to the
// same cells unless they are striped).
func BenchmarkOnScored(b *testing.B) {
	for _, durations := range []string{"spread", "onebucket"} {
		for _, name := range []string{"metrics", "metrics-1stripe", "legacy"} {
			var hook serving.HookScored
			switch name {
			case "metrics":
				hook = mustNew()
			case "metrics-1stripe":
				hook = metrics.NewStriped(1)
			default:
				hook = newLegacyScored()
			}
			ref := serving.ModelRef{Name: "wine", Version: 1}
			b.Run(durations+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				var seed atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					x := time.Duration(seed.Add(1) * 1013)
					for pb.Next() {
						x = (x*7 + 12345) % (50 * time.Millisecond)
						took := x
						if durations == "onebucket" {
							took = 25*time.Microsecond + x%4096 // le 40µs
						}
						hook.OnScored(ref, took, nil)
					}
				})
			})
		}
	}
}

func TestScoredSeriesPerVersion(t *testing.T) {
	m := mustNew()
	srv, err := serving.NewServer(serving.WithHooks(m), serving.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	ctx := context.Background()
	_, err = srv.Activate(ctx, linearDescriptor(t, 3))
	require.NoError(t, err)
	for i := 0; i < 7; i++ {
		_, err := srv.Model("wine").Score(ctx, serving.Record{Features: []float64{1, 2, 3}})
		require.NoError(t, err)
	}
	require.Equal(t, 7.0, testutil.ToFloat64(prometheusCounter(t, m, "modelstream_scores_total")))
}

// prometheusCounter sums every sample of the named family.
func prometheusCounter(t *testing.T, c prometheus.Collector, name string) prometheus.Collector {
	t.Helper()
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(c))
	fams, err := reg.Gather()
	require.NoError(t, err)
	var sum float64
	for _, f := range fams {
		if f.GetName() == name {
			for _, mm := range f.GetMetric() {
				sum += mm.GetCounter().GetValue()
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "sum"})
	g.Set(sum)
	return g
}

func Example() {
	m, err := metrics.New()
	if err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	srv, _ := serving.NewServer(serving.WithHooks(m), serving.WithLogger(slog.New(slog.DiscardHandler)))
	defer srv.Close()

	doc := linear.Document{Kind: linear.KindLinear, Features: 1, Weights: [][]float64{{2}}, Bias: []float64{0}}
	b, _ := doc.Marshal()
	srv.Activate(context.Background(), serving.Descriptor{Name: "m", Version: 4, Format: "linear", Bytes: b})
	srv.Model("m").Score(context.Background(), serving.Record{Features: []float64{1}})

	fams, _ := reg.Gather()
	for _, f := range fams {
		switch f.GetName() {
		case "modelstream_active_version":
			fmt.Println(f.GetName(), f.GetMetric()[0].GetGauge().GetValue())
		case "modelstream_scores_total":
			for _, mm := range f.GetMetric() {
				fmt.Println(f.GetName(), mm.GetLabel()[1].GetValue(), mm.GetCounter().GetValue())
			}
		}
	}
	// Output:
	// modelstream_active_version 4
	// modelstream_scores_total error 0
	// modelstream_scores_total ok 1
}

// gather returns the samples of the named family as label-set -> value.
func gather(t *testing.T, m *metrics.Metrics, name string) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(m))
	fams, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, mm := range f.GetMetric() {
			var k string
			for _, l := range mm.GetLabel() {
				k += l.GetName() + "=" + l.GetValue() + ","
			}
			switch {
			case mm.GetCounter() != nil:
				out[k] = mm.GetCounter().GetValue()
			case mm.GetGauge() != nil:
				out[k] = mm.GetGauge().GetValue()
			case mm.GetHistogram() != nil:
				out[k] = float64(mm.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// TestInFlightCallAfterSwapLeavesNoStaleSeries: a call that started on v1
// and ends after v2 is live must not bring v1's series back after the
// swap dropped them; otherwise every swap under load leaks a histogram.
func TestInFlightCallAfterSwapLeavesNoStaleSeries(t *testing.T) {
	m := mustNew()
	srv, err := serving.NewServer(serving.WithHooks(m), serving.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	defer srv.Close()
	ctx := context.Background()
	started, release := make(chan struct{}), make(chan struct{})
	v1 := &servingtest.Fake{OutputFunc: func([]float64) serving.Prediction {
		close(started)
		<-release
		return serving.Prediction{}
	}}
	require.NoError(t, activate(srv.ActivateModel(ctx, serving.ModelRef{Name: "m", Version: 1}, v1)))
	done := make(chan error)
	go func() {
		_, err := srv.Model("m").Score(ctx, serving.Record{})
		done <- err
	}()
	<-started
	require.NoError(t, activate(srv.ActivateModel(ctx, serving.ModelRef{Name: "m", Version: 2}, &servingtest.Fake{})))
	_, err = srv.Model("m").Score(ctx, serving.Record{})
	require.NoError(t, err)
	close(release)
	require.NoError(t, <-done)

	require.Equal(t, map[string]float64{"model=m,status=ok,version=2,": 1, "model=m,status=error,version=2,": 0}, gather(t, m, "modelstream_scores_total"))
	require.Equal(t, map[string]float64{"model=m,version=2,": 1}, gather(t, m, "modelstream_score_duration_seconds"))

	// Rolling back to v1 brings its series back.
	require.NoError(t, activate(srv.ActivateModel(ctx, serving.ModelRef{Name: "m", Version: 1}, &servingtest.Fake{}, serving.AllowRollback())))
	_, err = srv.Model("m").Score(ctx, serving.Record{})
	require.NoError(t, err)
	require.Equal(t, map[string]float64{"model=m,status=ok,version=1,": 1, "model=m,status=error,version=1,": 0}, gather(t, m, "modelstream_scores_total"))
}

// TestActiveVersionIgnoresLateEvents: the Server calls hooks after a swap
// without holding its lock, so two quick activations can reach a hook in
// the opposite order. The gauge follows the event times, not the order
// of the calls.
func TestActiveVersionIgnoresLateEvents(t *testing.T) {
	m := mustNew()
	t0 := time.Now()
	ref := func(v uint64) serving.ModelRef { return serving.ModelRef{Name: "m", Version: v} }
	m.OnModelEvent(serving.ModelEvent{Kind: serving.EventActivated, Model: ref(1), Time: t0})
	m.OnScored(ref(1), time.Millisecond, nil)
	// v3 replaced v2, which replaced v1; v3's event arrives first.
	m.OnModelEvent(serving.ModelEvent{Kind: serving.EventActivated, Model: ref(3), Previous: ref(2), Time: t0.Add(2)})
	m.OnModelEvent(serving.ModelEvent{Kind: serving.EventActivated, Model: ref(2), Previous: ref(1), Time: t0.Add(1)})
	m.OnScored(ref(3), time.Millisecond, nil)
	require.Equal(t, map[string]float64{"model=m,": 3}, gather(t, m, "modelstream_active_version"))
	require.Equal(t, map[string]float64{"model=m,status=ok,version=3,": 1, "model=m,status=error,version=3,": 0}, gather(t, m, "modelstream_scores_total"))
	require.Equal(t, map[string]float64{"model=m,": 3}, gather(t, m, "modelstream_model_swaps_total"))

	// A retirement reported after a later activation leaves the gauge.
	m.OnModelEvent(serving.ModelEvent{Kind: serving.EventActivated, Model: ref(4), Previous: ref(3), Time: t0.Add(4)})
	m.OnModelEvent(serving.ModelEvent{Kind: serving.EventRetired, Model: ref(3), Time: t0.Add(3)})
	require.Equal(t, map[string]float64{"model=m,": 4}, gather(t, m, "modelstream_active_version"))
	m.OnModelEvent(serving.ModelEvent{Kind: serving.EventRetired, Model: ref(4), Time: t0.Add(5)})
	require.Empty(t, gather(t, m, "modelstream_active_version"))
	// An event without a time (not from a Server) is taken as it comes.
	m.OnModelEvent(serving.ModelEvent{Kind: serving.EventActivated, Model: ref(5)})
	require.Equal(t, map[string]float64{"model=m,": 5}, gather(t, m, "modelstream_active_version"))
}

func TestKafkaAndDecisionHooks(t *testing.T) {
	m := mustNew()
	m.OnDeadLetter("in", 0, 5, fmt.Errorf("bad"))
	m.OnCommit("in", 2, 10)
	m.OnCommit("in", 2, 11)
	m.OnLag("in", 2, 7)
	m.OnLag("in", 2, 3)
	a, b := serving.ModelRef{Name: "a"}, serving.ModelRef{Name: "b"}
	m.OnDecision("budget", &serving.Decision{Winner: 1, Candidates: []serving.Candidate{{Model: a, Status: serving.StatusLate}, {Model: b}}}, 0)
	m.OnDecision("budget", &serving.Decision{Winner: -1, Candidates: []serving.Candidate{{Model: a, Status: serving.StatusError}, {Model: b, Status: serving.StatusError}}}, 0)
	m.OnDecision("budget", nil, 0)
	require.Equal(t, map[string]float64{"topic=in,": 1}, gather(t, m, "modelstream_dead_letters_total"))
	require.Equal(t, map[string]float64{"partition=2,topic=in,": 2}, gather(t, m, "modelstream_commits_total"))
	require.Equal(t, map[string]float64{"partition=2,topic=in,": 3}, gather(t, m, "modelstream_consumer_lag"))
	require.Equal(t, map[string]float64{"combinator=budget,": 3}, gather(t, m, "modelstream_decisions_total"))
	require.Equal(t, map[string]float64{"combinator=budget,model=b,": 1}, gather(t, m, "modelstream_decision_wins_total"))
	require.Equal(t, map[string]float64{"combinator=budget,model=a,": 1}, gather(t, m, "modelstream_decision_late_total"))
	require.Equal(t, map[string]float64{"combinator=budget,model=a,": 1, "combinator=budget,model=b,": 1}, gather(t, m, "modelstream_decision_errors_total"))
}

// A name that is not valid UTF-8 made WithLabelValues panic inside the
// hook, on the goroutine that scored: a model name comes from its model
// message, and Budget decisions name the models. It is counted under the
// name with U+FFFD for each invalid byte sequence, and a scrape works.
func TestHooksTakeNamesNotUTF8(t *testing.T) {
	m := mustNew()
	bad := serving.ModelRef{Name: "fraud\xff"}
	require.NotPanics(t, func() {
		m.OnDecision("budget\xfe", &serving.Decision{Winner: 0, Candidates: []serving.Candidate{{Model: bad}, {Model: bad, Status: serving.StatusLate}}}, 0)
		m.OnDeadLetter("in\xff", 0, 1, nil)
		m.OnCommit("in\xff", 0, 1)
		m.OnLag("in\xff", 0, 1)
		m.OnRollout(canary.Decision{Rollout: "r\xff", Action: canary.Hold})
	})
	require.Equal(t, map[string]float64{"combinator=budget\uFFFD,model=fraud\uFFFD,": 1}, gather(t, m, "modelstream_decision_wins_total"))
	require.Equal(t, map[string]float64{"topic=in\uFFFD,": 1}, gather(t, m, "modelstream_dead_letters_total"))
	require.Equal(t, map[string]float64{"action=hold,rollout=r\uFFFD,": 1}, gather(t, m, "modelstream_rollout_decisions_total"))
	if _, err := metrics.New(nil); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("New(nil): %v, want an error wrapping serving.ErrConfig", err)
	}
}

// TestBucketsValidatedInNew: bad buckets are a programming error caught
// by New, not a panic inside the first scoring call.
func TestBucketsValidatedInNew(t *testing.T) {
	for _, b := range [][]float64{nil, {3, 2, 1}, {1, 1}, {0.1, math.NaN()}} {
		if m, err := metrics.New(metrics.Buckets(b...)); !errors.Is(err, serving.ErrConfig) || m != nil {
			t.Errorf("New(Buckets(%v)) = %v, %v, want an error wrapping serving.ErrConfig", b, m, err)
		}
	}
	m := mustNew(metrics.Buckets(0.001, 0.01, 0.1))
	m.OnScored(serving.ModelRef{Name: "m", Version: 1}, 5*time.Millisecond, nil)
	require.Equal(t, map[string]float64{"model=m,version=1,": 1}, gather(t, m, "modelstream_score_duration_seconds"))
}

// activate drops the ModelRef of an activation, for require.NoError.
func activate(_ serving.ModelRef, err error) error { return err }

// mustNew is metrics.New for options known to be valid.
func mustNew(opts ...metrics.Option) *metrics.Metrics {
	m, err := metrics.New(opts...)
	if err != nil {
		panic(err)
	}
	return m
}
