package speculative_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/speculative"
)

// seenScorer records the records it is asked to score.
type seenScorer struct {
	mu   sync.Mutex
	seen []serving.Record
}

func (s *seenScorer) Score(_ context.Context, r serving.Record) (serving.Result, error) {
	s.mu.Lock()
	s.seen = append(s.seen, serving.Record{Layout: r.Layout, Features: slices.Clone(r.Features), Text: slices.Clone(r.Text), Key: slices.Clone(r.Key)})
	s.mu.Unlock()
	return serving.Result{Prediction: serving.Prediction{Value: 1, Label: "a", Confidence: 1}}, nil
}

func (s *seenScorer) records() []serving.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seen)
}

// A named record keeps its Layout and Text through every combinator: a
// candidate that got only the Features would read them by position, and
// a Server would score the wrong fields or refuse the record.
func TestCombinatorsKeepNamedRecords(t *testing.T) {
	layout, err := serving.NewLayout("rooms", "area", "city")
	if err != nil {
		t.Fatal(err)
	}
	want := serving.Record{Key: []byte("k"), Layout: layout, Features: []float64{3, 70, 0}, Text: []string{"", "", "Lyon"}}
	check := func(t *testing.T, what string, got serving.Record) {
		t.Helper()
		if got.Layout != want.Layout || !slices.Equal(got.Text, want.Text) || !slices.Equal(got.Features, want.Features) {
			t.Errorf("%s saw layout %v text %q features %v; the caller sent layout %v text %q features %v",
				what, got.Layout, got.Text, got.Features, want.Layout, want.Text, want.Features)
		}
	}
	ctx := context.Background()

	t.Run("budget", func(t *testing.T) {
		fb, other := &seenScorer{}, &seenScorer{}
		b, err := speculative.NewBudget(time.Second, fb, []serving.Scorer{other}, speculative.WithDecider(speculative.Priority()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := scoreWithin(t, b, ctx, want); err != nil {
			t.Fatal(err)
		}
		for _, s := range []*seenScorer{fb, other} {
			waitFor(t, "the candidate's call", hangLimit, func() bool { return len(s.records()) == 1 })
			check(t, "a Budget's candidate", s.records()[0])
		}
	})
	t.Run("ensemble", func(t *testing.T) {
		a, b := &seenScorer{}, &seenScorer{}
		e, err := speculative.NewEnsemble(speculative.Vote(), []serving.Scorer{a, b})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := scoreWithin(t, e, ctx, want); err != nil {
			t.Fatal(err)
		}
		for _, s := range []*seenScorer{a, b} {
			waitFor(t, "the candidate's call", hangLimit, func() bool { return len(s.records()) == 1 })
			check(t, "an Ensemble's candidate", s.records()[0])
		}
	})
	t.Run("shadow", func(t *testing.T) {
		primary, shadow := &seenScorer{}, &seenScorer{}
		obs := make(chan serving.Record, 1)
		s, err := speculative.NewShadow(primary, []serving.Scorer{shadow}, speculative.WithObserver(func(o speculative.Observation) {
			obs <- serving.Record{Layout: o.Record.Layout, Features: slices.Clone(o.Record.Features), Text: slices.Clone(o.Record.Text)}
		}))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Score(ctx, want); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-obs:
			check(t, "the Observation", r)
		case <-time.After(hangLimit):
			t.Fatal("no observation")
		}
		check(t, "a Shadow's primary", primary.records()[0])
		check(t, "a Shadow's shadow", shadow.records()[0])
	})
	for _, tc := range []struct {
		name string
		make func(vs []speculative.Variant) (serving.Scorer, error)
	}{
		{"split", func(vs []speculative.Variant) (serving.Scorer, error) { return speculative.NewSplit(vs) }},
		{"bandit", func(vs []speculative.Variant) (serving.Scorer, error) {
			return speculative.NewBandit(speculative.UCB1(), vs)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &seenScorer{}
			sc, err := tc.make([]speculative.Variant{{Name: "a", Scorer: a, Weight: 1}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sc.Score(ctx, want); err != nil {
				t.Fatal(err)
			}
			check(t, tc.name, a.records()[0])
		})
	}
}
