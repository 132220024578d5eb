package canary_test

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/speculative/canary"
)

// period is a stretch of records during which both models fare worse,
// as they do when a dependency stalls or the data turn hard for a while:
// from the first record at step Step, for Records records, each side's
// error rate and share of wrong answers rise by Err and Wrong.
type period struct {
	Step       int
	Records    int
	Err, Wrong float64
}

// driveThrough is drive with a bad period: it sends up to n keyed
// records through c, evaluating every `every` records, and returns the
// decision that ended the rollout, or the last one.
func driveThrough(t *testing.T, c *canary.Controller, champ, cand *side, n, every int, feedback float64, bad period) canary.Decision {
	t.Helper()
	rng := rand.New(rand.NewPCG(42, 43))
	ctx := context.Background()
	baseErr := [2]float64{champ.errRate, cand.errRate}
	baseWrong := [2]float64{champ.wrong, cand.wrong}
	step, atStep := 0, 0
	var last canary.Decision
	for i := range n {
		on := step == bad.Step && atStep < bad.Records
		for j, s := range []*side{champ, cand} {
			s.mu.Lock()
			s.errRate, s.wrong = baseErr[j], baseWrong[j]
			if on {
				s.errRate, s.wrong = baseErr[j]+bad.Err, baseWrong[j]+bad.Wrong
			}
			s.mu.Unlock()
		}
		atStep++
		res, err := c.Score(ctx, serving.Record{Key: []byte("user-" + strconv.Itoa(i))})
		if err == nil && rng.Float64() < feedback {
			s := champ
			if res.Provenance.Decision.Variant == canary.Candidate {
				s = cand
			}
			loss := 0.0
			if rng.Float64() < s.wrong {
				loss = 1
			}
			if err := c.Outcome(res.Provenance.Decision.Variant, loss); err != nil {
				t.Fatal(err)
			}
		}
		if (i+1)%every == 0 {
			last = c.Evaluate(ctx)
			if last.Action == canary.Promote || last.Action == canary.Rollback {
				return last
			}
			if last.Step != step {
				step, atStep = last.Step, 0
			}
		}
	}
	return last
}

// Two equally good models, and a bad period (errors up 5 points, wrong
// answers up 20) during the 25% step. The candidate answers most of its
// calls at that step, the champion most of its own before it: compared
// over the whole rollout, the bad period weighed on the candidate alone
// and rolled it back ("errors worse by 0.02..."). Compared step by step,
// both sides meet it in the same proportion, and the candidate goes on
// to be promoted.
func TestBadPeriodLateDoesNotRollBack(t *testing.T) {
	champ, cand := newSide(1, 0.01, 0.10, 1), newSide(2, 0.01, 0.10, 2)
	c, _ := newController(t, champ, cand)
	d := driveThrough(t, c, champ, cand, 400000, 500, 0.5, period{Step: 2, Records: 20000, Err: 0.05, Wrong: 0.20})
	if d.Action != canary.Promote {
		t.Fatalf("equal models, bad period at 25%%: %s at step %d (%s)", d.Action, d.Step, d.Reason)
	}
}

// A candidate worse than the champion by twice the error margin, and a
// bad period (errors up 8 points) during the first step, when the
// champion answers 99% of the calls. Compared over the whole rollout,
// the champion carried the bad period and the candidate looked better
// than it: it was promoted. Compared step by step, it is rolled back.
func TestBadPeriodEarlyDoesNotPromoteWorse(t *testing.T) {
	champ, cand := newSide(1, 0.01, 0.10, 1), newSide(2, 0.02, 0.10, 2)
	c, _ := newController(t, champ, cand)
	d := driveThrough(t, c, champ, cand, 400000, 500, 0.5, period{Step: 0, Records: 1 << 30, Err: 0.08})
	if d.Action != canary.Rollback {
		t.Fatalf("worse candidate, bad period at 1%%: %s at step %d (%s)", d.Action, d.Step, d.Reason)
	}
	if g := guardrail(t, d, "errors"); g.Verdict != "breach" {
		t.Errorf("errors guardrail %+v, want the breach", g)
	}
}

// The same for the quality guardrail: a candidate wrong on 3 points more
// answers than the champion (three times the margin), with a bad period
// of 20 points more wrong answers on both sides during the first step.
func TestBadPeriodEarlyDoesNotPromoteWorseQuality(t *testing.T) {
	champ, cand := newSide(1, 0.01, 0.10, 1), newSide(2, 0.01, 0.13, 2)
	c, _ := newController(t, champ, cand)
	d := driveThrough(t, c, champ, cand, 400000, 500, 0.5, period{Step: 0, Records: 1 << 30, Wrong: 0.20})
	if d.Action != canary.Rollback {
		t.Fatalf("worse candidate, bad period at 1%%: %s at step %d (%s)", d.Action, d.Step, d.Reason)
	}
	if g := guardrail(t, d, "quality"); g.Verdict != "breach" {
		t.Errorf("quality guardrail %+v, want the breach", g)
	}
}

// A candidate worse by twice the error margin is still caught when the
// bad period is late, during the 25% step.
func TestBadPeriodLateStillCatchesWorse(t *testing.T) {
	champ, cand := newSide(1, 0.01, 0.10, 1), newSide(2, 0.02, 0.10, 2)
	c, _ := newController(t, champ, cand)
	d := driveThrough(t, c, champ, cand, 400000, 500, 0.5, period{Step: 2, Records: 20000, Err: 0.05, Wrong: 0.20})
	if d.Action != canary.Rollback {
		t.Fatalf("worse candidate, bad period at 25%%: %s at step %d (%s)", d.Action, d.Step, d.Reason)
	}
}
