package speculative

import (
	"math"
	"math/rand/v2"
)

// Policy is the rule by which a [Bandit] shares traffic among its arms
// from the rewards they earned. Build one with [Thompson],
// [GaussianThompson], [UCB1] or [Exp3]; the zero Policy is invalid.
type Policy struct {
	kind  policyKind
	gamma float64 // Exp3's exploration rate
}

type policyKind uint8

const (
	policyThompson policyKind = iota + 1
	policyGaussian
	policyUCB1
	policyExp3
)

var policyNames = [...]string{"", "thompson", "gaussian-thompson", "ucb1", "exp3"}

// Thompson is Thompson sampling with a Beta-Bernoulli model: each arm's
// success rate has a Beta(1 + successes, 1 + failures) posterior, and each
// record goes to the arm whose posterior draw is highest. Rewards must be
// in [0, 1]; a fractional reward r counts as r of a success and 1-r of a
// failure. It is the policy of choice for 0/1 rewards (a click, a
// conversion, a correct prediction).
func Thompson() Policy { return Policy{kind: policyThompson} }

// GaussianThompson is Thompson sampling for real-valued rewards of any
// scale: each arm's mean reward has a normal posterior centred on its
// mean reward with variance s²/(n+1), where s² is the arm's sample
// variance (the pooled variance of the arms while it has fewer than two
// rewards) and n its number of rewards; an arm starts from the mean of
// all rewards as one pseudo-observation.
func GaussianThompson() Policy { return Policy{kind: policyGaussian} }

// UCB1 is the upper confidence bound policy of Auer et al. (2002): each
// record goes to the arm maximising mean + √(2 ln N / n), where n is the
// arm's number of rewards and N the total; arms without rewards come
// first, the least routed of them first. It is deterministic given the
// rewards, so with rewards that arrive late it routes runs of records to
// one arm; [WithMinShare] and [WithSticky] soften that. Rewards must be in
// [0, 1].
func UCB1() Policy { return Policy{kind: policyUCB1} }

// Exp3 is the adversarial bandit policy of Auer et al. (2002), which
// assumes nothing about how rewards change over time: each arm has a
// weight, the traffic shares are (1-gamma)·w/Σw + gamma/K, and a reward r
// of an arm with share p multiplies its weight by exp(gamma·r/(p·K)). The
// share p is the arm's share when the reward arrives, which for rewards
// that arrive soon after the score is the share it was routed with.
// gamma in (0, 1] is the exploration rate. Rewards must be in [0, 1].
// Exp3 adapts to a change slowly unless weights are also forgotten with
// [WithDiscount].
func Exp3(gamma float64) Policy { return Policy{kind: policyExp3, gamma: gamma} }

// String returns the policy's name as it appears in Decision.Decider:
// "thompson", "gaussian-thompson", "ucb1" or "exp3".
func (p Policy) String() string {
	if int(p.kind) < len(policyNames) {
		return policyNames[p.kind]
	}
	return ""
}

func (p Policy) validate() error {
	switch p.kind {
	case policyThompson, policyGaussian, policyUCB1:
		return nil
	case policyExp3:
		if !(p.gamma > 0 && p.gamma <= 1) {
			return configError("bandit: Exp3(%v): gamma must be in (0, 1]", p.gamma)
		}
		return nil
	}
	return configError("bandit: zero Policy; use Thompson, GaussianThompson, UCB1 or Exp3")
}

// unitRewards reports whether the policy needs rewards in [0, 1].
func (p Policy) unitRewards() bool { return p.kind != policyGaussian }

// armState is what a policy knows of one arm. n, s and ss are the
// discounted count, sum and sum of squares of the arm's rewards; logW is
// Exp3's log-weight. cn, cs and css are the same sums undiscounted, over
// the rewards since the Bandit last started afresh: the change
// detector's reference. Discounted sums settle near the arm's share of
// the rewards over 1-gamma, which can stay below the detector's warm-up
// for good (25 for one arm of four at gamma 0.99), and a discounted
// count at or below 1 leaves no variance to standardise by.
type armState struct {
	n, s, ss    float64
	logW        float64
	cn, cs, css float64
	hi, lo      float64 // two-sided CUSUM statistics, in standard deviations
}

// The change detector's parameters: after detectWarmup rewards, each
// reward is standardised by the arm's mean and standard deviation so
// far, and two CUSUMs accumulate its drift above and below, less
// detectSlack; a CUSUM beyond detectThreshold is a change. With these
// values a stationary arm raises a false alarm about once in a million
// rewards (Siegmund's approximation of the average run length), and a
// shift of a third of a standard deviation (0.30 to 0.15 for a 0/1
// reward) is found after about 220 rewards of the arm.
const (
	detectWarmup    = 30
	detectSlack     = 0.1
	detectThreshold = 50
)

// detect runs arm i's change detector on reward r, before r is added;
// it reports whether the arm changed. It standardises r by the arm's
// undiscounted rewards since the last fresh start (cn, cs, css), so that
// WithDiscount does not keep it from running.
func (p Policy) detect(a *armState, r float64) bool {
	if a.cn < detectWarmup {
		return false
	}
	mean := a.cs / a.cn
	v := (a.css - a.cs*a.cs/a.cn) / (a.cn - 1)
	floor := 1e-12
	if p.unitRewards() {
		floor = 1e-4
	}
	z := (r - mean) / math.Sqrt(max(v, floor))
	a.hi = max(0, a.hi+z-detectSlack)
	a.lo = max(0, a.lo-z-detectSlack)
	return a.hi > detectThreshold || a.lo > detectThreshold
}

func (a *armState) mean() float64 {
	if a.n <= 0 {
		return 0
	}
	return a.s / a.n
}

// draw picks an arm by the policy; pulls breaks UCB1's ties between arms
// without rewards. It is called with the Bandit's lock held.
func (p Policy) draw(arms []armState, pulls func(int) uint64, rng *rand.Rand) int {
	switch p.kind {
	case policyThompson:
		best, bestV := 0, -1.0
		for i := range arms {
			a := &arms[i]
			if v := betaDraw(rng, 1+a.s, 1+a.n-a.s); v > bestV {
				best, bestV = i, v
			}
		}
		return best
	case policyGaussian:
		mu0, var0 := pooled(arms)
		best, bestV := 0, math.Inf(-1)
		for i := range arms {
			a := &arms[i]
			v := var0
			if a.n >= 2 {
				v = max((a.ss-a.s*a.s/a.n)/(a.n-1), 0)
			}
			m := (a.s + mu0) / (a.n + 1)
			if x := m + math.Sqrt(v/(a.n+1))*rng.NormFloat64(); x > bestV {
				best, bestV = i, x
			}
		}
		return best
	case policyUCB1:
		return p.ucbBest(arms, pulls)
	default: // Exp3
		u := rng.Float64()
		var acc float64
		sum := expSum(arms)
		for i := range arms {
			acc += p.exp3Prob(arms, i, sum)
			if u < acc {
				return i
			}
		}
		return len(arms) - 1
	}
}

func (p Policy) ucbBest(arms []armState, pulls func(int) uint64) int {
	var total float64
	for i := range arms {
		total += arms[i].n
	}
	best, bestV := 0, math.Inf(-1)
	var bestPulls uint64
	for i := range arms {
		a := &arms[i]
		v := math.Inf(1)
		if a.n > 1e-9 {
			v = a.mean() + math.Sqrt(2*math.Log(max(total, 1))/a.n)
		}
		if v > bestV || (v == bestV && math.IsInf(v, 1) && pulls(i) < bestPulls) {
			best, bestV, bestPulls = i, v, pulls(i)
		}
	}
	return best
}

// expSum is Exp3's sum of weights.
func expSum(arms []armState) float64 {
	var sum float64
	for i := range arms {
		sum += math.Exp(arms[i].logW)
	}
	return sum
}

// exp3Prob returns Exp3's share of arm i; sum is expSum(arms).
func (p Policy) exp3Prob(arms []armState, i int, sum float64) float64 {
	return (1-p.gamma)*math.Exp(arms[i].logW)/sum + p.gamma/float64(len(arms))
}

// update adds reward r to arm i after discounting every arm by
// discount. With detection on, a change found on arm i first resets every
// arm, and update reports it.
func (p Policy) update(arms []armState, i int, r, discount float64, detection bool) (changed bool) {
	if detection && p.detect(&arms[i], r) {
		clear(arms)
		changed = true
	}
	if discount < 1 {
		for j := range arms {
			a := &arms[j]
			a.n *= discount
			a.s *= discount
			a.ss *= discount
			a.logW *= discount
		}
	}
	if p.kind == policyExp3 {
		share := p.exp3Prob(arms, i, expSum(arms))
		arms[i].logW += p.gamma * r / (share * float64(len(arms)))
		top := math.Inf(-1)
		for j := range arms {
			top = max(top, arms[j].logW)
		}
		for j := range arms { // keep exp(logW) within range
			arms[j].logW -= top
		}
	}
	a := &arms[i]
	a.n++
	a.s += r
	a.ss += r * r
	a.cn++
	a.cs += r
	a.css += r * r
	return changed
}

// shares returns the share of traffic the policy gives each arm now: the
// probability that the arm's draw is the highest for Thompson sampling
// (estimated from draws samples), the arm's probability for Exp3, and
// the arm UCB1 would pick (split evenly among arms without rewards).
func (p Policy) shares(arms []armState, pulls func(int) uint64, rng *rand.Rand, draws int) []float64 {
	out := make([]float64, len(arms))
	switch p.kind {
	case policyThompson, policyGaussian:
		for range draws {
			out[p.draw(arms, pulls, rng)]++
		}
		for i := range out {
			out[i] /= float64(draws)
		}
	case policyUCB1:
		var fresh int
		for i := range arms {
			if arms[i].n <= 1e-9 {
				fresh++
			}
		}
		if fresh == 0 {
			out[p.ucbBest(arms, pulls)] = 1
			break
		}
		for i := range arms {
			if arms[i].n <= 1e-9 {
				out[i] = 1 / float64(fresh)
			}
		}
	default:
		sum := expSum(arms)
		for i := range out {
			out[i] = p.exp3Prob(arms, i, sum)
		}
	}
	return out
}

// pooled returns the mean and variance of all rewards, for arms too new
// to have their own; 0 and 1 before there are any.
func pooled(arms []armState) (mean, variance float64) {
	var n, s, ss float64
	for i := range arms {
		n, s, ss = n+arms[i].n, s+arms[i].s, ss+arms[i].ss
	}
	if n <= 0 {
		return 0, 1
	}
	mean = s / n
	if n < 2 {
		return mean, 1
	}
	variance = (ss - s*s/n) / (n - 1)
	if !(variance > 1e-12) {
		variance = 1
	}
	return mean, variance
}

// betaDraw draws from Beta(a, b), a, b > 0.
func betaDraw(rng *rand.Rand, a, b float64) float64 {
	x, y := gammaDraw(rng, a), gammaDraw(rng, b)
	if x+y == 0 {
		return 0.5
	}
	return x / (x + y)
}

// gammaDraw draws from Gamma(a, 1) by Marsaglia and Tsang's method
// (2000), boosting shapes below 1.
func gammaDraw(rng *rand.Rand, a float64) float64 {
	if a < 1 {
		return gammaDraw(rng, a+1) * math.Pow(rng.Float64(), 1/a)
	}
	d := a - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}
