package serving

import (
	"context"
	"log/slog"
	"testing"
)

type closeCounter struct{ closes int }

func (*closeCounter) Predict(context.Context, []float64) (Prediction, error) {
	return Prediction{}, nil
}

func (c *closeCounter) Close() error { c.closes++; return nil }

// The reference count of a version, step by step through the race that
// the concurrent tests can rarely hit: a call that loaded the version
// before it was swapped out acquires it after the count reached zero but
// before it was marked dead. That call uses it and closes it on return;
// the version is closed exactly once, and never acquired once dead.
func TestVersionRefsAcrossTheSwapRace(t *testing.T) {
	s := &Server{o: options{logger: slog.New(slog.DiscardHandler)}}
	m := &closeCounter{}
	s.owned.hold(m) // as activate does; the version takes this hold over
	l := newLive(s, ModelRef{Name: "m", Version: 1}, m, nil)
	if !l.tryAcquire() { // a call in flight
		t.Fatal("a live version refused a call")
	}
	l.release() // the call returns
	// The swap releases the slot's own reference: the count reaches
	// zero, and, before closeIfUnused runs, a late call acquires it.
	if l.refs.Add(-1) != 0 {
		t.Fatal("count not zero after the slot's release")
	}
	if !l.tryAcquire() {
		t.Fatal("a version not yet closed refused the call that found it before the swap")
	}
	l.closeIfUnused() // the swap's close attempt loses
	if m.closes != 0 {
		t.Fatalf("closed under a call in flight (%d closes)", m.closes)
	}
	l.release() // the late call returns and closes it
	if m.closes != 1 {
		t.Fatalf("%d closes after the last call, want 1", m.closes)
	}
	for range 3 {
		if l.tryAcquire() {
			t.Fatal("a closed version was acquired")
		}
	}
	l.closeIfUnused()
	if m.closes != 1 {
		t.Fatalf("%d closes, want exactly 1", m.closes)
	}
}
