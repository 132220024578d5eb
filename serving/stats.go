package serving

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Stats are the statistics of one model version while it was live: the
// equivalent of the Lightbend tutorial's ModelToServeStats, with a
// correct minimum.
//
// Invocations and Errors are exact. The durations are measured on a
// sample of the calls, because two clock reads cost about a third of
// what a Server adds to a call to a fast model: the first 16 calls of a
// version are timed, then one call in 16 (one batch in 16 to 32 for
// batches scored together), and every call while the Server has a
// [HookScored] (which is given each call's duration).
// Durations cover the model's Predict call only, for successful and
// failed calls alike; a batch of n records is timed as a whole and
// counts as n calls of a n-th of its time each. Min and Max are zero
// until the first call.
type Stats struct {
	// Model is the version these statistics are about.
	Model ModelRef `json:"model"`
	// Since is when the version became live.
	Since time.Time `json:"since"`
	// Invocations counts calls to the model, failed ones included.
	Invocations uint64 `json:"invocations"`
	// Errors counts calls that returned an error.
	Errors uint64 `json:"errors"`
	// Total is the time spent in the model: the sum of the call
	// durations, estimated as Mean × Invocations when not every call was
	// timed.
	Total time.Duration `json:"total_ns"`
	// Min is the shortest timed call.
	Min time.Duration `json:"min_ns"`
	// Max is the longest timed call.
	Max time.Duration `json:"max_ns"`
	// Mean is the mean duration of the timed calls.
	Mean time.Duration `json:"mean_ns"`
}

// The timing sample: calls numbered 1 to timeFirst, then every call
// whose number is a multiple of timeMask+1 (for batches, see start).
const (
	timeFirst = 16
	timeMask  = 15
	timeShift = 4 // log2(timeMask+1)
)

// counters are the lock-free accumulators behind Stats. n, written on
// every call, comes first; the fields written only on timed calls follow.
type counters struct {
	n, errs atomic.Uint64
	timed   atomic.Uint64 // calls timed
	total   atomic.Int64  // their summed durations
	min     atomic.Int64  // math.MaxInt64 until the first timed call
	max     atomic.Int64
}

func (c *counters) init() { c.min.Store(math.MaxInt64) }

// start counts k calls about to be made and reports whether to time
// them: when always is set (the Server has a HookScored), when they
// include one of the first timeFirst calls, and otherwise on about one
// batch of k in timeMask+1: when their numbers cross a multiple of
// (timeMask+1)×p, p being k rounded up to a power of two, so that one
// call (k = 1) in 16 is timed, and one batch of 64 in 16, not every one.
// It returns the number of the last call, which the Server also uses to
// sample records for validation.
func (c *counters) start(k int, always bool) (last uint64, timed bool) {
	last = c.n.Add(uint64(k))
	first := last - uint64(k) + 1
	shift := timeShift + uint(bits.Len(uint(k-1)))
	return last, always || first <= timeFirst || last>>shift != (first-1)>>shift
}

// time records the duration of k timed calls of d each. Min and Max
// are written before the sums, and the sums read before them by
// snapshot, so that every timed call a snapshot counts lies within its
// Min and Max.
func (c *counters) time(d time.Duration, k int) {
	ns := int64(d)
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
	c.total.Add(ns * int64(k))
	c.timed.Add(uint64(k))
}

// snapshot reads the counters while calls may be updating them. It
// reads each counter after those that are written after it: errs before
// n (a call is counted in n before it can fail), timed before total and
// both before min and max (see time). A snapshot therefore never has
// more Errors than Invocations, and its Mean, which may mix the sums of
// slightly different sets of calls, is kept within its Min and Max.
func (c *counters) snapshot(ref ModelRef, since time.Time) Stats {
	errs := c.errs.Load()
	s := Stats{
		Model:       ref,
		Since:       since,
		Invocations: c.n.Load(),
		Errors:      errs,
	}
	timed := c.timed.Load()
	total := time.Duration(c.total.Load())
	s.Max = time.Duration(c.max.Load())
	if m := c.min.Load(); m != math.MaxInt64 {
		s.Min = time.Duration(m)
	}
	if timed == 0 {
		return s
	}
	s.Mean = min(max(total/time.Duration(timed), s.Min), s.Max)
	if timed == s.Invocations && total <= s.Max*time.Duration(timed) {
		// Every call timed (calls that started but have not yet
		// finished are counted in Invocations only), and the sum read
		// holds no call that timed does not count.
		s.Total = total
	} else {
		s.Total = s.Mean * time.Duration(s.Invocations)
	}
	return s
}
