package speculative

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/modelstream/modelstream/serving"
)

// Variant is one arm of a [Split]: a named Scorer and its share of the
// traffic.
type Variant struct {
	// Name names the variant in the Decision, such as "control" or
	// "canary". Names must be unique and non-empty.
	Name string
	// Scorer scores the records routed to the variant.
	Scorer serving.Scorer
	// Weight is the variant's share of the traffic, relative to the sum
	// of all weights. It must be finite and not negative; 0 turns the
	// variant off.
	Weight float64
}

// Split is a Scorer that routes each record to one of its variants by
// weight: an A/B test, or a canary with a small weight.
//
// Routing is sticky: a record with a Key goes to the variant picked by a
// stable hash of the key (64-bit FNV-1a, then a 64-bit avalanche
// finaliser), so that the same key always sees the same variant for as
// long as the weights stay the same, in this process and in any other
// running the same weights. The hash is part of this package's contract
// and will not change. A record without a Key (nil or empty: an empty
// key names no entity, and hashing it would send all such records to
// one variant) is routed by a random source seeded with [WithSeed].
//
// The weights can be changed at any time with [Split.SetWeights]; each
// call sees either the old or the new weights as a whole. Variants are
// laid out on [0, 1) in the order given, each taking a slice as wide as
// its share, so new weights move the keys between each boundary's old
// and new place, and every boundary after a changed share moves. With
// two variants, growing the second from 10% to 20% moves a tenth of the
// keys, all from the first to it. With control, other and canary in
// that order, growing the canary from 10% to 20% as control shrinks
// from 80% to 70% moves a tenth of the keys from control to other and
// a tenth from other to the canary, although other keeps its share; put
// a variant whose share will grow right after the one it takes the
// share from (other, control, canary), and only their keys move.
//
// The Decision has Combinator "split", the chosen variant's name in
// Variant, and one Candidate per variant in the order given; those not
// chosen have StatusSkipped. A Split is safe for concurrent use.
type Split struct {
	cfg      *config
	variants []Variant
	scorers  []serving.Scorer
	table    atomic.Pointer[splitTable]
	seq      atomic.Uint64
	counters *counters
}

// splitTable is an immutable weight layout.
type splitTable struct {
	weights []float64
	upper   []float64 // upper[i] is the end of variant i's slice of [0, 1)
}

// NewSplit returns a Split over variants. There must be at least one
// variant, with unique non-empty names, non-nil scorers, and weights as
// [Split.SetWeights] requires. Options: [WithSeed], [WithName],
// [WithHooks].
func NewSplit(variants []Variant, opts ...SplitOption) (*Split, error) {
	cfg, err := newConfig(kindSplit, opts, SplitOption.applySplit)
	if err != nil {
		return nil, err
	}
	if err := checkVariants("split", variants); err != nil {
		return nil, err
	}
	s := &Split{cfg: cfg, variants: append([]Variant(nil), variants...), counters: newCounters(len(variants))}
	w := make([]float64, len(variants))
	for i, v := range variants {
		s.scorers = append(s.scorers, v.Scorer)
		w[i] = v.Weight
	}
	if err := s.SetWeights(w...); err != nil {
		return nil, err
	}
	return s, nil
}

// checkVariants refuses what a Split and a Bandit both refuse of their
// variants: none at all, an empty or repeated name, a nil Scorer. kind
// ("split" or "bandit") starts the error.
func checkVariants(kind string, variants []Variant) error {
	if len(variants) == 0 {
		return configError("%s: no variants", kind)
	}
	for i, v := range variants {
		if v.Name == "" {
			return configError("%s: variant %d has no name", kind, i)
		}
		for _, u := range variants[:i] {
			if u.Name == v.Name {
				return configError("%s: two variants named %q", kind, v.Name)
			}
		}
		if isNil(v.Scorer) {
			return configError("%s: variant %q has a nil scorer", kind, v.Name)
		}
	}
	return nil
}

// SetWeights replaces the weights, one per variant in the order the
// variants were given, atomically. Weights must be finite and not
// negative, with a positive sum; otherwise SetWeights returns an error
// wrapping serving.ErrConfig and the weights stay as they were.
func (s *Split) SetWeights(weights ...float64) error {
	if len(weights) != len(s.variants) {
		return configError("split: %d weights for %d variants", len(weights), len(s.variants))
	}
	var sum float64
	for i, w := range weights {
		if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			return configError("split: weight %v of variant %q", w, s.variants[i].Name)
		}
		sum += w
	}
	if !(sum > 0) || math.IsInf(sum, 0) {
		return configError("split: the weights sum to %v", sum)
	}
	t := &splitTable{weights: append([]float64(nil), weights...), upper: make([]float64, len(weights))}
	var acc float64
	for i, w := range weights {
		acc += w
		t.upper[i] = acc / sum
	}
	// Whatever rounding did, everything below 1 lands in the last
	// variant with a positive weight.
	for i := len(weights) - 1; i >= 0; i-- {
		if weights[i] > 0 {
			t.upper[i] = math.Inf(1)
			break
		}
	}
	s.table.Store(t)
	return nil
}

// Weights returns the current weights, in the order of the variants.
func (s *Split) Weights() []float64 {
	return append([]float64(nil), s.table.Load().weights...)
}

// route returns the index of the variant that r would be routed to now.
// For a record without a Key (nil or empty) it consumes a draw of the
// random source.
func (s *Split) route(r serving.Record) int {
	var h uint64
	if len(r.Key) > 0 {
		h = KeyHash(r.Key)
	} else {
		h = mix64(s.cfg.seed + s.seq.Add(0x9e3779b97f4a7c15))
	}
	return s.table.Load().pick(h)
}

func (t *splitTable) pick(h uint64) int {
	u := float64(h>>11) / (1 << 53) // uniform in [0, 1)
	for i, up := range t.upper {
		if u < up && t.weights[i] > 0 {
			return i
		}
	}
	return len(t.upper) - 1 // unreachable: the last live variant's bound is +Inf
}

// Score implements serving.Scorer: it scores r with the chosen variant
// and returns its answer. The variant's error, if any, is returned as is,
// along with a Result recording the Decision; a variant that panics
// fails the call with an error saying so.
func (s *Split) Score(ctx context.Context, r serving.Record) (serving.Result, error) {
	start := time.Now()
	chosen := s.route(r)
	out, _, _, err := scoreOne(ctx, r, s.cfg, s.counters, s.scorers, chosen, "split", "", s.variants[chosen].Name, start)
	return out, err
}

// scoreOne is the Score of a routing combinator (Split, Bandit, Switch)
// once it has chosen: scorers[chosen] alone scores r, as variant, and
// the others are candidates with StatusSkipped in a Decision of
// combinator and decider. The call is settled into that Decision,
// counted in c, and told to cfg's hooks; out names the chosen model and
// carries its Prediction unless it failed with err. res is what the
// chosen scorer returned, and took the time since start.
func scoreOne(ctx context.Context, r serving.Record, cfg *config, c *counters, scorers []serving.Scorer, chosen int,
	combinator, decider, variant string, start time.Time) (out, res serving.Result, took time.Duration, err error) {
	dec, preds := newDecision(len(scorers))
	dec.Combinator, dec.Decider, dec.Variant, dec.Winner = combinator, decider, variant, -1
	for i := range dec.Candidates {
		if i != chosen {
			dec.Candidates[i] = serving.Candidate{Model: refOf(cfg.name, scorers[i], i), Status: serving.StatusSkipped}
		}
	}
	res, err = scoreSafely(ctx, scorers[chosen], r, variant)
	took = time.Since(start)
	settle(cfg.name, &dec.Candidates[chosen], &preds[chosen], scorers[chosen], chosen, res, err, took)
	if err == nil {
		dec.Winner = chosen
	}
	c.record(dec, err)
	for _, h := range cfg.hooks {
		h.OnDecision(cfg.name, dec, took)
	}
	out = serving.Result{Provenance: serving.Provenance{Model: dec.Candidates[chosen].Model, Decision: dec}}
	if err == nil {
		out.Prediction = res.Prediction
	}
	return out, res, took, err
}

// scoreSafely calls s.Score and turns a panic into an error naming the
// variant, as Budget and Ensemble do for their candidates, so that a
// routing combinator counts it (and its hooks, a canary's evidence among
// them, hear of it) instead of letting it unwind past them.
func scoreSafely(ctx context.Context, s serving.Scorer, r serving.Record, variant string) (res serving.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = serving.Result{}, fmt.Errorf("speculative: variant %q panicked: %v", variant, p)
		}
	}()
	return s.Score(ctx, r)
}

// settle fills in a candidate that was called synchronously; p holds its
// prediction.
func settle(name string, c *serving.Candidate, p *serving.Prediction, s serving.Scorer, i int, res serving.Result, err error, took time.Duration) {
	c.Model = res.Provenance.Model
	if c.Model.Name == "" {
		c.Model = refOf(name, s, i)
	}
	c.Latency = took
	c.Decision = res.Provenance.Decision
	if err != nil {
		c.Status = serving.StatusError
		c.Error = err.Error()
		return
	}
	c.Status = serving.StatusOK
	*p = res.Prediction
	c.Prediction = p
}

// Ref implements serving.Referrer: the Split's name (see [WithName]).
func (s *Split) Ref() serving.ModelRef { return serving.ModelRef{Name: s.cfg.name} }

// Stats returns the Split's counters; each ModelStats' Role is the
// variant's name.
func (s *Split) Stats() Stats {
	return s.counters.snapshot(s.cfg.name, "split", s.scorers, func(i int) string { return s.variants[i].Name })
}

// KeyHash is the stable hash a Split routes keys by: 64-bit FNV-1a over
// the key's bytes, followed by the 64-bit finaliser of MurmurHash3 so
// that keys differing in one byte land far apart. It is exported so that
// other systems can reproduce the routing.
func KeyHash(key []byte) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for _, b := range key {
		h ^= uint64(b)
		h *= prime
	}
	return fmix64(h)
}

func fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// mix64 is the SplitMix64 output function, used on a Weyl sequence to
// draw routes for records without a key.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
