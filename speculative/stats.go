package speculative

import (
	"sync/atomic"

	"github.com/modelstream/modelstream/serving"
)

// Stats are the counters of one combinator since it was built. A snapshot
// is taken with the combinator's Stats method; the counters are updated
// with atomic operations, so a snapshot taken under load may be off by the
// calls in flight.
type Stats struct {
	// Name is the combinator's name (see [WithName]).
	Name string `json:"name"`
	// Combinator is the combinator's kind: "budget", "ensemble", "split",
	// "switch", "shadow" or "bandit".
	Combinator string `json:"combinator"`
	// Invocations counts calls to Score.
	Invocations uint64 `json:"invocations"`
	// Errors counts calls to Score that returned an error.
	Errors uint64 `json:"errors"`
	// NoWinner counts calls in which no candidate was chosen by the
	// decider: for a Budget, the calls answered by the fallback for want
	// of anything better (plus those that failed); for an Ensemble, the
	// calls that failed for want of a winner.
	NoWinner uint64 `json:"no_winner"`
	// FallbackMisses counts, for a Budget, the calls at whose deadline
	// the fallback itself had not answered: the fallback missed the
	// budget, whether or not its answer was needed.
	FallbackMisses uint64 `json:"fallback_misses"`
	// Mirrored counts, for a Shadow, the records queued for the shadows.
	Mirrored uint64 `json:"mirrored"`
	// Dropped counts, for a Shadow, the records the shadows never saw:
	// the queue was full, the Shadow was closed, or the record was still
	// queued at Close. Invocations - Dropped records reached the shadows.
	Dropped uint64 `json:"dropped"`
	// Models has one entry per candidate, in the order the combinator was
	// given them.
	Models []ModelStats `json:"models"`
}

// ModelStats are the counters of one candidate of a combinator.
type ModelStats struct {
	// Model names the candidate as it is now (see [Named]).
	Model serving.ModelRef `json:"model"`
	// Role is the candidate's part: "fallback" or "model" in a Budget,
	// "model" in an Ensemble, the variant's name in a Split, "blue" or
	// "green" in a Switch, "primary" or "shadow" in a Shadow.
	Role string `json:"role"`
	// Wins counts the calls answered with this candidate's prediction.
	Wins uint64 `json:"wins"`
	// OK counts the candidate's successful answers, winning or not (for
	// a shadow: its answers to mirrored records).
	OK uint64 `json:"ok"`
	// Late counts the calls at whose deadline the candidate had not
	// answered.
	Late uint64 `json:"late"`
	// Errors counts the candidate's errors.
	Errors uint64 `json:"errors"`
	// Cancelled counts the calls decided before the candidate answered.
	Cancelled uint64 `json:"cancelled"`
	// Skipped counts the calls routed elsewhere (Split and Switch).
	Skipped uint64 `json:"skipped"`
}

type modelCounters struct {
	wins   atomic.Uint64
	status [serving.StatusSkipped + 1]atomic.Uint64
}

type counters struct {
	inv, errs, noWinner, fallbackMisses, mirrored, dropped atomic.Uint64
	models                                                 []modelCounters
}

func newCounters(n int) *counters { return &counters{models: make([]modelCounters, n)} }

// record counts one call's decision.
func (c *counters) record(d *serving.Decision, err error) {
	c.inv.Add(1)
	if err != nil {
		c.errs.Add(1)
	}
	for i := range d.Candidates {
		if s := d.Candidates[i].Status; int(s) < len(c.models[i].status) {
			c.models[i].status[s].Add(1)
		}
	}
	if d.Winner >= 0 {
		c.models[d.Winner].wins.Add(1)
	}
}

func (c *counters) snapshot(name, kind string, scorers []serving.Scorer, roles func(i int) string) Stats {
	s := Stats{
		Name:           name,
		Combinator:     kind,
		Invocations:    c.inv.Load(),
		Errors:         c.errs.Load(),
		NoWinner:       c.noWinner.Load(),
		FallbackMisses: c.fallbackMisses.Load(),
		Mirrored:       c.mirrored.Load(),
		Dropped:        c.dropped.Load(),
		Models:         make([]ModelStats, len(c.models)),
	}
	for i := range c.models {
		m := &c.models[i]
		s.Models[i] = ModelStats{
			Model:     refOf(name, scorers[i], i),
			Role:      roles(i),
			Wins:      m.wins.Load(),
			OK:        m.status[serving.StatusOK].Load(),
			Late:      m.status[serving.StatusLate].Load(),
			Errors:    m.status[serving.StatusError].Load(),
			Cancelled: m.status[serving.StatusCancelled].Load(),
			Skipped:   m.status[serving.StatusSkipped].Load(),
		}
	}
	return s
}
