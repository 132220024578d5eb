package canary_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/speculative/canary"
)

func guardrail(t *testing.T, d canary.Decision, name string) canary.Guardrail {
	t.Helper()
	for _, g := range d.Guardrails {
		if g.Name == name {
			return g
		}
	}
	t.Fatalf("no %s guardrail in %+v", name, d)
	return canary.Guardrail{}
}

// quietController is a rollout whose errors and latency guardrails are
// wide open, so that only the quality guardrail decides, with a final
// step right after the first.
func quietController(t *testing.T) *canary.Controller {
	t.Helper()
	champ, cand := newSide(1, 0, 0, 1), newSide(2, 0, 0, 2)
	c, err := canary.New(champ, cand, canary.Steps(0.5, 1), canary.MinCalls(10), canary.MinOutcomes(50),
		canary.ErrorMargin(0.9), canary.LatencyMargin(0.9), canary.Seed(5))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if _, err := c.Score(context.Background(), serving.Record{Key: []byte(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func outcomes(t *testing.T, c *canary.Controller, variant string, loss float64, n int) {
	t.Helper()
	for range n {
		if err := c.Outcome(variant, loss); err != nil {
			t.Fatal(err)
		}
	}
}

// Losses that never vary on either side (every answer right, so far)
// show no spread to measure a difference against: 50 outcomes of loss 0
// on each side are what a model wrong on 2% of its answers gives 36% of
// the time. The quality guardrail read that as shown within margin
// ("ok", an interval of width zero) and the rollout went to 100% of the
// traffic on it; it is inconclusive, so the rollout holds before the
// final step.
func TestQualityWithoutSpreadIsNotShown(t *testing.T) {
	c := quietController(t)
	outcomes(t, c, canary.Champion, 0, 50)
	outcomes(t, c, canary.Candidate, 0, 50)
	d := c.Evaluate(context.Background())
	if g := guardrail(t, d, "quality"); g.Verdict != "inconclusive" {
		t.Errorf("quality guardrail %+v, want inconclusive", g)
	}
	if d.Action != canary.Hold {
		t.Errorf("%s (%s), want hold before the final step", d.Action, d.Reason)
	}
}

// When each side's losses are constant but the two differ, the spread of
// the outcomes of both sides together measures the difference: a
// candidate always wrong against a champion always right is a breach,
// and the other way round is shown non-inferior.
func TestQualityConstantSidesCompared(t *testing.T) {
	c := quietController(t)
	outcomes(t, c, canary.Champion, 0, 50)
	outcomes(t, c, canary.Candidate, 1, 50)
	if g := guardrail(t, c.Evaluate(context.Background()), "quality"); g.Verdict != "breach" {
		t.Errorf("always wrong against always right: %+v, want a breach", g)
	}

	c = quietController(t)
	outcomes(t, c, canary.Champion, 1, 50)
	outcomes(t, c, canary.Candidate, 0, 50)
	d := c.Evaluate(context.Background())
	if g := guardrail(t, d, "quality"); g.Verdict != "ok" || !(g.Low < g.High) {
		t.Errorf("always right against always wrong: %+v, want ok on an interval of some width", g)
	}
}

// ctxSide answers at once unless its caller's context is done, as a
// model that honours cancellation does when the caller has given up.
type ctxSide struct{ ref serving.ModelRef }

func (s ctxSide) Score(ctx context.Context, _ serving.Record) (serving.Result, error) {
	if err := ctx.Err(); err != nil {
		return serving.Result{Provenance: serving.Provenance{Model: s.ref}}, err
	}
	return serving.Result{Prediction: serving.Prediction{Value: 1}, Provenance: serving.Provenance{Model: s.ref}}, nil
}

func (s ctxSide) Ref() serving.ModelRef { return s.ref }

// A call the caller cancelled says nothing about the candidate's errors:
// callers that give up (a closing consumer, a Budget cancelling its
// stragglers) rolled back a candidate that only honoured cancellation
// while the champion did not. A cancelled call that had already run
// longer than the latency bound counts as a slow call, never as an
// error. A call whose caller's deadline passed is still the candidate's
// failure to answer in time, and counts.
//
// The candidate answers a cancelled call at once, but a loaded machine
// can hold the goroutine past the default bound of 100ms between the
// two clock readings, and that call then counts as slow (it failed so
// once in ten -race runs beside two CPU hogs: N [1 503]); the bound of
// an hour keeps "no candidate call counted" about cancellation alone.
func TestCallerCancellationIsNoEvidence(t *testing.T) {
	champ := newSide(1, 0, 0, 1) // ignores its context
	cand := ctxSide{ref: serving.ModelRef{Name: "fraud", Version: 2}}
	run := func(ctx context.Context, bound time.Duration) canary.Decision {
		c, err := canary.New(champ, cand, canary.Steps(0.5, 1), canary.MinCalls(100), canary.MinOutcomes(1), canary.Seed(9),
			canary.LatencyBound(bound))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 1000 {
			c.Score(ctx, serving.Record{Key: []byte(strconv.Itoa(i))})
		}
		return c.Evaluate(context.Background())
	}

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	d := run(cancelled, time.Hour)
	if d.Action == canary.Rollback {
		t.Fatalf("rolled back for calls its callers cancelled: %s", d.Reason)
	}
	if g := guardrail(t, d, "errors"); g.N[0] != 0 || g.Verdict != "no data" {
		t.Errorf("errors guardrail %+v, want no candidate calls counted", g)
	}
	// Past the bound (every call is, at 1ns), a cancelled call counts as
	// slow, and still not as an error.
	d = run(cancelled, time.Nanosecond)
	if d.Action == canary.Rollback {
		t.Fatalf("rolled back for slow calls its callers cancelled: %s", d.Reason)
	}
	if g := guardrail(t, d, "errors"); g.N[0] == 0 || g.Candidate != 0 {
		t.Errorf("errors guardrail %+v, want the candidate's cancelled calls counted, none as an error", g)
	}

	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	d = run(expired, time.Hour)
	if g := guardrail(t, d, "errors"); g.N[0] == 0 || g.Verdict != "breach" || d.Action != canary.Rollback {
		t.Errorf("%s; errors guardrail %+v: want a breach for calls that missed their deadline", d.Action, g)
	}
}
