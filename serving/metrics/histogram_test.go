package metrics_test

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/metrics"
)

// histogramOf gathers the one score_duration_seconds sample of m.
func histogramOf(t *testing.T, m *metrics.Metrics) *dto.Histogram {
	t.Helper()
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(m))
	fams, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		if f.GetName() == "modelstream_score_duration_seconds" {
			require.Len(t, f.GetMetric(), 1)
			return f.GetMetric()[0].GetHistogram()
		}
	}
	t.Fatal("no modelstream_score_duration_seconds")
	return nil
}

// TestHistogramMatchesPrometheus: the integer bucket search puts every
// duration, including those a nanosecond either side of each bound, in
// the bucket a prometheus.Histogram observing d.Seconds() picks.
func TestHistogramMatchesPrometheus(t *testing.T) {
	for _, bounds := range [][]float64{
		nil, // the default
		{0.001, 0.01, 0.1},
		prometheus.LinearBuckets(1e-3, 1e-3, 40), // many bounds per power of two
		{-1e-6, 0, 3e-9, 0.5, 1.5, 3},
		{1e-7, math.Inf(+1)}, // a trailing +Inf is implicit
	} {
		t.Run(fmt.Sprint(len(bounds)), func(t *testing.T) {
			var opts []metrics.Option
			if bounds != nil {
				opts = append(opts, metrics.Buckets(bounds...))
			} else {
				bounds = prometheus.ExponentialBuckets(10e-6, 2, 18)
			}
			m := mustNew(opts...)
			want := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "want", Buckets: bounds})
			// The sum is kept in int64 nanoseconds: 292 years of model time
			// per version, the most the test adds at once.
			ds := []time.Duration{0, 1, -1, -5 * time.Second, 250 * 365 * 24 * time.Hour, time.Hour}
			for _, b := range bounds {
				if math.IsInf(b, 0) {
					continue
				}
				c := time.Duration(b * 1e9)
				for d := c - 2; d <= c+2; d++ {
					ds = append(ds, d)
				}
			}
			for x := time.Duration(1); x < 10*time.Second; x = x*3 + 7 {
				ds = append(ds, x)
			}
			ref := serving.ModelRef{Name: "m", Version: 1}
			for i, d := range ds {
				var err error
				if i%3 == 0 {
					err = errors.New("fail")
				}
				m.OnScored(ref, d, err)
				want.Observe(d.Seconds())
			}
			var w dto.Metric
			require.NoError(t, want.Write(&w))
			got := histogramOf(t, m)
			require.Equal(t, w.GetHistogram().GetSampleCount(), got.GetSampleCount())
			require.InEpsilon(t, w.GetHistogram().GetSampleSum(), got.GetSampleSum(), 1e-9)
			require.Len(t, got.GetBucket(), len(w.GetHistogram().GetBucket()))
			for i, wb := range w.GetHistogram().GetBucket() {
				gb := got.GetBucket()[i]
				require.Equal(t, wb.GetUpperBound(), gb.GetUpperBound())
				require.Equal(t, wb.GetCumulativeCount(), gb.GetCumulativeCount(), "bucket le=%g", wb.GetUpperBound())
			}
		})
	}
}

// TestScrapesConsistentUnderLoad: while calls are observed on several
// goroutines, every scrape has count == ok + error and the sum of exactly
// that many calls, and no counter or bucket ever goes down between
// scrapes; the final scrape is exact. The calls are long enough (67ms)
// that each status's cell is moved to the wide counters twice on the way
// (a cell flushes at 2^43ns and overflows at 2^44ns, which 300000 such
// calls would pass), racing with the scrapes.
func TestScrapesConsistentUnderLoad(t *testing.T) {
	m := mustNew()
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(m))
	const workers, calls, took = 4, 150000, 67 * time.Millisecond
	if testing.Short() {
		t.Skip("600000 calls")
	}
	ref := serving.ModelRef{Name: "m", Version: 1}
	fail := errors.New("fail")
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range calls {
				var err error
				if (i+w)%2 == 0 {
					err = fail
				}
				m.OnScored(ref, took, err)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	type snap struct {
		ok, failed, count uint64
		sum               float64
		buckets           []uint64
	}
	scrape := func() snap {
		fams, err := reg.Gather()
		require.NoError(t, err)
		var s snap
		for _, f := range fams {
			for _, mm := range f.GetMetric() {
				switch f.GetName() {
				case "modelstream_scores_total":
					if mm.GetLabel()[1].GetValue() == "ok" {
						s.ok = uint64(mm.GetCounter().GetValue())
					} else {
						s.failed = uint64(mm.GetCounter().GetValue())
					}
				case "modelstream_score_duration_seconds":
					s.count = mm.GetHistogram().GetSampleCount()
					s.sum = mm.GetHistogram().GetSampleSum()
					for _, b := range mm.GetHistogram().GetBucket() {
						s.buckets = append(s.buckets, b.GetCumulativeCount())
					}
				}
			}
		}
		return s
	}
	var prev snap
	scrapes := 0
	for running := true; running; scrapes++ {
		select {
		case <-done:
			running = false
		default:
		}
		s := scrape()
		require.Equal(t, s.count, s.ok+s.failed)
		require.Equal(t, float64(int64(s.count)*int64(took))/1e9, s.sum, "count %d", s.count)
		require.GreaterOrEqual(t, s.ok, prev.ok)
		require.GreaterOrEqual(t, s.failed, prev.failed)
		for i := range prev.buckets {
			require.GreaterOrEqual(t, s.buckets[i], prev.buckets[i])
		}
		prev = s
	}
	require.Equal(t, uint64(workers*calls/2), prev.failed)
	require.Equal(t, uint64(workers*calls/2), prev.ok)
	t.Logf("%d scrapes", scrapes)
}

// TestManyVersions: past a handful of live series the lookup switches
// from a scan to a map and back as versions come and go; every version
// keeps its own counts.
func TestManyVersions(t *testing.T) {
	m := mustNew()
	const names, versions = 4, 5
	ref := func(n, v int) serving.ModelRef {
		return serving.ModelRef{Name: fmt.Sprint("m", n), Version: uint64(v)}
	}
	want := map[string]float64{}
	for n := range names {
		for v := 1; v <= versions; v++ {
			for range n + v {
				m.OnScored(ref(n, v), time.Millisecond, nil)
			}
			want[fmt.Sprintf("model=m%d,status=ok,version=%d,", n, v)] = float64(n + v)
			want[fmt.Sprintf("model=m%d,status=error,version=%d,", n, v)] = 0
		}
	}
	require.Equal(t, want, gather(t, m, "modelstream_scores_total"))
	// Retire all but one version of each name: back under the map's size.
	for n := range names {
		for v := 1; v < versions; v++ {
			m.OnModelEvent(serving.ModelEvent{Kind: serving.EventRetired, Model: ref(n, v)})
			delete(want, fmt.Sprintf("model=m%d,status=ok,version=%d,", n, v))
			delete(want, fmt.Sprintf("model=m%d,status=error,version=%d,", n, v))
		}
		m.OnScored(ref(n, versions), time.Millisecond, errors.New("x"))
		m.OnScored(ref(n, 1), time.Millisecond, nil) // retired: not recorded
		want[fmt.Sprintf("model=m%d,status=error,version=%d,", n, versions)] = 1
	}
	require.Equal(t, want, gather(t, m, "modelstream_scores_total"))
}
