package canary

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/modelstream/modelstream/governance"
	"github.com/modelstream/modelstream/serving"
)

// Option configures a Controller. Each option's documentation states its
// default; New validates them and returns an error wrapping
// serving.ErrConfig for an impossible one.
type Option func(*config) error

type config struct {
	name          string
	steps         []float64
	interval      time.Duration
	minCalls      uint64
	minOutcomes   uint64
	alpha         float64
	errorMargin   float64
	latencyBound  time.Duration
	latencyMargin float64
	qualityMargin float64
	audit         *governance.Audit
	hooks         []HookRollout
	seed          uint64
	now           func() time.Time
	onDone        func(context.Context, Decision)
}

func defaults() config {
	return config{
		name:          "canary",
		steps:         []float64{0.01, 0.05, 0.25, 1},
		interval:      10 * time.Second,
		minCalls:      500,
		minOutcomes:   200,
		alpha:         0.05,
		errorMargin:   0.005,
		latencyBound:  100 * time.Millisecond,
		latencyMargin: 0.01,
		qualityMargin: 0.01,
		seed:          rand.Uint64(),
		now:           time.Now,
	}
}

func configError(format string, args ...any) error {
	return fmt.Errorf("%w: canary: "+format, append([]any{serving.ErrConfig}, args...)...)
}

// Name names the rollout in its decisions, audit events and Status. The
// default is "canary".
func Name(name string) Option {
	return func(c *config) error {
		if name == "" {
			return configError("empty Name")
		}
		c.name = name
		return nil
	}
}

// Steps sets the candidate's shares of traffic, one per step, increasing
// and ending at 1, at least two of them: the guardrails compare the two
// models at the steps before the last, so a rollout made of the last
// step alone would never have the evidence to promote. The default is
// 0.01, 0.05, 0.25, 1.
func Steps(shares ...float64) Option {
	return func(c *config) error {
		if len(shares) == 0 || shares[len(shares)-1] != 1 {
			return configError("Steps%v: must end at 1", shares)
		}
		if len(shares) < 2 {
			return configError("Steps%v: at least one share below 1 must come before the 1, so that the champion serves while the models are compared", shares)
		}
		for i, s := range shares {
			if !(s > 0 && s <= 1) || (i > 0 && s <= shares[i-1]) {
				return configError("Steps%v: shares must increase within (0, 1]", shares)
			}
		}
		c.steps = append([]float64(nil), shares...)
		return nil
	}
}

// Interval is how often [Controller.Run] evaluates. The default is 10s.
func Interval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return configError("Interval(%v): must be positive", d)
		}
		c.interval = d
		return nil
	}
}

// MinCalls is the number of calls each side must have answered before
// the error and latency guardrails are judged at all, and the number the
// candidate must answer at a step before it may leave it. The default
// is 500.
func MinCalls(n uint64) Option {
	return func(c *config) error {
		if n < 1 {
			return configError("MinCalls(0): need at least 1")
		}
		c.minCalls = n
		return nil
	}
}

// MinOutcomes is the number of outcomes each side must have before the
// quality guardrail is judged. Without them, for example while the
// feedback lags or has stopped, the rollout holds its step. The default
// is 200.
func MinOutcomes(n uint64) Option {
	return func(c *config) error {
		if n < 1 {
			return configError("MinOutcomes(0): need at least 1")
		}
		c.minOutcomes = n
		return nil
	}
}

// Alpha is the probability, over the whole rollout however often it is
// evaluated, that one guardrail's confidence sequence misses the true
// difference; it bounds the chance of a false rollback or a false
// advance per guardrail. The default is 0.05.
func Alpha(a float64) Option {
	return func(c *config) error {
		if !(a > 0 && a < 1) {
			return configError("Alpha(%v): must be in (0, 1)", a)
		}
		c.alpha = a
		return nil
	}
}

func margin(name string, m float64, dst *float64) Option {
	return func(c *config) error {
		if !(m >= 0) || math.IsInf(m, 0) {
			return configError("%s(%v): must be finite and not negative", name, m)
		}
		*dst = m
		return nil
	}
}

// ErrorMargin is how much higher the candidate's error rate may be than
// the champion's and still count as non-inferior. The default is 0.005
// (half a percentage point).
func ErrorMargin(m float64) Option {
	return func(c *config) error { return margin("ErrorMargin", m, &c.errorMargin)(c) }
}

// LatencyBound is the latency the latency guardrail measures against: it
// compares the shares of calls slower than the bound, so a candidate
// whose p99 is within the bound while the champion's is too passes. The
// default is 100ms.
func LatencyBound(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return configError("LatencyBound(%v): must be positive", d)
		}
		c.latencyBound = d
		return nil
	}
}

// LatencyMargin is how much larger the candidate's share of calls slower
// than LatencyBound may be than the champion's. The default is 0.01: a
// candidate at its p99 on the bound against a champion well within it
// passes.
func LatencyMargin(m float64) Option {
	return func(c *config) error { return margin("LatencyMargin", m, &c.latencyMargin)(c) }
}

// QualityMargin is how much higher the candidate's mean loss (see
// [Controller.Outcome]) may be than the champion's. The default is 0.01,
// one percentage point of accuracy for a 0/1 loss.
func QualityMargin(m float64) Option {
	return func(c *config) error { return margin("QualityMargin", m, &c.qualityMargin)(c) }
}

// Audit records every decision that changes the rollout, and each new
// reason for holding, in the audit trail as a governance.KindRollout
// event with the Decision as its Detail. The default is no audit trail.
func Audit(a *governance.Audit) Option {
	return func(c *config) error {
		if a == nil {
			return configError("nil Audit")
		}
		c.audit = a
		return nil
	}
}

// Hooks adds hooks; those implementing [HookRollout] receive every
// Decision, others are ignored. The default is none.
func Hooks(hs ...serving.Hook) Option {
	return func(c *config) error {
		for _, h := range hs {
			if h == nil {
				return configError("nil hook")
			}
			if r, ok := h.(HookRollout); ok {
				c.hooks = append(c.hooks, r)
			}
		}
		return nil
	}
}

// Seed seeds the routing of records without a key. The default is random.
func Seed(seed uint64) Option {
	return func(c *config) error { c.seed = seed; return nil }
}

// Clock sets the time source of the decisions' times, for simulations
// and tests. The default is time.Now.
func Clock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return configError("nil Clock")
		}
		c.now = now
		return nil
	}
}

// OnDone sets a function called once, after the decision that ends the
// rollout (Promote or Rollback), for example to make the candidate the
// champion in the registry. The default is none.
func OnDone(fn func(ctx context.Context, d Decision)) Option {
	return func(c *config) error {
		if fn == nil {
			return configError("nil OnDone")
		}
		c.onDone = fn
		return nil
	}
}
