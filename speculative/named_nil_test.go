package speculative_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/speculative"
)

// TestNamedNil: Named(ref, nil) is refused like serving.Bind(ref, nil):
// its Score returns a *serving.ModelError wrapping ErrNoModel, and every
// combinator refuses it at construction with ErrConfig, as it refuses a
// nil Scorer. Before, it passed the combinators' nil checks and panicked
// with a nil pointer dereference on the first Score.
func TestNamedNil(t *testing.T) {
	ref := serving.ModelRef{Name: "rules", Version: 2}
	bad := speculative.Named(ref, nil)
	res, err := bad.Score(context.Background(), serving.Record{Features: []float64{1}})
	var me *serving.ModelError
	if !errors.As(err, &me) || me.Model != ref || !errors.Is(err, serving.ErrNoModel) || res.Provenance.Model != ref {
		t.Fatalf("Named(ref, nil).Score: %+v, %v", res, err)
	}
	if r, ok := bad.(serving.Referrer); !ok || r.Ref() != ref {
		t.Fatalf("Named(ref, nil) does not name ref")
	}

	good := serving.ScorerFunc(func(context.Context, serving.Record) (serving.Result, error) { return serving.Result{}, nil })
	for name, build := range map[string]func() error{
		"ensemble": func() error {
			_, err := speculative.NewEnsemble(speculative.First(), []serving.Scorer{good, bad})
			return err
		},
		"budget fallback": func() error { _, err := speculative.NewBudget(time.Second, bad, nil); return err },
		"budget other": func() error {
			_, err := speculative.NewBudget(time.Second, good, []serving.Scorer{bad})
			return err
		},
		"shadow primary": func() error { _, err := speculative.NewShadow(bad, []serving.Scorer{good}); return err },
		"shadow":         func() error { _, err := speculative.NewShadow(good, []serving.Scorer{bad}); return err },
		"switch":         func() error { _, err := speculative.NewSwitch(good, bad); return err },
		"switch stage": func() error {
			sw, err := speculative.NewSwitch(good, good)
			if err != nil {
				return err
			}
			_, err = sw.Stage(bad)
			return err
		},
		"split": func() error {
			_, err := speculative.NewSplit([]speculative.Variant{{Name: "a", Scorer: good, Weight: 1}, {Name: "b", Scorer: bad, Weight: 1}})
			return err
		},
		"bandit": func() error {
			_, err := speculative.NewBandit(speculative.Thompson(), []speculative.Variant{{Name: "a", Scorer: good, Weight: 1}, {Name: "b", Scorer: bad, Weight: 1}})
			return err
		},
	} {
		err := build()
		t.Logf("%s: %v", name, err)
		if !errors.Is(err, serving.ErrConfig) {
			t.Errorf("%s with Named(ref, nil): %v, want ErrConfig", name, err)
		}
	}
}
