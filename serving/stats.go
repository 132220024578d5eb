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
// Invocations and Errors never go down from one Stats to the next. They
// are exact when no call is in flight, except that a record refused
// before the model (a non-finite value, an unbound field, a done
// context), or a validation's look at the live version, while Stats
// were being taken may stay counted in Invocations until as many more
// calls are made. The durations are measured on a
// sample of the calls, because timing one (two clock reads and the
// updates of four counters) costs about 60ns, more than all the rest a
// Server adds to a call to a fast model: the first 64 calls of a
// version are timed, then one call in 64 (one batch in 64 to 128 for
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
// whose number is a multiple of timeMask+1 (for batches, see timeCalls).
const (
	timeFirst = 64
	timeMask  = 63
	timeShift = 6 // log2(timeMask+1)
)

// counters are the lock-free accumulators behind Stats, and the
// version's reference count.
//
// The count is two monotonic counters rather than one net count, so
// that a call takes its reference and is counted in one atomic add:
// acquired counts the references ever taken (the slot's own, taken when
// the version is made, and k per call of k records), released those
// ever given back. The version is in use while acquired > released; the
// release that brings released up to acquired closes it, by setting
// refsDead in acquired with a compare-and-swap from the very value
// released reached, which fails if a call acquired it meanwhile (that
// call's own release then closes it). A call that finds refsDead set
// takes its add back and does not use the version.
//
// Invocations is acquired minus the references that were not calls to
// the model (uncounted): the slot's own, a record refused before the
// model (a non-finite value, a binding error, a done context) and a
// validation's hold on the live version. acquired and released, written
// on every call, come first; the fields written only on timed calls or
// on failures follow.
type counters struct {
	acquired  atomic.Uint64
	released  atomic.Uint64
	uncounted atomic.Uint64
	errs      atomic.Uint64
	timed     atomic.Uint64 // calls timed
	total     atomic.Int64  // their summed durations
	min       atomic.Int64  // math.MaxInt64 until the first timed call
	max       atomic.Int64
	// reported is the highest Invocations a snapshot has returned, so
	// that no later one returns fewer (see snapshot).
	reported atomic.Uint64
}

// refsDead is set in counters.acquired once the version is closed: far
// above any count of calls (2^62 records at a billion a second take 146
// years), so that the adds of calls that find it dead, which they take
// back, never carry into it or out of it.
const refsDead = 1 << 62

// init sets the counters of a new version: the slot's own reference
// taken, which is not a call.
func (c *counters) init() {
	c.acquired.Store(1)
	c.uncounted.Store(1)
	c.min.Store(math.MaxInt64)
}

// acquire takes k references unless the version is dead, and reports the
// number of the last of the k calls it counts (the first call of a
// version is number 1, the slot's own reference being number 0).
func (c *counters) acquire(k uint64) (last uint64, ok bool) {
	a := c.acquired.Add(k)
	if a&refsDead != 0 {
		c.acquired.Add(-k)
		return 0, false
	}
	return a - 1, true
}

// release gives k references back and reports whether it was the last
// reference, so that the caller now closes the version: exactly one
// release of a version reports true.
func (c *counters) release(k uint64) bool { return c.closeAt(c.released.Add(k)) }

// closeAt marks the version dead if r, the count of references released,
// is that of those acquired, and reports whether it did. It fails if a
// call acquired the version since r was reached, or if it is dead
// already.
func (c *counters) closeAt(r uint64) bool {
	return r == c.acquired.Load() && c.acquired.CompareAndSwap(r, r|refsDead)
}

// skip notes that k of the references taken were not calls to the model.
func (c *counters) skip(k uint64) { c.uncounted.Add(k) }

// timeCalls reports whether to time the k calls numbered last-k+1 to
// last: when always is set (the Server has a HookScored), when they
// include one of the first timeFirst calls, and otherwise on about one
// batch of k in timeMask+1: when their numbers cross a multiple of
// (timeMask+1)×p, p being k rounded up to a power of two, so that one
// call (k = 1) in 64 is timed, and one batch of 64 in 64, not every one.
func timeCalls(last uint64, k int, always bool) bool {
	first := last - uint64(k) + 1
	shift := timeShift + uint(bits.Len(uint(k-1)))
	return always || first <= timeFirst || last>>shift != (first-1)>>shift
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
// reads each counter after those that are written after it: uncounted
// and errs before acquired (a reference is taken before it can be found
// not to be a call, and a call counted before it can fail), timed before
// total and both before min and max (see time). A snapshot therefore
// never has more Errors than Invocations, and its Mean, which may mix
// the sums of slightly different sets of calls, is kept within its Min
// and Max. Calls in flight are counted, and so, for an instant, are
// records about to be refused before the model, and a call that finds
// the version just closed before it takes its add back: the count read
// can be higher than a later one. Invocations is the highest count any
// snapshot has read, so that it never goes down, as a monitoring
// system that takes it for a counter needs: it is exact again once as
// many calls more are made as were counted for that instant.
func (c *counters) snapshot(ref ModelRef, since time.Time) Stats {
	uncounted := c.uncounted.Load()
	errs := c.errs.Load()
	inv := c.acquired.Load()&^refsDead - uncounted
	for {
		r := c.reported.Load()
		if inv <= r {
			inv = r
			break
		}
		if c.reported.CompareAndSwap(r, inv) {
			break
		}
	}
	s := Stats{
		Model:       ref,
		Since:       since,
		Invocations: inv,
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
