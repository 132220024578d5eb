package speculative

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The estimator tracks the 99.9th percentile of what it observes: fed a
// stationary Pareto-tailed lateness, it settles near the true quantile,
// starting from zero.
func TestLatenessTracksTheHighQuantile(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 2))
	draw := func() time.Duration { // Pareto, scale 100µs, shape 1.5
		return time.Duration(float64(100*time.Microsecond) / math.Pow(1-r.Float64(), 1/1.5))
	}
	truth := make([]time.Duration, 1_000_000)
	for i := range truth {
		truth[i] = draw()
	}
	slices.Sort(truth)
	want := truth[int(latenessQuantile*float64(len(truth)))]

	var l lateness
	var est []float64
	for i := 0; i < 400_000; i++ {
		l.observe(draw(), time.Hour)
		if i >= 200_000 && i%1000 == 0 {
			est = append(est, float64(l.q.Load()))
		}
	}
	slices.Sort(est)
	med := time.Duration(est[len(est)/2])
	t.Logf("true 99.9th percentile %v; estimate over the second half: median %v, range %v..%v",
		want, med, time.Duration(est[0]), time.Duration(est[len(est)-1]))
	if med < want/2 || med > want*2 {
		t.Errorf("estimate %v, want within a factor 2 of the true 99.9th percentile %v", med, want)
	}
}

// From zero, a few late calls teach the estimate; the lead is capped at
// a quarter of the budget; and after the lateness falls, the estimate
// decays.
func TestLatenessLearnsCapsAndDecays(t *testing.T) {
	var l lateness
	for range 200 {
		l.observe(2*time.Millisecond, time.Hour)
	}
	if got := time.Duration(l.q.Load()); got < 2*time.Millisecond || got > 3*time.Millisecond {
		t.Errorf("after 200 calls 2ms late the estimate is %v, want 2ms to 3ms", got)
	}
	if got := l.lead(4 * time.Millisecond); got != time.Millisecond {
		t.Errorf("lead for a 4ms budget %v, want the cap of a quarter, 1ms", got)
	}
	before := l.q.Load()
	for range 20000 {
		l.observe(0, time.Hour)
	}
	if after := l.q.Load(); after > before/2 {
		t.Errorf("20000 timely calls decayed the estimate from %v to %v only", time.Duration(before), time.Duration(after))
	}
	l.observe(time.Hour, time.Hour)
	if got := time.Duration(l.q.Load()); got > time.Second {
		t.Errorf("estimate %v after a one-hour stall, want at most 1s", got)
	}
}

// A burst of lateness far beyond the largest lead a Budget may take
// raises the estimate only to about that cap: above it the estimate buys
// nothing, and climbing there would keep the lead at the cap long after
// the burst, while the estimate decays back down at a thousandth of the
// pace it rose. Fed 2000 calls 50ms late on a 15ms budget (cap 3.75ms),
// then timely calls, the lead leaves the cap within 10,000 of them.
func TestLatenessBurstBeyondTheCapDecaysFromTheCap(t *testing.T) {
	const d = 15 * time.Millisecond
	var l lateness
	for range 2000 {
		l.observe(50*time.Millisecond, d)
	}
	if got := l.lead(d); got != d/4 {
		t.Fatalf("lead after the burst %v, want the cap %v", got, d/4)
	}
	for i := range 10_000 {
		l.observe(0, d)
		if l.lead(d) < 3*time.Millisecond {
			t.Logf("the lead fell below 3ms after %d timely calls", i+1)
			return
		}
	}
	t.Errorf("after 10,000 timely calls the estimate is still %v, the lead %v: it climbed far above the cap during the burst",
		time.Duration(l.q.Load()), l.lead(d))
}
