package training

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAbruptChange runs 200 streams of 0/1 errors whose rate jumps from
// 10% to 40% at record 5000 through each detector with its default
// parameters, and measures the detection delay and the false alarms
// before the change.
func TestAbruptChange(t *testing.T) {
	for _, tc := range []struct {
		name     string
		new      func() Detector
		maxDelay int
	}{
		// The expected delay is about λ/(0.3 - δ) ≈ 170 records.
		{"Page-Hinkley (δ=0.005, λ=50)", func() Detector { d, _ := NewPageHinkley(); return d }, 600},
		{"ADWIN (δ=0.002, clock 32)", func() Detector { d, _ := NewADWIN(); return d }, 600},
	} {
		t.Run(tc.name, func(t *testing.T) { abruptChange(t, tc.name, tc.new, tc.maxDelay) })
	}
}

func abruptChange(t *testing.T, name string, newDetector func() Detector, maxDelay int) {
	const runs, change, after = 200, 5000, 2000
	var falseAlarms, missed int
	var delays []int
	for run := 0; run < runs; run++ {
		r := rand.New(rand.NewPCG(uint64(run), 77))
		ph := newDetector()
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
	t.Logf("%s on error rate 0.1 -> 0.4 at record %d, %d runs: detected %d, missed %d; delay mean %.0f, max %d records; false alarms before the change: %d in %d records (%.3f per 1000)",
		name, change, runs, len(delays), missed, mean, worst, falseAlarms, runs*change, rate)
	if missed > 0 {
		t.Errorf("missed the change in %d of %d runs", missed, runs)
	}
	if worst > maxDelay {
		t.Errorf("worst detection delay %d records, want at most %d", worst, maxDelay)
	}
	if rate > 0.05 {
		t.Errorf("%.3f false alarms per 1000 records before the change, want at most 0.05", rate)
	}
}

func TestDetectorsValidate(t *testing.T) {
	for _, o := range []PageHinkleyOption{PHDelta(-1), PHLambda(0), PHAlpha(0), PHAlpha(1.5), PHMinInstances(0)} {
		if _, err := NewPageHinkley(o); err == nil {
			t.Error("accepted an invalid parameter")
		}
	}
	for _, o := range []ADWINOption{ADWINDelta(0), ADWINDelta(1), adwinClock(0), adwinMaxBuckets(0), ADWINMinWindow(0)} {
		if _, err := NewADWIN(o); err == nil {
			t.Error("ADWIN accepted an invalid parameter")
		}
	}
}

// TestADWINWindowStatistics checks the exponential histogram against
// exact statistics on a stationary stream, where no cut should happen.
func TestADWINWindowStatistics(t *testing.T) {
	a, _ := NewADWIN(ADWINDelta(1e-9))
	r := rand.New(rand.NewPCG(5, 5))
	var xs []float64
	for i := 0; i < 5000; i++ {
		x := r.NormFloat64()*2 + 1
		xs = append(xs, x)
		if a.Add(x) {
			t.Fatalf("change signalled on a stationary stream at %d", i)
		}
	}
	if a.Len() != int64(len(xs)) {
		t.Fatalf("window %d, want %d (a cut dropped data)", a.Len(), len(xs))
	}
	st := newStandardizer(1)
	for _, x := range xs {
		st.add([]float64{x})
	}
	if math.Abs(a.Mean()-st.mean[0]) > 1e-9 || math.Abs(math.Sqrt(a.st.M2/float64(a.st.Width-1))-st.scale[0]) > 1e-9 {
		t.Errorf("window mean %v sd %v, exact %v %v", a.Mean(), math.Sqrt(a.st.M2/float64(a.st.Width-1)), st.mean[0], st.scale[0])
	}
	buckets := 0
	for _, row := range a.st.Rows {
		buckets += len(row)
	}
	if buckets > 5*14 {
		t.Errorf("%d buckets for 5000 values, want O(M·log n)", buckets)
	}
	// A drop in the error shortens the window without signalling drift.
	for i := 0; i < 3000; i++ {
		if a.Add(r.NormFloat64()*2 - 3) {
			t.Fatal("a decrease was signalled as drift")
		}
	}
	if a.Len() >= 8000 {
		t.Errorf("window still %d long after the mean fell", a.Len())
	}
	b, _ := a.MarshalBinary()
	var c ADWIN
	if err := c.UnmarshalBinary(b); err != nil || c.st.Width != a.st.Width || c.st.M2 != a.st.M2 {
		t.Errorf("round trip: %v", err)
	}
}

// The smallest bucket and sub-window sizes still keep exact window
// statistics and still detect a rise.
func TestADWINSmallestSizes(t *testing.T) {
	a, err := NewADWIN(adwinMaxBuckets(1), ADWINMinWindow(1), ADWINDelta(1e-9))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(6, 6))
	st := newStandardizer(1)
	for i := 0; i < 3000; i++ {
		x := r.NormFloat64()
		st.add([]float64{x})
		if a.Add(x) {
			t.Fatalf("change signalled on a stationary stream at %d", i)
		}
	}
	if a.Len() != 3000 || math.Abs(a.Mean()-st.mean[0]) > 1e-9 || math.Abs(math.Sqrt(a.st.M2/2999)-st.scale[0]) > 1e-9 {
		t.Errorf("window %d mean %v, exact %v", a.Len(), a.Mean(), st.mean[0])
	}
	fired := false
	for i := 0; i < 3000 && !fired; i++ {
		fired = a.Add(r.NormFloat64() + 2)
	}
	if !fired {
		t.Error("a rise of two standard deviations was not detected")
	}
}
