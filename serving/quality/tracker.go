package quality

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/modelstream/modelstream/serving"
)

// ErrFull means a Tracker already holds its maximum number of series and
// was asked for a new one. The outcome is not measured; it is counted in
// [Tracker.Overflow].
var ErrFull = errors.New("quality: too many series")

// Key names one series of a [Tracker]: a model version, and the variant
// that routed to it when a combinator did (empty otherwise). The same
// model version under two variants is two series.
type Key struct {
	// Model is the model's name.
	Model string `json:"model"`
	// Version is the model's version.
	Version uint64 `json:"version"`
	// Variant is the variant's name, or "".
	Variant string `json:"variant,omitempty"`
}

// KeyOf returns the Key of a result's provenance: the model that
// answered, and the variant of the outermost Decision that names one,
// following the winning candidate's nested Decision (a canary's Split
// inside a Budget, say).
func KeyOf(p serving.Provenance) Key {
	return Key{Model: p.Model.Name, Version: p.Model.Version, Variant: variant(p.Decision)}
}

// variant returns the variant of the outermost Decision in d's chain of
// winners that names one: d's own, or else that of the Decision nested
// in d's winning candidate, and so on; "" when none does.
func variant(d *serving.Decision) string {
	for depth := 0; d != nil && depth < maxNesting; depth++ {
		if d.Variant != "" {
			return d.Variant
		}
		if d.Winner < 0 || d.Winner >= len(d.Candidates) {
			return ""
		}
		d = d.Candidates[d.Winner].Decision
	}
	return ""
}

// maxNesting bounds the walk of variant, against a Decision decoded from
// a hostile record that nests without end (or a cycle built in memory).
const maxNesting = 64

// String returns "model@vN" or "model@vN/variant".
func (k Key) String() string {
	s := serving.ModelRef{Name: k.Model, Version: k.Version}.String()
	if k.Variant != "" {
		s += "/" + k.Variant
	}
	return s
}

// Series is the Summary of one Key.
type Series struct {
	Key
	Summary
}

// Tracker keeps one [Meter] per Key, up to a fixed number of keys, so
// that outcomes whose keys come from the data cannot grow it without
// bound. It is safe for concurrent use; looking up an existing series
// allocates nothing.
type Tracker struct {
	max      int
	mu       sync.RWMutex
	series   map[Key]*Meter
	overflow atomic.Uint64
}

// NewTracker returns a Tracker holding at most maxSeries series. It
// returns an error wrapping serving.ErrConfig unless maxSeries >= 1.
func NewTracker(maxSeries int) (*Tracker, error) {
	if maxSeries < 1 {
		return nil, fmt.Errorf("%w: quality: NewTracker(%d): need at least one series", serving.ErrConfig, maxSeries)
	}
	return &Tracker{max: maxSeries, series: make(map[Key]*Meter)}, nil
}

// Meter returns the Meter of k, creating it if the Tracker has room. When
// it is full, Meter returns ErrFull and counts it in Overflow.
func (t *Tracker) Meter(k Key) (*Meter, error) {
	t.mu.RLock()
	m := t.series[k]
	t.mu.RUnlock()
	if m != nil {
		return m, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if m = t.series[k]; m != nil {
		return m, nil
	}
	if len(t.series) >= t.max {
		t.overflow.Add(1)
		return nil, fmt.Errorf("%w: %d series, %s refused", ErrFull, t.max, k)
	}
	m = new(Meter)
	t.series[k] = m
	return m, nil
}

// Overflow counts the outcomes refused with ErrFull.
func (t *Tracker) Overflow() uint64 { return t.overflow.Load() }

// all returns every series, key and Meter at the same index, taken
// under the read lock; the Meters are read after it, each under its own.
func (t *Tracker) all() ([]Key, []*Meter) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	keys := make([]Key, 0, len(t.series))
	ms := make([]*Meter, 0, len(t.series))
	for k, m := range t.series {
		keys = append(keys, k)
		ms = append(ms, m)
	}
	return keys, ms
}

// Snapshot returns the Summary of every series, ordered by model,
// version, then variant.
func (t *Tracker) Snapshot() []Series {
	keys, ms := t.all()
	out := make([]Series, len(keys))
	for i, m := range ms {
		out[i] = Series{Key: keys[i], Summary: m.Summary()}
	}
	slices.SortFunc(out, func(a, b Series) int {
		return cmp.Or(cmp.Compare(a.Model, b.Model), cmp.Compare(a.Version, b.Version), cmp.Compare(a.Variant, b.Variant))
	})
	return out
}
