package speculative_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/speculative"
)

type decisionHook struct {
	mu    sync.Mutex
	names []string
	kinds []string
}

var _ speculative.HookDecision = (*decisionHook)(nil)

func (h *decisionHook) OnDecision(name string, d *serving.Decision, took time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.names = append(h.names, name)
	h.kinds = append(h.kinds, d.Combinator)
}

func TestHooksSeeEveryDecision(t *testing.T) {
	h := &decisionHook{}
	_, a := labelled("a", "x", 0.5, nil)
	_, b := labelled("b", "x", 0.5, nil)
	bud, err := speculative.NewBudget(time.Second, a, []serving.Scorer{b}, speculative.WithHooks(h, "not a hook"), speculative.WithName("inner"))
	if err != nil {
		t.Fatal(err)
	}
	sw, err := speculative.NewSwitch(bud, a, speculative.WithHooks(h))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sw.Score(context.Background(), rec("", 1)); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.names) != 2 || h.names[0] != "inner" || h.kinds[0] != "budget" || h.names[1] != "switch" || h.kinds[1] != "switch" {
		t.Errorf("hook saw %v %v", h.names, h.kinds)
	}
}

func TestCancelledBeforeStartAsksNobody(t *testing.T) {
	f, a := labelled("a", "x", 0.5, nil)
	bud, err := speculative.NewBudget(time.Second, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := scoreWithin(t, bud, ctx, rec("", 1))
	if err == nil || f.Calls() != 0 || res.Provenance.Decision.Candidates[0].Status != serving.StatusCancelled {
		t.Errorf("err %v, calls %d, decision %+v", err, f.Calls(), res.Provenance.Decision)
	}
}

// A call cancelled before it starts is still a call: the hooks see it,
// as Stats counts it.
func TestHooksSeeCallsCancelledBeforeStart(t *testing.T) {
	h := &decisionHook{}
	_, a := labelled("a", "x", 0.5, nil)
	bud, err := speculative.NewBudget(time.Second, a, nil, speculative.WithHooks(h))
	if err != nil {
		t.Fatal(err)
	}
	en, err := speculative.NewEnsemble(speculative.First(), []serving.Scorer{a}, speculative.WithHooks(h))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	bud.Score(ctx, rec("", 1))
	en.Score(ctx, rec("", 1))
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.kinds) != 2 || h.kinds[0] != "budget" || h.kinds[1] != "ensemble" {
		t.Errorf("hooks saw %v, want the budget and the ensemble call", h.kinds)
	}
	if st := bud.Stats(); st.Invocations != 1 || st.Errors != 1 {
		t.Errorf("stats %+v", st)
	}
}
