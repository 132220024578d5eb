package metrics_test

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelstream/modelstream/serving"
)

// legacyScored is the scoring hook as it was before the custom
// histogram, kept as the baseline of BenchmarkServerHooks and
// BenchmarkOnScored: a copy-on-write map of HistogramVec and CounterVec
// children, with Observe(took.Seconds()) and an ok or error Inc per call.
type legacyScored struct {
	duration *prometheus.HistogramVec
	scores   *prometheus.CounterVec
	mu       sync.Mutex
	series   atomic.Pointer[map[legacyKey]*legacySeries]
}

type legacyKey struct {
	name    string
	version uint64
}

type legacySeries struct {
	hist     prometheus.Observer
	ok, errs prometheus.Counter
}

func newLegacyScored() *legacyScored {
	l := &legacyScored{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "legacy", Name: "score_duration_seconds",
			Buckets: prometheus.ExponentialBuckets(10e-6, 2, 18)}, []string{"model", "version"}),
		scores: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "legacy", Name: "scores_total"},
			[]string{"model", "version", "status"}),
	}
	empty := map[legacyKey]*legacySeries{}
	l.series.Store(&empty)
	return l
}

func (l *legacyScored) Describe(ch chan<- *prometheus.Desc) {
	l.duration.Describe(ch)
	l.scores.Describe(ch)
}

func (l *legacyScored) Collect(ch chan<- prometheus.Metric) {
	l.duration.Collect(ch)
	l.scores.Collect(ch)
}

func (l *legacyScored) seriesFor(ref serving.ModelRef) *legacySeries {
	k := legacyKey{ref.Name, ref.Version}
	if s, ok := (*l.series.Load())[k]; ok {
		return s
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := *l.series.Load()
	if s, ok := cur[k]; ok {
		return s
	}
	v := strconv.FormatUint(ref.Version, 10)
	s := &legacySeries{
		hist: l.duration.WithLabelValues(ref.Name, v),
		ok:   l.scores.WithLabelValues(ref.Name, v, "ok"),
		errs: l.scores.WithLabelValues(ref.Name, v, "error"),
	}
	next := make(map[legacyKey]*legacySeries, len(cur)+1)
	for kk, vv := range cur {
		next[kk] = vv
	}
	next[k] = s
	l.series.Store(&next)
	return s
}

func (l *legacyScored) OnScored(ref serving.ModelRef, took time.Duration, err error) {
	s := l.seriesFor(ref)
	s.hist.Observe(took.Seconds())
	if err != nil {
		s.errs.Inc()
	} else {
		s.ok.Inc()
	}
}
