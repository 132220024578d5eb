package canary

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// Under the null (the candidate is exactly as good as the champion), a
// rollout that looks after every 50 calls must wrongly find a breach in
// at most about Alpha of runs: the confidence sequence is valid under
// peeking. The same runs judged by a fixed-sample 95% interval at every
// look find false breaches far more often, which is why the Controller
// does not use one.
func TestConfidenceSequenceValidUnderPeeking(t *testing.T) {
	const (
		runs  = 300
		calls = 20000 // per side
		every = 50
		p     = 0.1
		alpha = 0.05
	)
	rng := rand.New(rand.NewPCG(8, 9))
	var csFalse, naiveFalse int
	for range runs {
		var k1, k2 uint64
		csHit, naiveHit := false, false
		for n := uint64(1); n <= calls; n++ {
			if rng.Float64() < p {
				k1++
			}
			if rng.Float64() < p {
				k2++
			}
			if n%every != 0 {
				continue
			}
			a, b := rate(k1, n), rate(k2, n)
			_, lo, hi, _ := confidenceSequence(a, b, alpha)
			if lo > 0 || hi < 0 {
				csHit = true
			}
			se := math.Sqrt(a.vr/float64(n) + b.vr/float64(n))
			if d := a.mean - b.mean; math.Abs(d) > 1.96*se {
				naiveHit = true
			}
		}
		if csHit {
			csFalse++
		}
		if naiveHit {
			naiveFalse++
		}
	}
	cs, naive := float64(csFalse)/runs, float64(naiveFalse)/runs
	t.Logf("false findings over %d looks: confidence sequence %.1f%%, fixed-sample interval %.1f%%", calls/every, 100*cs, 100*naive)
	if cs > alpha+0.02 {
		t.Errorf("confidence sequence: %.1f%% false findings, want at most %.0f%%", 100*cs, 100*alpha)
	}
	if naive < 3*alpha {
		t.Errorf("the fixed-sample interval found only %.1f%%: the test cannot tell a valid sequence from an invalid one", 100*naive)
	}
}

// The confidence sequence narrows as evidence grows, and covers a true
// difference.
func TestConfidenceSequenceShrinks(t *testing.T) {
	prev := math.Inf(1)
	for _, n := range []uint64{100, 1000, 10000, 100000} {
		a, b := rate(n/5, n), rate(n/10, n) // 20% against 10%
		d, lo, hi, _ := confidenceSequence(a, b, 0.05)
		if !(lo < 0.1 && 0.1 < hi) || math.Abs(d-0.1) > 1e-9 || hi-lo >= prev {
			t.Errorf("n=%d: [%v, %v] around %v", n, lo, hi, d)
		}
		prev = hi - lo
	}
}

func TestLatencyBuckets(t *testing.T) {
	var a arm
	for i := range 1000 {
		d := time.Millisecond
		if i >= 990 {
			d = 50 * time.Millisecond
		}
		a.call(d, false, time.Second)
	}
	if p := p99(&a); p < time.Millisecond || p > 1200*time.Microsecond {
		t.Errorf("p99 %v, want about 1ms", p)
	}
	a.call(50*time.Millisecond, false, time.Second)
	if p := p99(&a); p < 50*time.Millisecond || p > 60*time.Millisecond {
		t.Errorf("p99 %v, want about 50ms", p)
	}
}

// A candidate whose mean loss exceeds the champion's by exactly the
// margin must be shown within it ("ok", which the step to 100% needs)
// in at most Alpha of rollouts, however often they are evaluated. With
// 0/1 losses, a champion wrong on 0.2% of its answers and a candidate
// on 1.2%, the candidate's first 200 outcomes are all right in 9% of
// runs (0.988^200); a side whose losses never varied must not then be
// taken as measured exactly.
func TestQualityFalseOKWithinAlpha(t *testing.T) {
	const (
		runs        = 1000
		alpha       = 0.05
		margin      = 0.01
		pCand       = 0.012
		pChamp      = 0.002
		ratio       = 3 // champion outcomes per candidate outcome, as at a 25% step
		minOutcomes = 200
		maxN        = 3000 // candidate outcomes per run
		every       = 10
	)
	rng := rand.New(rand.NewPCG(13, 14))
	loss := func(p float64) float64 {
		if rng.Float64() < p {
			return 1
		}
		return 0
	}
	// The same outcomes counted as a rate (errors, latency) must fare
	// the same.
	var falseOK, zeroSpread, rateOK int
	for range runs {
		var cand, champ arm
		var k1, k2 uint64
		qHit, rHit := false, false
		for n := uint64(1); n <= maxN; n++ {
			l := loss(pCand)
			cand.outcome(l)
			k1 += uint64(l)
			for range ratio {
				l := loss(pChamp)
				champ.outcome(l)
				k2 += uint64(l)
			}
			if n < minOutcomes || n%every != 0 {
				continue
			}
			c, h := qualitySamples(&cand, &champ)
			if _, _, hi, shown := confidenceSequence(c, h, alpha); shown && hi <= margin && !qHit {
				qHit = true
				if k1 == 0 {
					zeroSpread++
				}
			}
			if _, _, hi, _ := confidenceSequence(rate(k1, n), rate(k2, ratio*n), alpha); hi <= margin {
				rHit = true
			}
		}
		if qHit {
			falseOK++
		}
		if rHit {
			rateOK++
		}
	}
	q, r := float64(falseOK)/runs, float64(rateOK)/runs
	t.Logf("false ok in %.1f%% of %d runs (%d with no candidate loss yet), as a rate %.1f%%", 100*q, runs, zeroSpread, 100*r)
	if q > alpha {
		t.Errorf("quality: candidate worse by the margin shown within it in %.1f%% of runs, want at most %.0f%%", 100*q, 100*alpha)
	}
	if r > alpha {
		t.Errorf("rate: candidate worse by the margin shown within it in %.1f%% of runs, want at most %.0f%%", 100*r, 100*alpha)
	}
}

// For 0/1 losses, once both values have been seen, the quality
// guardrail's variance is the rate's.
func TestQualityVarianceIsRateVariance(t *testing.T) {
	for _, c := range []struct{ k, n uint64 }{{1, 1}, {0, 5}, {1, 5}, {3, 200}, {199, 200}} {
		var a, b arm
		for i := range c.n {
			a.outcome(float64(min(1, c.k/(i+1))))
		}
		b.outcome(0)
		b.outcome(1)
		got, _ := qualitySamples(&a, &b)
		want := rate(c.k, c.n)
		if got.n != want.n || math.Abs(got.mean-want.mean) > 1e-12 || math.Abs(got.vr-want.vr) > 1e-12 {
			t.Errorf("%d of %d: quality %+v, rate %+v", c.k, c.n, got, want)
		}
	}
}

// ratios returns, for each step's share of a rollout, the number of
// champion samples per candidate sample at that step.
func ratios(shares ...float64) []int {
	out := make([]int, len(shares))
	for i, s := range shares {
		out[i] = int(math.Round((1 - s) / s))
	}
	return out
}

// Two equally good models, a rate of 1% that rises to 6% on both sides
// for a while during the last compared step (25%), and a look after
// every 50 candidate samples: compared window by window, a difference
// is found in at most about Alpha of runs. Pooled over the rollout, the
// candidate, whose samples come mostly at that step, is found worse in
// most runs; that is the test's control.
func TestMatchedWindowsValidUnderPeeking(t *testing.T) {
	const (
		runs    = 300
		perStep = 300 // candidate samples at each step but the last compared
		last    = 6000
		every   = 50
		alpha   = 0.05
	)
	rat := ratios(0.01, 0.05, 0.25)
	rng := rand.New(rand.NewPCG(21, 22))
	var found, pooledFound int
	for range runs {
		var k, n [3][2]uint64 // per window: candidate, champion
		hit, pooledHit := false, false
		var seen uint64
		for w := range 3 {
			m := perStep
			if w == 2 {
				m = last
			}
			for i := range m {
				p := 0.01
				if w == 2 && i < last/2 {
					p = 0.06
				}
				n[w][0]++
				if rng.Float64() < p {
					k[w][0]++
				}
				for range rat[w] {
					n[w][1]++
					if rng.Float64() < p {
						k[w][1]++
					}
				}
				if seen++; seen%every != 0 || seen < 300 {
					continue
				}
				var pairs [][2]sample
				var kc, nc, kh, nh uint64
				for j := range 3 {
					pairs = append(pairs, [2]sample{rate(k[j][0], n[j][0]), rate(k[j][1], n[j][1])})
					kc, nc, kh, nh = kc+k[j][0], nc+n[j][0], kh+k[j][1], nh+n[j][1]
				}
				if m := matched(pairs, alpha); m.low > 0 || m.high < 0 {
					hit = true
				}
				if _, lo, hi, _ := confidenceSequence(rate(kc, nc), rate(kh, nh), alpha); lo > 0 || hi < 0 {
					pooledHit = true
				}
			}
		}
		if hit {
			found++
		}
		if pooledHit {
			pooledFound++
		}
	}
	f, pf := float64(found)/runs, float64(pooledFound)/runs
	t.Logf("false findings: matched windows %.1f%%, pooled %.1f%% of %d runs", 100*f, 100*pf, runs)
	if f > alpha+0.02 {
		t.Errorf("matched windows: %.1f%% false findings, want at most %.0f%%", 100*f, 100*alpha)
	}
	if pf < 0.5 {
		t.Errorf("pooled: only %.1f%% false findings: the bad period does not confound, and the test cannot tell", 100*pf)
	}
}

// TestQualityFalseOKWithinAlpha over the windows of a rollout: the
// candidate's first 200 outcomes at 1%, the next 200 at 5%, then the
// rest at 25%, each window with its own variance adjustment. A
// candidate worse by exactly the margin must be shown within it in at
// most Alpha of runs.
func TestMatchedQualityFalseOKWithinAlpha(t *testing.T) {
	const (
		runs    = 400
		alpha   = 0.05
		margin  = 0.01
		pCand   = 0.012
		pChamp  = 0.002
		perStep = 200
		maxN    = 3000 // candidate outcomes per run
		every   = 10
	)
	rat := ratios(0.01, 0.05, 0.25)
	rng := rand.New(rand.NewPCG(13, 14))
	loss := func(p float64) float64 {
		if rng.Float64() < p {
			return 1
		}
		return 0
	}
	var falseOK int
	for range runs {
		var ws [3][2]arm
		arms := [][2]*arm{{&ws[0][0], &ws[0][1]}, {&ws[1][0], &ws[1][1]}, {&ws[2][0], &ws[2][1]}}
		for n := range maxN {
			w := min(n/perStep, 2)
			ws[w][0].outcome(loss(pCand))
			for range rat[w] {
				ws[w][1].outcome(loss(pChamp))
			}
			if n+1 < perStep || (n+1)%every != 0 {
				continue
			}
			if m := matched(qualityPairs(arms), alpha); m.shown && m.high <= margin {
				falseOK++
				break
			}
		}
	}
	q := float64(falseOK) / runs
	t.Logf("false ok in %.1f%% of %d runs", 100*q, runs)
	if q > alpha {
		t.Errorf("candidate worse by the margin shown within it in %.1f%% of runs, want at most %.0f%%", 100*q, 100*alpha)
	}
}
