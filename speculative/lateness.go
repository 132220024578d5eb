package speculative

import (
	"sync/atomic"
	"time"
)

// timerLateness learns how late this process's budget timers fire, as a
// running estimate of a high quantile (about the 99.9th percentile) of
// the overshoot: the time from the instant a Budget's timer was due to
// the instant Score returned. Go's timers fire late by the time the
// runtime takes to notice them and schedule the waiting goroutine, which
// on a busy machine is a millisecond or more; a Budget starts its timer
// early by the learned amount, so that its answer is back by the budget.
//
// One estimate serves the whole process, since the lateness belongs to
// the process's scheduling, not to one Budget. It is updated lock-free
// by every Budget call that ran out of time.
var timerLateness lateness

// learnLateness is off only in tests that measure a Budget without the
// learned lead.
var learnLateness atomic.Bool

// lateness is a streaming quantile estimator (the stochastic
// approximation q ← q + up when x > q, q ← q - down otherwise, whose
// fixed point is the quantile where P(x > q) = down/(up+down)). Steps are
// proportional to q, so it adapts in relative terms at every scale, with
// a floor so that it can leave zero.
type lateness struct {
	q atomic.Int64 // nanoseconds
}

const (
	// latenessQuantile is the quantile the estimate tracks: 1 in 1000
	// deadline-bound calls may overshoot the learned lead.
	latenessQuantile = 0.999
	// latenessUp is the relative step up after an overshoot beyond the
	// estimate: after a jump in lateness the estimate follows within a
	// few dozen late calls. The step down is latenessUp·(1-q)/q of the
	// estimate, so it decays about a thousand times more slowly.
	latenessUp = 1.0 / 16
	// latenessFloor is the smallest step up.
	latenessFloor = 20 * time.Microsecond
)

// leadShare caps the lead at 1/leadShare of a budget (4: a quarter), so
// that a burst of stalls cannot eat a budget's time for the models. It
// is a variable only for the straggler harness, which measures other
// caps.
var leadShare atomic.Int64

func init() {
	learnLateness.Store(true)
	leadShare.Store(4)
}

// leadCap is the largest lead a Budget of d takes.
func leadCap(d time.Duration) time.Duration { return d / time.Duration(leadShare.Load()) }

// lead returns how early a timer for budget d should fire.
func (l *lateness) lead(d time.Duration) time.Duration {
	if !learnLateness.Load() {
		return 0
	}
	return min(time.Duration(l.q.Load()), leadCap(d))
}

// observe records that a call of a Budget of d, bound by its timer,
// returned x after the timer was due. A late call raises the estimate
// only while it is below that Budget's cap: above the cap the estimate
// buys the Budget nothing, and since it decays a thousand times more
// slowly than it rises, a burst of stalls that lifted it far above the
// cap would hold the lead at the cap for a long time after the burst.
func (l *lateness) observe(x, d time.Duration) {
	ceiling := float64(leadCap(d))
	for {
		old := l.q.Load()
		q := float64(old)
		var next float64
		if float64(x) > q {
			if q >= ceiling {
				return
			}
			next = q + max(q*latenessUp, float64(latenessFloor))
		} else {
			next = q - q*latenessUp*(1-latenessQuantile)/latenessQuantile
		}
		if next < 0 {
			next = 0
		}
		// Never more than a second: a process stalled for longer has
		// no timer lateness worth learning.
		n := min(int64(next), int64(time.Second))
		if l.q.CompareAndSwap(old, n) {
			return
		}
	}
}
