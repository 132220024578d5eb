package metrics

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/speculative/canary"
)

// Metrics implements every hook of the module (serving.HookScored and
// HookModelEvent, speculative.HookDecision, the HookDeadLetter,
// HookCommit and HookLag of serving/kafka, and canary.HookRollout), and is
// a prometheus.Collector. It is safe for concurrent use.
type Metrics struct {
	durationDesc *prometheus.Desc
	scoresDesc   *prometheus.Desc
	bounds       bucketIndex
	stripes      int // per series; see defaultStripes
	active       *prometheus.GaugeVec
	events       *prometheus.CounterVec
	loadFails    *prometheus.CounterVec
	swaps        *prometheus.CounterVec
	decisions    *prometheus.CounterVec
	wins         *prometheus.CounterVec
	late         *prometheus.CounterVec
	candErrors   *prometheus.CounterVec
	deadLetters  *prometheus.CounterVec
	commits      *prometheus.CounterVec
	lag          *prometheus.GaugeVec
	untracked    *prometheus.CounterVec
	rollouts     *rollouts

	mu     sync.Mutex // serialises writers of series, and guards the fields below
	series atomic.Pointer[seriesSet]
	// lastEvent is the time of the newest activation, rollback or
	// retirement applied per model name; older events arriving late
	// do not move the active_version gauge.
	lastEvent map[string]time.Time
	// retired holds the versions whose series were dropped; a call that
	// was in flight on one of them records nothing, rather than bringing
	// its series back for good.
	retired map[refKey]struct{}
	// retiredOrder lists the keys of retired oldest first, a ring of at
	// most maxRetired; next is where the next key goes.
	retiredOrder []refKey
	next         int
	// names holds the model names that have per-name event series, true
	// once the name went live; rejectedOnly counts the false ones.
	names        map[string]bool
	rejectedOnly int
	maxModels    int
	maxRejected  int
}

// The defaults of MaxModels and MaxRejectedModels, which their docs state.
const (
	defaultMaxModels         = 1000
	defaultMaxRejectedModels = 100
)

// maxRetired bounds how many replaced versions Metrics remembers so that
// a call still in flight on one of them records nothing (see # Swaps in
// the package documentation); past it the oldest is forgotten.
const maxRetired = 4096

var (
	_ serving.HookScored     = (*Metrics)(nil)
	_ serving.HookModelEvent = (*Metrics)(nil)
	_ canary.HookRollout     = (*Metrics)(nil)
	_ prometheus.Collector   = (*Metrics)(nil)
)

type refKey struct {
	name    string
	version uint64
}

// Option configures Metrics.
type Option func(*config)

type config struct {
	buckets              []float64
	maxModels, maxReject int
}

// MaxModels caps how many model names get series of their own in the
// per-name event metrics (active_version, model_events_total,
// model_load_failures_total, model_swaps_total), overriding the default
// of 1000. Events about a name past the cap are counted in
// model_events_untracked_total{event} instead. n must be at least 1.
func MaxModels(n int) Option { return func(c *config) { c.maxModels = n } }

// MaxRejectedModels caps how many of the MaxModels names may be names
// that never went live (every model message of theirs was rejected, or
// only loaded), overriding the default of 100;
// zero gives series only to names that went live. It keeps a flood of
// junk model messages with ever new names from filling the series, or
// the MaxModels slots that real models need. n must be at least 0.
func MaxRejectedModels(n int) Option { return func(c *config) { c.maxReject = n } }

// Buckets sets the score-duration histogram buckets in seconds,
// overriding the default of 10µs to about 1.3s in powers of two. At least
// one bound is needed, in strictly increasing order.
func Buckets(b ...float64) Option { return func(c *config) { c.buckets = b } }

// New returns Metrics with no series yet. Register it with a Prometheus
// registry to export it.
//
// New returns an error wrapping serving.ErrConfig when an option is
// nil or invalid (Buckets empty, unsorted or NaN, MaxModels below 1,
// MaxRejectedModels below 0), as bounds read from a configuration file
// can be.
func New(opts ...Option) (*Metrics, error) {
	c := config{buckets: prometheus.ExponentialBuckets(10e-6, 2, 18), maxModels: defaultMaxModels, maxReject: defaultMaxRejectedModels}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: metrics: nil option", serving.ErrConfig)
		}
		o(&c)
	}
	if c.maxModels < 1 || c.maxReject < 0 {
		return nil, fmt.Errorf("%w: metrics: MaxModels(%d), MaxRejectedModels(%d): need at least 1 and 0", serving.ErrConfig, c.maxModels, c.maxReject)
	}
	if len(c.buckets) == 0 {
		return nil, fmt.Errorf("%w: metrics: Buckets() needs at least one bound", serving.ErrConfig)
	}
	for i, b := range c.buckets {
		if math.IsNaN(b) || (i > 0 && b <= c.buckets[i-1]) {
			return nil, fmt.Errorf("%w: metrics: Buckets%v: bounds must be numbers in strictly increasing order", serving.ErrConfig, c.buckets)
		}
	}
	if math.IsInf(c.buckets[len(c.buckets)-1], +1) {
		// The +Inf bucket is implicit, as in prometheus.Histogram.
		c.buckets = c.buckets[:len(c.buckets)-1]
	}
	ns := "modelstream"
	m := &Metrics{
		durationDesc: prometheus.NewDesc(prometheus.BuildFQName(ns, "", "score_duration_seconds"),
			"Time spent in a model's Predict call.", []string{"model", "version"}, nil),
		scoresDesc: prometheus.NewDesc(prometheus.BuildFQName(ns, "", "scores_total"),
			"Model calls by outcome.", []string{"model", "version", "status"}, nil),
		bounds:  newBucketIndex(slices.Clone(c.buckets)),
		stripes: defaultStripes,
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "active_version",
			Help: "The live version of each model name."}, []string{"model"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "model_events_total",
			Help: "Model lifecycle events."}, []string{"model", "event"}),
		loadFails: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "model_load_failures_total",
			Help: "Model versions refused: corrupt, unverified, stale or failing to load."}, []string{"model"}),
		swaps: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "model_swaps_total",
			Help: "Hot swaps: activations and rollbacks."}, []string{"model"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "decisions_total",
			Help: "Speculative decisions made."}, []string{"combinator"}),
		wins: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "decision_wins_total",
			Help: "Speculative decisions won, per model."}, []string{"combinator", "model"}),
		late: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "decision_late_total",
			Help: "Candidates that missed the deadline (budget misses), per model."}, []string{"combinator", "model"}),
		candErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "decision_errors_total",
			Help: "Candidates that failed, per model."}, []string{"combinator", "model"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "dead_letters_total",
			Help: "Records sent to the dead-letter topic."}, []string{"topic"}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "commits_total",
			Help: "Offset commits after acknowledged output."}, []string{"topic", "partition"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "consumer_lag",
			Help: "High-water mark minus next offset to consume."}, []string{"topic", "partition"}),
		untracked: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "model_events_untracked_total",
			Help: "Model events about names without series of their own: past MaxModels or MaxRejectedModels, or not valid UTF-8."}, []string{"event"}),
		rollouts:    newRollouts(),
		maxModels:   c.maxModels,
		maxRejected: c.maxReject,
	}
	m.series.Store(newSeriesSet(nil))
	m.lastEvent = map[string]time.Time{}
	m.retired = map[refKey]struct{}{}
	m.names = map[string]bool{}
	return m, nil
}

func (m *Metrics) collectors() []prometheus.Collector {
	r := m.rollouts
	return []prometheus.Collector{m.active, m.events, m.loadFails, m.swaps,
		m.decisions, m.wins, m.late, m.candErrors, m.deadLetters, m.commits, m.lag, m.untracked,
		r.share, r.step, r.decisions, r.guard}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.durationDesc
	ch <- m.scoresDesc
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, e := range m.series.Load().list {
		e.s.collect(ch, m)
	}
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

// seriesFor returns the series of ref, creating them, or nil if ref was
// replaced or retired: the slow path of OnScored, taken once per version.
func (m *Metrics) seriesFor(ref serving.ModelRef) *scoreSeries {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.series.Load()
	if s := cur.get(ref.Name, ref.Version); s != nil {
		return s
	}
	k := refKey{ref.Name, ref.Version}
	if _, gone := m.retired[k]; gone {
		return nil
	}
	if !utf8.ValidString(ref.Name) {
		return nil // not a valid label value: the scrape would fail
	}
	s := newScoreSeries(ref.Name, strconv.FormatUint(ref.Version, 10), len(m.bounds.thr), m.stripes)
	m.series.Store(cur.with(k, s))
	return s
}

// forget drops the per-version series of a replaced version, so that
// label cardinality stays bounded by the number of live versions. The
// caller holds m.mu.
func (m *Metrics) forget(ref serving.ModelRef) {
	cur := m.series.Load()
	k := refKey{ref.Name, ref.Version}
	if _, ok := m.retired[k]; !ok {
		if len(m.retiredOrder) < maxRetired {
			m.retiredOrder = append(m.retiredOrder, k)
		} else {
			delete(m.retired, m.retiredOrder[m.next])
			m.retiredOrder[m.next] = k
			m.next = (m.next + 1) % maxRetired
		}
		m.retired[k] = struct{}{}
	}
	if cur.get(ref.Name, ref.Version) == nil {
		return
	}
	m.series.Store(cur.without(k))
}

// OnScored implements serving.HookScored.
func (m *Metrics) OnScored(ref serving.ModelRef, took time.Duration, err error) {
	s := m.series.Load().get(ref.Name, ref.Version)
	if s == nil {
		s = m.seriesFor(ref)
	}
	if s == nil {
		return // a call that finished on a version already replaced
	}
	n, row := int64(took), 0
	if err != nil {
		row = s.width
	}
	if uint64(n) > fastMax { // also every negative n
		s.addSlow(row+m.bounds.of(n), n)
		return
	}
	s.add(stripeOf(n, s.stripes-1)*s.stride+row+m.bounds.ofShort(n), n)
}

// OnModelEvent implements serving.HookModelEvent.
func (m *Metrics) OnModelEvent(e serving.ModelEvent) {
	name := e.Model.Name
	m.mu.Lock()
	defer m.mu.Unlock()
	swap := e.Kind == serving.EventActivated || e.Kind == serving.EventRolledBack
	if swap && e.Previous.Name != "" && e.Previous.Version != e.Model.Version {
		m.forget(e.Previous)
	}
	if !m.track(name, swap) {
		m.untracked.WithLabelValues(e.Kind.String()).Inc()
		if e.Kind == serving.EventRetired {
			m.forget(e.Model)
		}
		return
	}
	m.events.WithLabelValues(name, e.Kind.String()).Inc()
	switch e.Kind {
	case serving.EventRejected:
		m.loadFails.WithLabelValues(name).Inc()
	case serving.EventActivated, serving.EventRolledBack:
		m.swaps.WithLabelValues(name).Inc()
		if !m.newest(e) {
			// A later swap was already applied: e.Model is no longer live.
			m.forget(e.Model)
			return
		}
		delete(m.retired, refKey{name, e.Model.Version})
		m.active.WithLabelValues(name).Set(float64(e.Model.Version))
	case serving.EventRetired:
		m.forget(e.Model)
		if m.newest(e) {
			m.active.DeleteLabelValues(name)
		}
	}
}

// track reports whether name has per-name event series, giving it some
// if the caps allow: any name up to maxModels, of which at most
// maxRejected that never went live. live says the event makes name live.
// The caller holds m.mu.
func (m *Metrics) track(name string, live bool) bool {
	if wasLive, ok := m.names[name]; ok {
		if live && !wasLive {
			m.names[name] = true
			m.rejectedOnly--
		}
		return true
	}
	if len(m.names) >= m.maxModels || (!live && m.rejectedOnly >= m.maxRejected) || !utf8.ValidString(name) {
		return false
	}
	m.names[name] = live
	if !live {
		m.rejectedOnly++
	}
	return true
}

// newest reports whether e is not older than the last swap applied for
// its name, and records it if so. Events carry the instant the Server
// swapped (taken under its lock), while the hooks run after the lock is
// released, so two quick swaps can arrive in either order. An event
// without a time is taken as the newest. The caller holds m.mu.
func (m *Metrics) newest(e serving.ModelEvent) bool {
	if e.Time.IsZero() {
		return true
	}
	if last, ok := m.lastEvent[e.Model.Name]; ok && e.Time.Before(last) {
		return false
	}
	m.lastEvent[e.Model.Name] = e.Time
	return true
}

// label is s as a label value: Prometheus refuses one that is not valid
// UTF-8, and WithLabelValues panics on it, in the hook's caller (a
// scoring goroutine). Each invalid byte sequence becomes U+FFFD, so the
// event is still counted, under a name that shows it was mangled.
// Valid strings are returned as they are, without allocating.
func label(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// OnDecision implements speculative.HookDecision. A combinator or model
// name that is not valid UTF-8 (a model name comes from its model
// message) is counted with each invalid byte sequence replaced by U+FFFD.
func (m *Metrics) OnDecision(combinator string, d *serving.Decision, _ time.Duration) {
	combinator = label(combinator)
	m.decisions.WithLabelValues(combinator).Inc()
	if d == nil {
		return
	}
	for i, c := range d.Candidates {
		switch {
		case i == d.Winner:
			m.wins.WithLabelValues(combinator, label(c.Model.Name)).Inc()
		case c.Status == serving.StatusLate:
			m.late.WithLabelValues(combinator, label(c.Model.Name)).Inc()
		case c.Status == serving.StatusError:
			m.candErrors.WithLabelValues(combinator, label(c.Model.Name)).Inc()
		}
	}
}

// OnDeadLetter implements kafka.HookDeadLetter (package serving/kafka).
func (m *Metrics) OnDeadLetter(topic string, _ int32, _ int64, _ error) {
	m.deadLetters.WithLabelValues(label(topic)).Inc()
}

// OnCommit implements kafka.HookCommit (package serving/kafka).
func (m *Metrics) OnCommit(topic string, partition int32, _ int64) {
	m.commits.WithLabelValues(label(topic), strconv.FormatInt(int64(partition), 10)).Inc()
}

// OnLag implements kafka.HookLag (package serving/kafka).
func (m *Metrics) OnLag(topic string, partition int32, lag int64) {
	m.lag.WithLabelValues(label(topic), strconv.FormatInt(int64(partition), 10)).Set(float64(lag))
}
