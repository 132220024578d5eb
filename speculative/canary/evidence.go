package canary

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// latency buckets: four per octave from 1µs, so a reported p99 is the
// upper bound of a bucket at most 19% wider than the true value.
const (
	latBuckets  = 4 * 32
	latPerOctet = 4
)

func latBucket(d time.Duration) int {
	us := float64(d) / float64(time.Microsecond)
	if us <= 1 {
		return 0
	}
	b := int(math.Ceil(math.Log2(us) * latPerOctet))
	return min(b, latBuckets-1)
}

func latUpper(b int) time.Duration {
	return time.Duration(math.Exp2(float64(b)/latPerOctet) * float64(time.Microsecond))
}

// arm accumulates the evidence of one side of the rollout over one
// window (see window). Counters are atomic, the quality running moments
// are under mu.
type arm struct {
	calls, errors, slow atomic.Uint64
	lat                 [latBuckets]atomic.Uint64

	mu       sync.Mutex
	n        uint64
	mean, m2 float64
	lo, hi   float64 // the smallest and largest loss, when n > 0
}

func (a *arm) call(took time.Duration, failed bool, bound time.Duration) {
	a.calls.Add(1)
	if failed {
		a.errors.Add(1)
	}
	if took > bound {
		a.slow.Add(1)
	}
	a.lat[latBucket(took)].Add(1)
}

func (a *arm) outcome(loss float64) {
	a.mu.Lock()
	if a.n == 0 {
		a.lo, a.hi = loss, loss
	}
	a.lo, a.hi = min(a.lo, loss), max(a.hi, loss)
	a.n++
	d := loss - a.mean
	a.mean += d / float64(a.n)
	a.m2 += d * (loss - a.mean)
	a.mu.Unlock()
}

// p99 is the upper bound of the bucket holding the 99th percentile of
// the latency of the calls of every arm given; 0 without calls.
func p99(arms ...*arm) time.Duration {
	var total uint64
	var counts [latBuckets]uint64
	for _, a := range arms {
		for i := range a.lat {
			c := a.lat[i].Load()
			counts[i] += c
			total += c
		}
	}
	if total == 0 {
		return 0
	}
	need := uint64(math.Ceil(0.99 * float64(total)))
	var acc uint64
	for i, c := range counts {
		if acc += c; acc >= need {
			return latUpper(i)
		}
	}
	return latUpper(latBuckets - 1)
}

// sample is the mean and variance of one side of one guardrail.
type sample struct {
	n        uint64
	mean, vr float64
}

// pseudo is how many pseudo-outcomes of each kind (or at each end of
// the losses' range) a side's variance counts besides its own: two, the
// adjustment of Agresti and Coull ("Approximate is better than 'exact'
// for interval estimation of binomial proportions", The American
// Statistician 52(2), 1998) for 95% intervals, z²/2 ≈ 2 of each. A rate
// seen as 0 or 1 is then not taken as measured exactly, nor one seen
// from a few events as precisely as their count suggests. With one of
// each (the Agresti–Caffo choice for a difference), a candidate worse by
// exactly the margin on a rare event was still shown within it in about
// 6.5% of simulated rollouts, Alpha being 5%; with two, 3.5%
// (TestQualityFalseOKWithinAlpha). The adjustment shrinks as 1/n, so the
// variance stays consistent, which is all the confidence sequence asks
// of it; the means are not adjusted.
const pseudo = 2

// rate is the sample of a 0/1 metric, k events in n: mean k/n, and the
// variance q(1−q) of q = (k+pseudo)/(n+2·pseudo).
func rate(k, n uint64) sample {
	if n == 0 {
		return sample{}
	}
	p := float64(k) / float64(n)
	q := (float64(k) + pseudo) / (float64(n) + 2*pseudo)
	return sample{n: n, mean: p, vr: q * (1 - q)}
}

// qualitySamples returns the mean losses of both sides, each with the
// variance rate uses, generalized from 0/1 to any loss: that of the
// side's losses with pseudo more at the smallest and pseudo more at the
// largest loss either side has seen. For 0/1 losses, once both values
// have been seen, that is rate's variance exactly. Without it, a side
// whose losses never varied had a variance of 0 and the interval rested
// on the other side's alone: a candidate at 1.2% error against a
// champion at 0.2% (margin one point) was shown within the margin in
// 16% of simulated rollouts (TestQualityFalseOKWithinAlpha), Alpha
// being 5%. When every loss seen on both sides is the same, the data
// measure no spread, and both variances are 0.
func qualitySamples(cand, champ *arm) (sample, sample) {
	p := qualityPairs([][2]*arm{{cand, champ}})
	return p[0][0], p[0][1]
}

// qualityPairs is qualitySamples for each window's arms (candidate,
// champion): the range seen is that of every loss of every window, so
// that a window whose losses never varied is not taken as measured
// exactly either.
func qualityPairs(windows [][2]*arm) [][2]sample {
	ms := make([][2]moments, len(windows))
	var lo, hi float64
	seen := false
	for i, w := range windows {
		for j, a := range w {
			m := a.moments()
			ms[i][j] = m
			switch {
			case m.n == 0:
			case !seen:
				lo, hi, seen = m.lo, m.hi, true
			default:
				lo, hi = min(lo, m.lo), max(hi, m.hi)
			}
		}
	}
	out := make([][2]sample, len(windows))
	for i, m := range ms {
		out[i] = [2]sample{m[0].adjusted(lo, hi), m[1].adjusted(lo, hi)}
	}
	return out
}

// moments is a snapshot of one side's running loss moments.
type moments struct {
	n                uint64
	mean, m2, lo, hi float64
}

func (a *arm) moments() moments {
	a.mu.Lock()
	defer a.mu.Unlock()
	return moments{n: a.n, mean: a.mean, m2: a.m2, lo: a.lo, hi: a.hi}
}

// adjusted is the sample of m's losses, with the variance of those
// losses and pseudo more at lo and pseudo more at hi; the mean is m's
// own.
func (m moments) adjusted(lo, hi float64) sample {
	if m.n == 0 {
		return sample{}
	}
	n := float64(m.n)
	d := (lo+hi)/2 - m.mean
	m2 := m.m2 + pseudo*(hi-lo)*(hi-lo)/2 + d*d*2*pseudo*n/(n+2*pseudo)
	return sample{n: m.n, mean: m.mean, vr: m2 / (n + 2*pseudo)}
}

// csTarget is the effective sample size at which the confidence sequence
// is tightest; it is loose by a few percent a decade either side.
const csTarget = 1000

// confidenceSequence returns a (1-alpha) confidence interval for the
// difference of means cand - champ that holds at every evaluation at
// once: matched over one window.
func confidenceSequence(cand, champ sample, alpha float64) (diff, lo, hi float64, shown bool) {
	m := matched([][2]sample{{cand, champ}}, alpha)
	return m.cand - m.champ, m.low, m.high, m.shown
}

// comparison is the candidate's difference from the champion over
// matched windows.
type comparison struct {
	// cand and champ are each side's means, weighted over the windows
	// as the difference is; n counts the samples of the windows compared
	// (candidate, champion).
	cand, champ float64
	n           [2]uint64
	// low and high bound cand - champ; shown is false when the data
	// measure no spread (low and high are then both the difference) or
	// no window has samples of both sides.
	low, high float64
	shown     bool
}

// matched compares the two sides window by window: pairs holds, per
// window, the candidate's sample and the champion's. The difference is
// the weighted mean of the windows' differences, each window weighted by
// nc·nh/(nc+nh), the inverse of its difference's variance when both
// sides vary alike (the weights of Cochran and of Mantel and Haenszel);
// a window lacking either side weighs nothing. Whatever happened to both
// models during a window (a stall, a stretch of hard data) then cancels
// in its difference, while a difference pooled over the whole rollout
// weighed each period by each side's share of it: the candidate's calls
// come late, the champion's mostly early.
//
// The interval is the asymptotic confidence sequence of Waudby-Smith,
// Arbour, Sinha, Kennedy and Ramdas ("Time-uniform central limit theory
// and asymptotic confidence sequences", Annals of Statistics, 2024), a
// normal mixture boundary applied to the difference estimator. The
// estimator's standard error se stands for σ/√t with the effective
// sample size t = v/se², v the weighted mean of the windows' v₁+v₂, and
// the half-width is
//
//	se · √( 2(tρ²+1)/(tρ²) · ln(√(tρ²+1)/α) ),
//
// with ρ chosen to make it tightest near t = csTarget. Over one window
// that is the sequence of the plain difference of the two means.
// Compared with a fixed-sample 95% interval (1.96·se) it is about 1.5
// times as wide at t = 1000 for α = 0.05; that is the price of looking
// after every call.
//
// Both sides' variances come adjusted for small counts (rate,
// qualitySamples), so that a side whose values never varied is not
// taken as measured exactly: 50 losses of 0 are what a model wrong on
// 2% of its answers gives 36% of the time. A variance is 0 only when
// every value seen on both sides is the same; the data then measure no
// spread, and shown is false: low and high are both the difference, and
// prove nothing.
func matched(pairs [][2]sample, alpha float64) comparison {
	var m comparison
	var sum, se2, v float64
	for _, p := range pairs {
		c, h := p[0], p[1]
		if c.n == 0 || h.n == 0 {
			continue
		}
		nc, nh := float64(c.n), float64(h.n)
		w := nc * nh / (nc + nh)
		sum += w
		m.cand += w * c.mean
		m.champ += w * h.mean
		se2 += w * w * (c.vr/nc + h.vr/nh)
		v += w * (c.vr + h.vr)
		m.n[0] += c.n
		m.n[1] += h.n
	}
	if sum == 0 {
		return m
	}
	m.cand, m.champ, se2, v = m.cand/sum, m.champ/sum, se2/(sum*sum), v/sum
	diff := m.cand - m.champ
	m.low, m.high = diff, diff
	if !(se2 > 0) {
		return m
	}
	t := v / se2
	l := -2 * math.Log(alpha)
	rho2 := (l + math.Log(l+1)) / csTarget
	half := math.Sqrt(se2 * 2 * (t*rho2 + 1) / (t * rho2) * math.Log(math.Sqrt(t*rho2+1)/alpha))
	m.low, m.high, m.shown = diff-half, diff+half, true
	return m
}
