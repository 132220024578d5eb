package speculative_test

import (
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/speculative"
)

// Which constructor takes which option, checked by the compiler: each
// line compiles only while the option is of its constructor's option
// type.
var (
	_ speculative.Option = speculative.WithName("n")
	_ speculative.Option = speculative.WithHooks()

	_ speculative.BudgetOption = speculative.WithDecider(speculative.First())

	_ speculative.SplitOption  = speculative.WithSeed(1)
	_ speculative.BanditOption = speculative.WithSeed(1)

	_ speculative.ShadowOption = speculative.WithQueue(1)
	_ speculative.ShadowOption = speculative.WithWorkers(1)
	_ speculative.ShadowOption = speculative.WithObserver(func(speculative.Observation) {})
	_ speculative.ShadowOption = speculative.WithShadowTimeout(time.Second)

	_ speculative.BanditOption = speculative.WithChangeDetection()
	_ speculative.BanditOption = speculative.WithDiscount(1)
	_ speculative.BanditOption = speculative.WithMinShare(0)
	_ speculative.BanditOption = speculative.WithSticky()
	_ speculative.BanditOption = speculative.WithReward(func(serving.Result, time.Duration, error) (float64, bool) { return 0, false })
)

// TestOptionsApplyWhereDocumented is the whole table of which option
// each constructor takes, and so which misplaced ones do not compile
// (such as WithSeed given to NewEnsemble or WithDecider to NewSplit): an
// option is accepted exactly where it implements the constructor's
// option interface. It fails when an option gains or loses a combinator.
func TestOptionsApplyWhereDocumented(t *testing.T) {
	const (
		budget = 1 << iota
		ensemble
		split
		swtch
		shadow
		bandit
		all = budget | ensemble | split | swtch | shadow | bandit
	)
	reward := func(serving.Result, time.Duration, error) (float64, bool) { return 0, false }
	cases := []struct {
		name  string
		opt   any
		takes int
	}{
		{"WithName", speculative.WithName("n"), all},
		{"WithHooks", speculative.WithHooks(), all},
		{"WithDecider", speculative.WithDecider(speculative.First()), budget},
		{"WithSeed", speculative.WithSeed(1), split | bandit},
		{"WithQueue", speculative.WithQueue(1), shadow},
		{"WithWorkers", speculative.WithWorkers(1), shadow},
		{"WithObserver", speculative.WithObserver(func(speculative.Observation) {}), shadow},
		{"WithShadowTimeout", speculative.WithShadowTimeout(time.Second), shadow},
		{"WithChangeDetection", speculative.WithChangeDetection(), bandit},
		{"WithDiscount", speculative.WithDiscount(1), bandit},
		{"WithMinShare", speculative.WithMinShare(0), bandit},
		{"WithSticky", speculative.WithSticky(), bandit},
		{"WithReward", speculative.WithReward(reward), bandit},
	}
	for _, c := range cases {
		got := 0
		if _, ok := c.opt.(speculative.BudgetOption); ok {
			got |= budget
		}
		if _, ok := c.opt.(speculative.EnsembleOption); ok {
			got |= ensemble
		}
		if _, ok := c.opt.(speculative.SplitOption); ok {
			got |= split
		}
		if _, ok := c.opt.(speculative.SwitchOption); ok {
			got |= swtch
		}
		if _, ok := c.opt.(speculative.ShadowOption); ok {
			got |= shadow
		}
		if _, ok := c.opt.(speculative.BanditOption); ok {
			got |= bandit
		}
		if got != c.takes {
			t.Errorf("%s is taken by constructors %06b, want %06b (budget, ensemble, split, switch, shadow, bandit from the right)", c.name, got, c.takes)
		}
	}
}
