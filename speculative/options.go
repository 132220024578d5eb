package speculative

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/modelstream/modelstream/serving"
)

// Options come in one style, the one of serving/kafka: each constructor
// takes options of its own interface type ([BudgetOption],
// [EnsembleOption], [SplitOption], [SwitchOption], [ShadowOption],
// [BanditOption]), so an option given to a combinator it does not apply
// to does not compile. An option that applies to several combinators
// implements each of their interfaces: [WithName] and [WithHooks] return
// an [Option], which every constructor takes, and [WithSeed] a
// [SeedOption], which NewSplit and NewBandit take. Each option's
// documentation says what its default is.

// BudgetOption configures a [Budget].
type BudgetOption interface{ applyBudget(*config) error }

// EnsembleOption configures an [Ensemble].
type EnsembleOption interface{ applyEnsemble(*config) error }

// SplitOption configures a [Split].
type SplitOption interface{ applySplit(*config) error }

// SwitchOption configures a [Switch].
type SwitchOption interface{ applySwitch(*config) error }

// ShadowOption configures a [Shadow].
type ShadowOption interface{ applyShadow(*config) error }

// BanditOption configures a [Bandit].
type BanditOption interface{ applyBandit(*config) error }

// Option configures any combinator: it is an option of each of them.
type Option interface {
	BudgetOption
	EnsembleOption
	SplitOption
	SwitchOption
	ShadowOption
	BanditOption
}

// SeedOption is a [SplitOption] and a [BanditOption].
type SeedOption interface {
	SplitOption
	BanditOption
}

type commonOpt func(*config) error

func (f commonOpt) applyBudget(c *config) error   { return f(c) }
func (f commonOpt) applyEnsemble(c *config) error { return f(c) }
func (f commonOpt) applySplit(c *config) error    { return f(c) }
func (f commonOpt) applySwitch(c *config) error   { return f(c) }
func (f commonOpt) applyShadow(c *config) error   { return f(c) }
func (f commonOpt) applyBandit(c *config) error   { return f(c) }

type budgetOpt func(*config) error

func (f budgetOpt) applyBudget(c *config) error { return f(c) }

type shadowOpt func(*config) error

func (f shadowOpt) applyShadow(c *config) error { return f(c) }

type banditOpt func(*config) error

func (f banditOpt) applyBandit(c *config) error { return f(c) }

type seedOpt uint64

func (s seedOpt) applySplit(c *config) error  { c.seed, c.seeded = uint64(s), true; return nil }
func (s seedOpt) applyBandit(c *config) error { c.seed, c.seeded = uint64(s), true; return nil }

type kind uint8

const (
	kindBudget kind = 1 << iota
	kindEnsemble
	kindSplit
	kindSwitch
	kindShadow
	kindBandit
)

var kindNames = map[kind]string{
	kindBudget:   "budget",
	kindEnsemble: "ensemble",
	kindSplit:    "split",
	kindSwitch:   "switch",
	kindShadow:   "shadow",
	kindBandit:   "bandit",
}

// The defaults of the options.
const (
	defaultQueue         = 1024
	defaultWorkers       = 2
	defaultShadowTimeout = 10 * time.Second
)

type config struct {
	kind          kind
	name          string
	decider       Decider
	seed          uint64
	seeded        bool
	queue         int
	workers       int
	observer      func(Observation)
	shadowTimeout time.Duration
	hooks         []HookDecision
	bandit        banditConfig // see bandit_options.go
}

// newConfig sets the defaults of a combinator of kind k and applies its
// options with apply, such as BudgetOption.applyBudget.
func newConfig[O any](k kind, opts []O, apply func(O, *config) error) (*config, error) {
	c := &config{
		kind:          k,
		name:          kindNames[k],
		queue:         defaultQueue,
		workers:       defaultWorkers,
		shadowTimeout: defaultShadowTimeout,
	}
	for _, o := range opts {
		if any(o) == nil {
			return nil, configError("nil option given to %s", kindNames[k])
		}
		if err := apply(o, c); err != nil {
			return nil, err
		}
	}
	if !c.seeded {
		c.seed = rand.Uint64()
	}
	return c, nil
}

// WithName names the combinator. The name appears in its [Stats], in the
// Combinator field of the errors it returns, as the model name it reports
// through serving.Referrer when it is a candidate of another combinator
// and has not answered, and as the combinator argument of
// HookDecision. It applies to every combinator; the default is
// the combinator's kind: "budget", "ensemble", "split", "switch",
// "shadow" or "bandit". The Decision's Combinator field always holds the kind.
func WithName(name string) Option {
	return commonOpt(func(c *config) error {
		if name == "" {
			return configError("WithName: empty name")
		}
		c.name = name
		return nil
	})
}

// WithDecider sets the rule a Budget uses to choose among the answers of
// its other models. It applies to Budget only (an Ensemble takes its
// Decider as an argument). The default is [First].
func WithDecider(d Decider) BudgetOption {
	return budgetOpt(func(c *config) error {
		if d == nil {
			return configError("WithDecider: nil decider")
		}
		c.decider = d
		return nil
	})
}

// WithSeed seeds the random source a Split uses for records without a
// key, or a Bandit uses for its draws, making the sequence of choices
// reproducible for a single caller. It applies to Split and Bandit. The
// default is a random seed.
func WithSeed(seed uint64) SeedOption { return seedOpt(seed) }

// WithQueue sets how many records a Shadow holds for its workers; when the
// queue is full, records are not mirrored and are counted as dropped. It
// applies to Shadow only. The default is 1024; n must be at
// least 1 and at most 1<<20 (the queue's buffer is allocated whole when
// the Shadow is made, 8 MiB at that bound).
func WithQueue(n int) ShadowOption {
	return shadowOpt(func(c *config) error {
		if n < 1 || n > maxQueue {
			return configError("WithQueue(%d): need 1 to %d", n, maxQueue)
		}
		c.queue = n
		return nil
	})
}

// WithWorkers sets how many goroutines a Shadow runs to score mirrored
// records. It applies to Shadow only. The default is 2; n
// must be at least 1 and at most 1024.
func WithWorkers(n int) ShadowOption {
	return shadowOpt(func(c *config) error {
		if n < 1 || n > maxWorkers {
			return configError("WithWorkers(%d): need 1 to %d", n, maxWorkers)
		}
		c.workers = n
		return nil
	})
}

// The bounds of WithQueue and WithWorkers: a Shadow allocates its queue
// and starts its workers when it is made, so a size read from a
// configuration by mistake must fail there, not panic in make or start
// a million goroutines.
const (
	maxQueue   = 1 << 20
	maxWorkers = 1 << 10
)

// WithObserver sets the function a Shadow calls with every shadow answer.
// It is called from the Shadow's worker goroutines, concurrently when
// there are several workers, and must not block for long: while it runs,
// that worker mirrors nothing. A panic in fn is recovered: the worker
// goes on, and the answer fn was given counts as an error of its shadow
// in [Stats], as a panicking shadow's does. It applies to Shadow only.
// The default is no observer: shadow answers are only counted in [Stats].
func WithObserver(fn func(Observation)) ShadowOption {
	return shadowOpt(func(c *config) error {
		if fn == nil {
			return configError("WithObserver: nil function")
		}
		c.observer = fn
		return nil
	})
}

// WithShadowTimeout bounds each shadow call of a Shadow through its
// context. It applies to Shadow only. The default is
// 10s; d must be positive.
func WithShadowTimeout(d time.Duration) ShadowOption {
	return shadowOpt(func(c *config) error {
		if d <= 0 {
			return configError("WithShadowTimeout(%v): must be positive", d)
		}
		c.shadowTimeout = d
		return nil
	})
}

// WithHooks adds hooks. Those implementing HookDecision are called
// after every call with the combinator's name, its Decision and the time
// the call took; the others are ignored. Hooks run synchronously on the
// scoring path and must be fast and safe for concurrent use. It applies to
// every combinator. The default is no hooks.
func WithHooks(hs ...serving.Hook) Option {
	return commonOpt(func(c *config) error {
		for _, h := range hs {
			if h == nil {
				return configError("WithHooks: nil hook")
			}
			if d, ok := h.(HookDecision); ok {
				c.hooks = append(c.hooks, d)
			}
		}
		return nil
	})
}

// Named gives s a name for provenance. Combinators name each candidate by
// the ModelRef in its Result; a candidate that did not answer is named by
// serving.Referrer when it implements it (as serving.Bind and
// Server.Model scorers, and every combinator here, do), by the ref given
// to Named, or else by its place in the combinator, such as "budget[1]"
// for the second scorer given to a Budget: a name, never a made-up
// version.
//
// A nil s is refused the way serving.Bind refuses a nil Model: a
// combinator given Named(ref, nil) fails to construct with
// serving.ErrConfig, and its Score returns a *serving.ModelError naming
// ref and wrapping serving.ErrNoModel, never a panic.
func Named(ref serving.ModelRef, s serving.Scorer) serving.Scorer {
	if s == nil {
		return named{ref: ref, Scorer: serving.ScorerFunc(func(context.Context, serving.Record) (serving.Result, error) {
			err := fmt.Errorf("%w: %s was named with a nil Scorer", serving.ErrNoModel, ref)
			return serving.Result{Provenance: serving.Provenance{Model: ref}}, &serving.ModelError{Model: ref, Err: err}
		}), nilScorer: true}
	}
	return named{ref: ref, Scorer: s}
}

type named struct {
	ref serving.ModelRef
	serving.Scorer
	nilScorer bool // Named was given nil: checkScorers refuses it
}

func (n named) Ref() serving.ModelRef { return n.ref }

// refOf returns the name of candidate i, s, of the combinator called
// name, when it has not answered.
func refOf(name string, s serving.Scorer, i int) serving.ModelRef {
	if r, ok := s.(serving.Referrer); ok {
		return r.Ref()
	}
	return serving.ModelRef{Name: name + "[" + strconv.Itoa(i) + "]"}
}

// isNil reports whether s is nil or Named(ref, nil).
func isNil(s serving.Scorer) bool {
	n, ok := s.(named)
	return s == nil || ok && n.nilScorer
}

func checkScorers(what string, ss []serving.Scorer) error {
	for i, s := range ss {
		if isNil(s) {
			return configError("%s: scorer %d is nil", what, i)
		}
	}
	return nil
}
