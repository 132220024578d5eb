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
// before it was swapped out acquires it after the last reference was
// released but before it was marked dead. That call uses it and closes
// it on return; the version is closed exactly once, never acquired once
// dead, and its Invocations count the calls made, not the attempts that
// found it dead.
func TestVersionRefsAcrossTheSwapRace(t *testing.T) {
	s := &Server{o: options{logger: slog.New(slog.DiscardHandler)}}
	m := &closeCounter{}
	s.owned.hold(m) // as activate does; the version takes this hold over
	l := newLive(s, ModelRef{Name: "m", Version: 1}, m, nil)
	if _, ok := l.stats.acquire(1); !ok { // a call in flight
		t.Fatal("a live version refused a call")
	}
	l.release(1) // the call returns
	// The swap gives back the slot's own reference: released reaches
	// acquired, and, before the close is attempted, a late call
	// acquires the version.
	r := l.stats.released.Add(1)
	if r != l.stats.acquired.Load() {
		t.Fatalf("%d references released of %d acquired after the slot's release", r, l.stats.acquired.Load())
	}
	if _, ok := l.stats.acquire(1); !ok {
		t.Fatal("a version not yet closed refused the call that found it before the swap")
	}
	if l.stats.closeAt(r) { // the swap's close attempt loses
		t.Fatal("the swap marked dead a version a call holds")
	}
	if m.closes != 0 {
		t.Fatalf("closed under a call in flight (%d closes)", m.closes)
	}
	l.release(1) // the late call returns and closes it
	if m.closes != 1 {
		t.Fatalf("%d closes after the last call, want 1", m.closes)
	}
	for range 3 {
		if _, ok := l.stats.acquire(1); ok {
			t.Fatal("a closed version was acquired")
		}
	}
	if l.stats.closeAt(l.stats.released.Load()) {
		t.Fatal("a closed version was marked dead again")
	}
	if m.closes != 1 {
		t.Fatalf("%d closes, want exactly 1", m.closes)
	}
	if got := l.stats.snapshot(l.ref, l.since).Invocations; got != 2 {
		t.Fatalf("Invocations %d, want the 2 calls made", got)
	}
}

// A batch takes one reference per record and gives them back at once;
// the version closes when the last batch in flight returns, whatever the
// order in which batches of different sizes return.
func TestVersionRefsBatches(t *testing.T) {
	s := &Server{o: options{logger: slog.New(slog.DiscardHandler)}}
	m := &closeCounter{}
	s.owned.hold(m)
	l := newLive(s, ModelRef{Name: "m", Version: 1}, m, nil)
	for _, k := range []uint64{5, 1, 64} {
		if _, ok := l.stats.acquire(k); !ok {
			t.Fatalf("a live version refused a batch of %d", k)
		}
	}
	l.release(1) // the slot's own
	for _, k := range []uint64{64, 5} {
		l.release(k)
		if m.closes != 0 {
			t.Fatalf("closed with a batch in flight (after the batch of %d returned)", k)
		}
	}
	l.release(1)
	if m.closes != 1 {
		t.Fatalf("%d closes after the last batch, want 1", m.closes)
	}
	if got := l.stats.snapshot(l.ref, l.since).Invocations; got != 70 {
		t.Fatalf("Invocations %d, want 70", got)
	}
}
