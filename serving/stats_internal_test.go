package serving

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestStatsSnapshotUnderLoad reads the statistics while calls are being
// counted and timed, as Server.Models may at any moment, and checks what
// every snapshot must say whatever the interleaving: no more errors than
// invocations, and, every call taking the same d, a Mean, Min and Max
// that are d once any call was timed. Reading the counters in the order
// they are written broke both: a call that started and failed between
// the reads of n and errs, or that was timed between the reads of timed
// and total (or before max was read) showed Errors > Invocations, or a
// Mean that no call took.
func TestStatsSnapshotUnderLoad(t *testing.T) {
	const d = 1000 * time.Nanosecond
	var c counters
	c.init()
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			c.acquire(1)
			c.errs.Add(1)
			c.time(d, 1)
		}
	})
	deadline := time.Now().Add(500 * time.Millisecond)
	bad := 0
	for i := 0; time.Now().Before(deadline); i++ {
		s := c.snapshot(ModelRef{Name: "m"}, time.Time{})
		if s.Errors > s.Invocations {
			t.Errorf("snapshot %d: %d errors of %d invocations", i, s.Errors, s.Invocations)
			bad++
		}
		if s.Mean != 0 && (s.Mean != d || s.Min != d || s.Max != d) {
			t.Errorf("snapshot %d: every call took %v, but Mean %v, Min %v, Max %v", i, d, s.Mean, s.Min, s.Max)
			bad++
		}
		if s.Total > time.Duration(s.Invocations)*d {
			t.Errorf("snapshot %d: Total %v for %d calls of %v", i, s.Total, s.Invocations, d)
			bad++
		}
		if bad > 5 {
			break
		}
	}
	stop.Store(true)
	wg.Wait()
}

// TestTimeCallsOneBatchIn64: after the first timeFirst calls, one call
// in timeMask+1 (64) is timed when calls come one by one, and about one
// batch in 64 (not one in 64 of their records, which timed every batch
// of 64 or more) when they come in batches; with always set, every one.
func TestTimeCallsOneBatchIn64(t *testing.T) {
	const per = timeMask + 1
	for _, tc := range []struct{ k, batches, lo, hi int }{
		{1, 32 * per, timeFirst + 31, timeFirst + 31}, // calls 1-64, then 128, 192, ...
		{64, 32 * per, 1 + 32, 1 + 32},                // the first batch, then one in 64
		{8, 32 * per, timeFirst/8 + 31, timeFirst/8 + 32},
		{5, 64 * per, (timeFirst+4)/5 + 32, (timeFirst+4)/5 + 64},
		{100, 16 * per, 1 + 8, 1 + 16},
	} {
		var c counters
		c.init()
		timed := 0
		for range tc.batches {
			if n, _ := c.acquire(uint64(tc.k)); timeCalls(n, tc.k, false) {
				timed++
			}
		}
		if timed < tc.lo || timed > tc.hi {
			t.Errorf("%d batches of %d: %d timed, want %d to %d", tc.batches, tc.k, timed, tc.lo, tc.hi)
		}
		if n, _ := c.acquire(uint64(tc.k)); !timeCalls(n, tc.k, true) {
			t.Errorf("batch of %d not timed with always set", tc.k)
		}
	}
}

// TestStatsInvocationsNeverGoDown: a record refused before the model is
// counted in the add that takes its reference, and taken back out when
// it is refused, so a snapshot taken in between counts it. A later
// snapshot must not then show fewer Invocations: a monitoring system
// that reads Invocations as a counter would take the drop for a
// restart. The count is exact again after one more call.
func TestStatsInvocationsNeverGoDown(t *testing.T) {
	var c counters
	c.init()
	c.acquire(1) // a call
	c.acquire(1) // a record about to be refused
	during := c.snapshot(ModelRef{Name: "m"}, time.Time{}).Invocations
	if during != 2 {
		t.Fatalf("Invocations %d with a call and a record in flight, want 2", during)
	}
	c.skip(1) // refused: not a call
	if after := c.snapshot(ModelRef{Name: "m"}, time.Time{}).Invocations; after < during {
		t.Fatalf("Invocations went down from %d to %d", during, after)
	}
	c.acquire(1) // one more call
	if got := c.snapshot(ModelRef{Name: "m"}, time.Time{}).Invocations; got != 2 {
		t.Fatalf("Invocations %d after 2 calls, want 2", got)
	}
}
