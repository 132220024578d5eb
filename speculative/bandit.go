package speculative

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelstream/modelstream/serving"
)

// Bandit is a Scorer that routes each record to one of its variants (its
// arms) by a [Policy] that learns from rewards: how good each arm's
// answers turned out to be. Where a [Split] keeps the weights it is
// given, a Bandit moves traffic towards the arms that earn the most, while
// still exploring the others, and with [WithDiscount] follows arms whose
// quality changes.
//
// Rewards come from [Bandit.Reward], typically from ground truth joined
// to the scores later (each score's Decision names its arm in Variant),
// or at once from a function given with [WithReward]. Rewards that are
// not finite, out of the policy's range, or for unknown arms are refused
// with a *[serving.OutcomeError] and counted.
//
// Options: [WithName], [WithHooks], [WithSeed], [WithChangeDetection],
// [WithDiscount], [WithMinShare], [WithSticky], [WithReward].
//
// The Decision has Combinator "bandit", the policy's name in Decider
// ("thompson", "gaussian-thompson", "ucb1" or "exp3"), the chosen arm's
// name in Variant, and one Candidate per arm in the order given; those not
// chosen have StatusSkipped. Its state (what it learnt) is saved with
// [Bandit.MarshalBinary] and restored with [Bandit.UnmarshalBinary].
//
// A Bandit is safe for concurrent use. Choosing an arm takes a mutex for
// a few hundred nanoseconds (a Beta draw per arm for Thompson sampling).
type Bandit struct {
	cfg      *config
	policy   Policy
	names    []string
	scorers  []serving.Scorer
	counters *counters
	pulls    []atomic.Uint64
	refused  atomic.Uint64
	resets   atomic.Uint64

	mu      sync.Mutex // guards what follows
	rng     *rand.Rand
	arms    []armState
	rewards []uint64
	pending int                        // rewards since the sticky shares were computed
	table   atomic.Pointer[splitTable] // sticky shares; written under mu
}

// shareDraws is the number of policy draws that estimate Thompson
// sampling's shares.
const shareDraws = 1000

// NewBandit returns a Bandit choosing among variants by policy. There
// must be at least one variant, with unique non-empty names and non-nil
// scorers. The variants' Weights are ignored: the policy sets the shares.
func NewBandit(policy Policy, variants []Variant, opts ...BanditOption) (*Bandit, error) {
	cfg, err := newConfig(kindBandit, opts, BanditOption.applyBandit)
	if err != nil {
		return nil, err
	}
	if cfg.bandit.discount == 0 { // not set: WithDiscount refuses 0
		cfg.bandit.discount = 1
	}
	if err := policy.validate(); err != nil {
		return nil, err
	}
	if err := checkVariants("bandit", variants); err != nil {
		return nil, err
	}
	if cfg.bandit.minShare*float64(len(variants)) > 1 {
		return nil, configError("bandit: WithMinShare(%v) for %d variants exceeds the whole traffic", cfg.bandit.minShare, len(variants))
	}
	b := &Bandit{
		cfg:      cfg,
		policy:   policy,
		counters: newCounters(len(variants)),
		pulls:    make([]atomic.Uint64, len(variants)),
		rng:      rand.New(rand.NewPCG(cfg.seed, 0x6a09e667f3bcc909)),
		arms:     make([]armState, len(variants)),
		rewards:  make([]uint64, len(variants)),
	}
	for _, v := range variants {
		b.names = append(b.names, v.Name)
		b.scorers = append(b.scorers, v.Scorer)
	}
	b.mu.Lock()
	b.refreshShares()
	b.mu.Unlock()
	return b, nil
}

func (b *Bandit) pullsOf(i int) uint64 { return b.pulls[i].Load() }

// route returns the index of the arm that r is routed to, and counts it
// as routed there: a keyed record of a sticky Bandit by its key, any
// other record by a fresh draw of the policy.
func (b *Bandit) route(r serving.Record) int {
	var i int
	if b.cfg.bandit.sticky && len(r.Key) > 0 {
		i = b.table.Load().pick(KeyHash(r.Key))
	} else {
		b.mu.Lock()
		if m := b.cfg.bandit.minShare; m > 0 && b.rng.Float64() < m*float64(len(b.arms)) {
			i = b.rng.IntN(len(b.arms))
		} else {
			i = b.policy.draw(b.arms, b.pullsOf, b.rng)
		}
		b.mu.Unlock()
	}
	b.pulls[i].Add(1)
	return i
}

// Score implements serving.Scorer: it scores r with the arm the policy
// chooses and returns its answer. The arm's error, if any, is returned
// as is, along with a Result recording the Decision; an arm that panics
// fails the call with an error saying so.
func (b *Bandit) Score(ctx context.Context, r serving.Record) (serving.Result, error) {
	start := time.Now()
	chosen := b.route(r)
	out, res, took, err := scoreOne(ctx, r, b.cfg, b.counters, b.scorers, chosen, "bandit", b.policy.String(), b.names[chosen], start)
	if fn := b.cfg.bandit.reward; fn != nil {
		if rw, ok := fn(res, took, err); ok {
			_ = b.reward(chosen, rw) // a refusal is counted
		}
	}
	return out, err
}

// Reward credits reward to the arm named variant, as the Decision of the
// score it earned named it. It returns a *[serving.OutcomeError] wrapping
// [serving.ErrOutcome], and counts the refusal, when variant is not an arm or the
// reward is not finite, above 1e100 in magnitude (its square would
// overflow the arm's sum of squares), or, for every policy but
// [GaussianThompson], not in [0, 1].
func (b *Bandit) Reward(variant string, reward float64) error {
	for i, n := range b.names {
		if n == variant {
			return b.reward(i, reward)
		}
	}
	b.refused.Add(1)
	return &serving.OutcomeError{Field: "reward", Variant: variant, Value: reward, Reason: "unknown variant"}
}

// maxReward bounds the magnitude of an accepted reward, so that an arm's
// sum of squared rewards stays finite.
const maxReward = 1e100

func (b *Bandit) reward(i int, r float64) error {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		b.refused.Add(1)
		return &serving.OutcomeError{Field: "reward", Variant: b.names[i], Value: r, Reason: "not finite"}
	}
	if !(math.Abs(r) <= maxReward) {
		b.refused.Add(1)
		return &serving.OutcomeError{Field: "reward", Variant: b.names[i], Value: r, Reason: "magnitude above 1e100"}
	}
	if b.policy.unitRewards() && !(r >= 0 && r <= 1) {
		b.refused.Add(1)
		return &serving.OutcomeError{Field: "reward", Variant: b.names[i], Value: r, Reason: b.policy.String() + " needs rewards in [0, 1]"}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.policy.update(b.arms, i, r, b.cfg.bandit.discount, b.cfg.bandit.detect) {
		b.resets.Add(1)
		b.pending = defaultShareRefresh // recompute sticky shares now
	}
	b.rewards[i]++
	if b.cfg.bandit.sticky {
		if b.pending++; b.pending >= defaultShareRefresh {
			b.refreshShares()
		}
	}
	return nil
}

// refreshShares recomputes the sticky routing table; b.mu is held.
func (b *Bandit) refreshShares() {
	b.pending = 0
	if !b.cfg.bandit.sticky {
		return
	}
	w := b.sharesLocked()
	t := &splitTable{weights: w, upper: make([]float64, len(w))}
	var acc float64
	for i, x := range w {
		acc += x
		t.upper[i] = acc
	}
	for i := len(w) - 1; i >= 0; i-- {
		if w[i] > 0 {
			t.upper[i] = math.Inf(1)
			break
		}
	}
	b.table.Store(t)
}

// sharesLocked is the policy's shares mixed with the minimum share.
func (b *Bandit) sharesLocked() []float64 {
	w := b.policy.shares(b.arms, b.pullsOf, b.rng, shareDraws)
	m := b.cfg.bandit.minShare
	for i := range w {
		w[i] = m + (1-m*float64(len(w)))*w[i]
	}
	return w
}

// Refused counts the rewards refused since the Bandit was built.
func (b *Bandit) Refused() uint64 { return b.refused.Load() }

// Resets counts the changes found by [WithChangeDetection], each of which
// made the Bandit start afresh.
func (b *Bandit) Resets() uint64 { return b.resets.Load() }

// ArmStats is what a Bandit knows of one arm.
type ArmStats struct {
	// Name is the arm's variant name.
	Name string `json:"name"`
	// Routed counts the records routed to the arm.
	Routed uint64 `json:"routed"`
	// Rewards counts the rewards the arm received.
	Rewards uint64 `json:"rewards"`
	// Mean is the arm's mean reward, discounted by [WithDiscount]; 0
	// before any reward.
	Mean float64 `json:"mean"`
	// Weight is the discounted number of rewards that Mean rests on.
	Weight float64 `json:"weight"`
	// Share is the share of traffic the policy gives the arm now,
	// including the minimum share (estimated from draws for Thompson
	// sampling).
	Share float64 `json:"share"`
}

// Arms returns what the Bandit knows of each arm, in the order given.
func (b *Bandit) Arms() []ArmStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	shares := b.sharesLocked()
	out := make([]ArmStats, len(b.arms))
	for i := range b.arms {
		a := &b.arms[i]
		out[i] = ArmStats{Name: b.names[i], Routed: b.pulls[i].Load(), Rewards: b.rewards[i], Mean: a.mean(), Weight: a.n, Share: shares[i]}
	}
	return out
}

// Ref implements serving.Referrer: the Bandit's name (see [WithName]).
func (b *Bandit) Ref() serving.ModelRef { return serving.ModelRef{Name: b.cfg.name} }

// Stats returns the Bandit's counters; each ModelStats' Role is the arm's
// name.
func (b *Bandit) Stats() Stats {
	return b.counters.snapshot(b.cfg.name, "bandit", b.scorers, func(i int) string { return b.names[i] })
}

// checkpoint is the JSON a Bandit saves.
type checkpoint struct {
	Policy string          `json:"policy"`
	Arms   []armCheckpoint `json:"arms"`
}

type armCheckpoint struct {
	Name  string  `json:"name"`
	N     float64 `json:"n"`
	Sum   float64 `json:"sum"`
	SumSq float64 `json:"sum_sq"`
	LogW  float64 `json:"log_w,omitempty"`
	// CN, CSum and CSumSq are the change detector's undiscounted sums;
	// a checkpoint written before they existed has none (see
	// UnmarshalBinary).
	CN      float64 `json:"cusum_n,omitempty"`
	CSum    float64 `json:"cusum_sum,omitempty"`
	CSumSq  float64 `json:"cusum_sum_sq,omitempty"`
	High    float64 `json:"cusum_high,omitempty"`
	Low     float64 `json:"cusum_low,omitempty"`
	Routed  uint64  `json:"routed"`
	Rewards uint64  `json:"rewards"`
}

// MarshalBinary implements encoding.BinaryMarshaler: it saves what the
// Bandit has learnt, as JSON naming the policy and each arm, so that a
// restarted service resumes where it stopped instead of exploring again.
func (b *Bandit) MarshalBinary() ([]byte, error) {
	b.mu.Lock()
	c := checkpoint{Policy: b.policy.String(), Arms: make([]armCheckpoint, len(b.arms))}
	for i, a := range b.arms {
		c.Arms[i] = armCheckpoint{Name: b.names[i], N: a.n, Sum: a.s, SumSq: a.ss, LogW: a.logW, CN: a.cn, CSum: a.cs, CSumSq: a.css, High: a.hi, Low: a.lo, Routed: b.pulls[i].Load(), Rewards: b.rewards[i]}
	}
	b.mu.Unlock()
	return json.Marshal(c)
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler: it restores a
// checkpoint written by MarshalBinary, matching arms by name. An arm of
// the Bandit missing from the checkpoint starts afresh, and an arm of the
// checkpoint the Bandit no longer has is dropped, so that arms can be
// added and retired across restarts. It returns an error wrapping
// [serving.ErrCorruptState], and changes nothing, for data that is not such a
// checkpoint, one of another policy, or one with impossible values.
func (b *Bandit) UnmarshalBinary(data []byte) error {
	var c checkpoint
	if err := json.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("%w: speculative: bandit checkpoint: %v", serving.ErrCorruptState, err)
	}
	if c.Policy != b.policy.String() {
		return fmt.Errorf("%w: speculative: bandit checkpoint: policy %q, this bandit's is %q", serving.ErrCorruptState, c.Policy, b.policy)
	}
	arms := make([]armState, len(b.arms))
	rewards := make([]uint64, len(b.arms))
	routed := make([]uint64, len(b.arms))
	for _, a := range c.Arms {
		i := -1
		for j, n := range b.names {
			if n == a.Name {
				i = j
			}
		}
		if i < 0 {
			continue
		}
		ok := a.N >= 0 && a.SumSq >= 0 && !math.IsInf(a.N, 0) && !math.IsInf(a.SumSq, 0) && !math.IsInf(a.Sum, 0) && !math.IsNaN(a.Sum) && !math.IsInf(a.LogW, 0) && !math.IsNaN(a.LogW) && a.LogW <= 0 && a.High >= 0 && a.Low >= 0 && !math.IsInf(a.High, 0) && !math.IsInf(a.Low, 0)
		if a.CN == 0 && a.CSum == 0 && a.CSumSq == 0 {
			// Written before the detector kept sums of its own: it
			// read the discounted ones, which are these without
			// WithDiscount, and a warm-up below them with it.
			a.CN, a.CSum, a.CSumSq = a.N, a.Sum, a.SumSq
		}
		ok = ok && a.CN >= 0 && a.CSumSq >= 0 && !math.IsInf(a.CN, 0) && !math.IsInf(a.CSumSq, 0) && !math.IsInf(a.CSum, 0) && !math.IsNaN(a.CSum)
		if ok && b.policy.unitRewards() {
			ok = a.Sum >= 0 && a.Sum <= a.N*(1+1e-9) && a.CSum >= 0 && a.CSum <= a.CN*(1+1e-9)
		}
		if !ok {
			return fmt.Errorf("%w: speculative: bandit checkpoint: arm %q has impossible state %+v", serving.ErrCorruptState, a.Name, a)
		}
		arms[i] = armState{n: a.N, s: a.Sum, ss: a.SumSq, logW: a.LogW, cn: a.CN, cs: a.CSum, css: a.CSumSq, hi: a.High, lo: a.Low}
		rewards[i], routed[i] = a.Rewards, a.Routed
	}
	// Exp3 keeps log-weights relative to the largest (see update); a
	// checkpoint whose largest is far below 0 would underflow every
	// exp(logW) to 0 and make the shares NaN, so restore it shifted.
	top := math.Inf(-1)
	for i := range arms {
		top = max(top, arms[i].logW)
	}
	for i := range arms {
		arms[i].logW -= top
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.arms, b.rewards = arms, rewards
	for i := range routed {
		b.pulls[i].Store(routed[i])
	}
	b.refreshShares()
	return nil
}
