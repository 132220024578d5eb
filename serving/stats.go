package serving

import (
	"math"
	"sync/atomic"
	"time"
)

// Stats are the statistics of one model version while it was live: the
// equivalent of the Lightbend tutorial's ModelToServeStats, with a
// correct minimum.
//
// Durations cover the model's Predict call only, for successful and
// failed calls alike. Min and Max are zero until the first call.
type Stats struct {
	// Model is the version these statistics are about.
	Model ModelRef `json:"model"`
	// Since is when the version became live.
	Since time.Time `json:"since"`
	// Invocations counts calls to the model, failed ones included.
	Invocations uint64 `json:"invocations"`
	// Errors counts calls that returned an error.
	Errors uint64 `json:"errors"`
	// Total is the sum of the call durations.
	Total time.Duration `json:"total_ns"`
	// Min is the shortest call.
	Min time.Duration `json:"min_ns"`
	// Max is the longest call.
	Max time.Duration `json:"max_ns"`
	// Mean is Total / Invocations.
	Mean time.Duration `json:"mean_ns"`
}

// counters are the lock-free accumulators behind Stats.
type counters struct {
	n, errs atomic.Uint64
	total   atomic.Int64
	min     atomic.Int64 // math.MaxInt64 until the first call
	max     atomic.Int64
}

func (c *counters) init() { c.min.Store(math.MaxInt64) }

// record counts one call and returns how many calls were counted,
// which the Server uses to sample records for validation.
func (c *counters) record(d time.Duration, failed bool) uint64 {
	n := c.n.Add(1)
	if failed {
		c.errs.Add(1)
	}
	ns := int64(d)
	c.total.Add(ns)
	for {
		m := c.min.Load()
		if ns >= m || c.min.CompareAndSwap(m, ns) {
			break
		}
	}
	for {
		m := c.max.Load()
		if ns <= m || c.max.CompareAndSwap(m, ns) {
			break
		}
	}
	return n
}

func (c *counters) snapshot(ref ModelRef, since time.Time) Stats {
	s := Stats{
		Model:       ref,
		Since:       since,
		Invocations: c.n.Load(),
		Errors:      c.errs.Load(),
		Total:       time.Duration(c.total.Load()),
		Max:         time.Duration(c.max.Load()),
	}
	if m := c.min.Load(); m != math.MaxInt64 {
		s.Min = time.Duration(m)
	}
	if s.Invocations > 0 {
		s.Mean = s.Total / time.Duration(s.Invocations)
	}
	return s
}
