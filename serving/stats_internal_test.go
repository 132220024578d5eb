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
			c.start(1, true)
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
