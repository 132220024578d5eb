package speculative_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/speculative"
)

type panicScorer struct{}

func (panicScorer) Score(context.Context, serving.Record) (serving.Result, error) {
	panic("boom")
}

type decisionCount struct{ errs, calls int }

func (d *decisionCount) OnDecision(_ string, dec *serving.Decision, _ time.Duration) {
	d.calls++
	if dec.Winner < 0 {
		d.errs++
	}
}

// A routing combinator whose chosen Scorer panics fails the call with an
// error, counts it, and tells its hooks, as Budget and Ensemble do for
// their candidates. The panic unwound through Split, Switch and Bandit
// past their counters and hooks, so a canary built on a Split never
// counted a panicking candidate's calls (see canary's
// TestPanickingCandidateRolledBack).
func TestRoutingCombinatorsContainPanics(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(h serving.Hook) (serving.Scorer, func() speculative.Stats, error)
	}{
		{"split", func(h serving.Hook) (serving.Scorer, func() speculative.Stats, error) {
			s, err := speculative.NewSplit([]speculative.Variant{{Name: "bad", Scorer: panicScorer{}, Weight: 1}}, speculative.WithHooks(h))
			if err != nil {
				return nil, nil, err
			}
			return s, s.Stats, nil
		}},
		{"switch", func(h serving.Hook) (serving.Scorer, func() speculative.Stats, error) {
			s, err := speculative.NewSwitch(panicScorer{}, panicScorer{}, speculative.WithHooks(h))
			if err != nil {
				return nil, nil, err
			}
			return s, s.Stats, nil
		}},
		{"bandit", func(h serving.Hook) (serving.Scorer, func() speculative.Stats, error) {
			s, err := speculative.NewBandit(speculative.Thompson(), []speculative.Variant{{Name: "bad", Scorer: panicScorer{}}}, speculative.WithHooks(h))
			if err != nil {
				return nil, nil, err
			}
			return s, s.Stats, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h decisionCount
			sc, stats, err := tc.make(&h)
			if err != nil {
				t.Fatal(err)
			}
			var res serving.Result
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("the panic reached the caller: %v", p)
					}
				}()
				res, err = sc.Score(context.Background(), serving.Record{Features: []float64{1}})
			}()
			if err == nil || !strings.Contains(err.Error(), "panicked: boom") {
				t.Errorf("err = %v, want one saying the variant panicked", err)
			}
			if d := res.Provenance.Decision; d == nil || d.Winner != -1 {
				t.Errorf("decision %+v, want no winner", d)
			}
			if st := stats(); st.Invocations != 1 || st.Errors != 1 {
				t.Errorf("stats: %d calls, %d errors; want 1 and 1", st.Invocations, st.Errors)
			}
			if h.calls != 1 || h.errs != 1 {
				t.Errorf("hook heard %d calls, %d failed; want 1 and 1", h.calls, h.errs)
			}
		})
	}
}
