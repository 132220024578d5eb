package quality

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/modelstream/modelstream/serving"
)

// exactAUC is the Mann-Whitney statistic over every positive-negative
// pair, ties counting one half.
func exactAUC(ps []float64, ys []bool) float64 {
	var pos, neg []float64
	for i, p := range ps {
		if ys[i] {
			pos = append(pos, p)
		} else {
			neg = append(neg, p)
		}
	}
	slices.Sort(neg)
	var s float64
	for _, p := range pos {
		lo, _ := slices.BinarySearch(neg, p)
		hi := lo
		for hi < len(neg) && neg[hi] == p {
			hi++
		}
		s += float64(lo) + float64(hi-lo)/2
	}
	return s / float64(len(pos)*len(neg))
}

func TestBinaryMatchesExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var m Meter
	var ps []float64
	var ys []bool
	var correct int
	var ll float64
	for range 20000 {
		y := rng.Float64() < 0.3
		// A model with some skill: positives score higher on average.
		z := rng.NormFloat64()
		if y {
			z += 1.2
		}
		p := 1 / (1 + math.Exp(-z))
		if err := m.ObserveBinary(p, y); err != nil {
			t.Fatal(err)
		}
		ps, ys = append(ps, p), append(ys, y)
		if (p >= 0.5) == y {
			correct++
		}
		if y {
			ll -= math.Log(p)
		} else {
			ll -= math.Log(1 - p)
		}
	}
	s := m.Summary()
	n := float64(len(ps))
	if s.Accuracy.N != 20000 || math.Abs(s.Accuracy.Value-float64(correct)/n) > 1e-12 {
		t.Errorf("accuracy %+v, want %v", s.Accuracy, float64(correct)/n)
	}
	if math.Abs(s.LogLoss.Value-ll/n) > 1e-9 {
		t.Errorf("log-loss %v, want %v", s.LogLoss.Value, ll/n)
	}
	exact := exactAUC(ps, ys)
	if d := math.Abs(s.AUC.Value - exact); d > s.AUCBinError || s.AUCBinError > 0.002 {
		t.Errorf("AUC %v, exact %v: off by %v, bin error bound %v", s.AUC.Value, exact, d, s.AUCBinError)
	}
	if !(s.AUC.Low < exact && exact < s.AUC.High) || s.AUC.High-s.AUC.Low > 0.03 {
		t.Errorf("AUC interval [%v, %v] vs exact %v", s.AUC.Low, s.AUC.High, exact)
	}
	if s.MAE.N != 0 || s.RMSE.N != 0 {
		t.Errorf("regression estimates from classification outcomes: %+v %+v", s.MAE, s.RMSE)
	}
}

// A model that puts every score in a few bins: the bound must still hold
// and grow to say so.
func TestAUCBinErrorBoundsCoarseScores(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var m Meter
	var ps []float64
	var ys []bool
	for range 5000 {
		y := rng.IntN(2) == 1
		p := 0.5 + rng.Float64()*0.0009 // all within one or two bins
		if y {
			p += 0.0002
		}
		m.ObserveBinary(p, y)
		ps, ys = append(ps, p), append(ys, y)
	}
	s := m.Summary()
	exact := exactAUC(ps, ys)
	if d := math.Abs(s.AUC.Value - exact); d > s.AUCBinError {
		t.Errorf("AUC %v exact %v: off by %v > bound %v", s.AUC.Value, exact, d, s.AUCBinError)
	}
	if s.AUCBinError < 0.1 {
		t.Errorf("bin error bound %v: should be large when scores share bins", s.AUCBinError)
	}
	if !(s.AUC.Low <= exact && exact <= s.AUC.High) {
		t.Errorf("interval [%v, %v] misses exact %v", s.AUC.Low, s.AUC.High, exact)
	}
}

func TestRegression(t *testing.T) {
	var m Meter
	pred := []float64{1, 2, 3, 4}
	act := []float64{1.5, 1, 3, 6}
	for i := range pred {
		if err := m.ObserveValue(pred[i], act[i]); err != nil {
			t.Fatal(err)
		}
	}
	s := m.Summary()
	if s.MAE.N != 4 || math.Abs(s.MAE.Value-(0.5+1+0+2)/4) > 1e-12 {
		t.Errorf("MAE %+v", s.MAE)
	}
	if want := math.Sqrt((0.25 + 1 + 0 + 4) / 4); math.Abs(s.RMSE.Value-want) > 1e-12 {
		t.Errorf("RMSE %v want %v", s.RMSE.Value, want)
	}
	if !(s.MAE.Low < s.MAE.Value && s.MAE.Value < s.MAE.High) || !(s.RMSE.Low <= s.RMSE.Value && s.RMSE.Value < s.RMSE.High) || s.RMSE.Low < 0 {
		t.Errorf("intervals %+v %+v", s.MAE, s.RMSE)
	}
	if s.Accuracy.N != 0 || s.AUC.N != 0 {
		t.Errorf("classification estimates from regression outcomes")
	}
}

func TestMulticlass(t *testing.T) {
	var m Meter
	m.ObserveClass(0.7, true)
	m.ObserveClass(0.2, false)
	m.ObserveClass(0, false) // a confident wrong answer: clipped, finite
	s := m.Summary()
	if s.Accuracy.N != 3 || math.Abs(s.Accuracy.Value-1.0/3) > 1e-12 {
		t.Errorf("accuracy %+v", s.Accuracy)
	}
	want := (-math.Log(0.7) - math.Log(0.2) - math.Log(1e-15)) / 3
	if math.Abs(s.LogLoss.Value-want) > 1e-9 {
		t.Errorf("log-loss %v want %v", s.LogLoss.Value, want)
	}
	if s.AUC.N != 0 {
		t.Errorf("AUC from multiclass outcomes: %+v", s.AUC)
	}
}

func TestRefused(t *testing.T) {
	var m Meter
	bad := []error{
		m.ObserveBinary(math.NaN(), true),
		m.ObserveBinary(1.5, true),
		m.ObserveBinary(-0.1, false),
		m.ObserveBinary(math.Inf(1), false),
		m.ObserveClass(math.NaN(), true),
		m.ObserveValue(math.NaN(), 1),
		m.ObserveValue(1, math.Inf(-1)),
		m.ObserveValue(1e300, -1e300),
	}
	for i, err := range bad {
		var oe *serving.OutcomeError
		if !errors.Is(err, serving.ErrOutcome) || !errors.As(err, &oe) {
			t.Errorf("outcome %d: error %v", i, err)
		}
	}
	s := m.Summary()
	if s.Refused != uint64(len(bad)) || s.Accuracy.N != 0 || s.MAE.N != 0 || s.AUC.N != 0 {
		t.Errorf("after refusals: %+v", s)
	}
	if err := m.ObserveBinary(1, true); err != nil { // the edges are valid
		t.Error(err)
	}
	if err := m.ObserveBinary(0, false); err != nil {
		t.Error(err)
	}
	if s := m.Summary(); s.AUC.N != 2 || s.AUC.Value != 1 {
		t.Errorf("edges: %+v", s.AUC)
	}
}

// The 95% intervals cover the true value about 95% of the time.
func TestIntervalCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const trials = 400
	var accHit, maeHit, rmseHit int
	for range trials {
		var m Meter
		for range 300 {
			m.ObserveBinary(0.9, rng.Float64() < 0.8) // accuracy 0.8
			e := rng.NormFloat64()                    // |e| has mean √(2/π), e² mean 1
			m.ObserveValue(e, 0)
		}
		s := m.Summary()
		if s.Accuracy.Low <= 0.8 && 0.8 <= s.Accuracy.High {
			accHit++
		}
		if mae := math.Sqrt(2 / math.Pi); s.MAE.Low <= mae && mae <= s.MAE.High {
			maeHit++
		}
		if s.RMSE.Low <= 1 && 1 <= s.RMSE.High {
			rmseHit++
		}
	}
	for name, hit := range map[string]int{"accuracy": accHit, "MAE": maeHit, "RMSE": rmseHit} {
		if c := float64(hit) / trials; c < 0.91 || c > 0.99 {
			t.Errorf("%s interval covers the truth in %.1f%% of trials, want about 95%%", name, 100*c)
		}
	}
}

func TestObserveAllocatesNothing(t *testing.T) {
	var m Meter
	if n := testing.AllocsPerRun(1000, func() {
		m.ObserveBinary(0.3, true)
		m.ObserveClass(0.3, false)
		m.ObserveValue(1, 2)
	}); n != 0 {
		t.Errorf("%v allocations per observation", n)
	}
	tr, _ := NewTracker(4)
	k := Key{Model: "m", Version: 3, Variant: "canary"}
	tr.Meter(k)
	if n := testing.AllocsPerRun(1000, func() {
		mm, _ := tr.Meter(k)
		mm.ObserveBinary(0.3, true)
	}); n != 0 {
		t.Errorf("%v allocations per tracked observation", n)
	}
}

func TestConcurrent(t *testing.T) {
	var m Meter
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				m.ObserveBinary(float64(i%100)/100, (i+g)%2 == 0)
				m.ObserveValue(float64(i), 0)
				m.Summary()
			}
		})
	}
	wg.Wait()
	if s := m.Summary(); s.Accuracy.N != 4000 || s.MAE.N != 4000 {
		t.Errorf("counts %d %d", s.Accuracy.N, s.MAE.N)
	}
}

func BenchmarkObserveBinary(b *testing.B) {
	var m Meter
	for i := 0; b.Loop(); i++ {
		m.ObserveBinary(float64(i&1023)/1024, i&1 == 0)
	}
}

func BenchmarkTrackerObserveParallel(b *testing.B) {
	tr, _ := NewTracker(16)
	k := Key{Model: "fraud", Version: 7, Variant: "canary"}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m, _ := tr.Meter(k)
			m.ObserveBinary(float64(i&1023)/1024, i&1 == 0)
			i++
		}
	})
}

// A finite error whose square is still finite can overflow the running
// variance: the RMSE and MAE intervals became infinite and the Summary
// could no longer be encoded as JSON (the admin endpoints serve it so).
func TestHugeErrorKeepsSummaryFinite(t *testing.T) {
	var m Meter
	for _, e := range []float64{1e154, 0, 1e150, 0} {
		if err := m.ObserveValue(e, 0); err != nil && !errors.Is(err, serving.ErrOutcome) {
			t.Fatal(err)
		}
	}
	s := m.Summary()
	for _, e := range []Estimate{s.MAE, s.RMSE} {
		for _, x := range []float64{e.Value, e.Low, e.High, e.StdErr} {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Fatalf("not finite: %+v", s)
			}
		}
	}
	if _, err := json.Marshal(s); err != nil {
		t.Fatalf("summary cannot be encoded: %v", err)
	}
}

// A statistic at the edge of its range, measured on few outcomes, is not
// known exactly: 20 right answers of 20 (20 errors of 20) and a perfect
// AUC over 20 positives and 20 negatives each leave an interval of some
// width and a standard error above 0. The AUC's Hanley-McNeil interval
// and the accuracy's standard error were of width 0 there.
func TestEdgesHaveWidth(t *testing.T) {
	var right, wrong Meter
	for range 20 {
		right.ObserveBinary(0.9, true)
		right.ObserveBinary(0.1, false)
		wrong.ObserveClass(0.9, false)
	}
	r, w := right.Summary(), wrong.Summary()
	for name, e := range map[string]Estimate{"accuracy 40/40": r.Accuracy, "AUC 1": r.AUC, "accuracy 0/20": w.Accuracy} {
		if !(e.Low < e.High) || !(e.StdErr > 0) || e.Low < 0 || e.High > 1 || e.Value < e.Low || e.Value > e.High {
			t.Errorf("%s: %+v, want an interval of some width within [0, 1] around the value, and a standard error", name, e)
		}
	}
	if w.Accuracy.High < 0.1 || r.AUC.Low > 0.95 {
		t.Errorf("accuracy 0/20 at most %v, AUC at least %v: too sure for 20 of each", w.Accuracy.High, r.AUC.Low)
	}
}

// The AUC interval covers the true AUC of a good model about 95% of the
// time on 20 positives and 20 negatives, where the sample AUC is often
// 1. Scores are binormal, 3.29 standard deviations apart (AUC
// Phi(3.29/sqrt 2) = 0.99), through a logistic link.
func TestAUCCoverageNearOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const trials, trueAUC = 1000, 0.99
	sigmoid := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	var hit, perfect int
	for range trials {
		var m Meter
		for range 20 {
			m.ObserveBinary(sigmoid(rng.NormFloat64()+1.645), true)
			m.ObserveBinary(sigmoid(rng.NormFloat64()-1.645), false)
		}
		s := m.Summary()
		if s.AUC.Value == 1 {
			perfect++
		}
		if s.AUC.Low <= trueAUC && trueAUC <= s.AUC.High {
			hit++
		}
	}
	t.Logf("coverage %.1f%%, sample AUC 1 in %d of %d", 100*float64(hit)/trials, perfect, trials)
	if c := float64(hit) / trials; c < 0.92 {
		t.Errorf("AUC interval covers %v in %.1f%% of trials (sample AUC 1 in %d), want about 95%%", trueAUC, 100*c, perfect)
	}
}
