package training

import (
	"math/rand/v2"
	"testing"
)

// TestPageHinkleyAbruptChange runs 200 streams of 0/1 errors whose rate
// jumps from 10% to 40% at record 5000, and measures the detection delay
// and the false alarms before the change.
func TestPageHinkleyAbruptChange(t *testing.T) {
	const runs, change, after = 200, 5000, 2000
	var falseAlarms, missed int
	var delays []int
	for run := 0; run < runs; run++ {
		r := rand.New(rand.NewPCG(uint64(run), 77))
		ph, err := NewPageHinkley()
		if err != nil {
			t.Fatal(err)
		}
		detected := -1
		for i := 0; i < change+after; i++ {
			p := 0.1
			if i >= change {
				p = 0.4
			}
			x := 0.0
			if r.Float64() < p {
				x = 1
			}
			if ph.Add(x) {
				if i < change {
					falseAlarms++
				} else if detected < 0 {
					detected = i - change
				}
			}
		}
		if detected < 0 {
			missed++
		} else {
			delays = append(delays, detected)
		}
	}
	var sum, worst int
	for _, d := range delays {
		sum += d
		worst = max(worst, d)
	}
	mean := float64(sum) / float64(len(delays))
	rate := float64(falseAlarms) / float64(runs*change) * 1000
	t.Logf("Page-Hinkley (δ=0.005, λ=50) on error rate 0.1 -> 0.4 at record %d, %d runs: detected %d, missed %d; delay mean %.0f, max %d records; false alarms before the change: %d in %d records (%.3f per 1000)",
		change, runs, len(delays), missed, mean, worst, falseAlarms, runs*change, rate)
	if missed > 0 {
		t.Errorf("missed the change in %d of %d runs", missed, runs)
	}
	// The expected delay is λ/(0.3 - δ) ≈ 170 records; allow a lot of slack.
	if worst > 600 {
		t.Errorf("worst detection delay %d records, want at most 600", worst)
	}
	if rate > 0.05 {
		t.Errorf("%.3f false alarms per 1000 records before the change, want at most 0.05", rate)
	}
}

func TestPageHinkleyValidates(t *testing.T) {
	for _, o := range []PageHinkleyOption{PHDelta(-1), PHLambda(0), PHAlpha(0), PHAlpha(1.5), PHMinInstances(0)} {
		if _, err := NewPageHinkley(o); err == nil {
			t.Error("accepted an invalid parameter")
		}
	}
}
