package quality

import (
	"errors"
	"testing"

	"github.com/modelstream/modelstream/serving"
)

func TestTrackerBounded(t *testing.T) {
	if _, err := NewTracker(0); !errors.Is(err, serving.ErrConfig) {
		t.Fatalf("NewTracker(0): %v", err)
	}
	tr, err := NewTracker(2)
	if err != nil {
		t.Fatal(err)
	}
	a, b := Key{Model: "m", Version: 2}, Key{Model: "m", Version: 1, Variant: "canary"}
	ma, _ := tr.Meter(a)
	mb, _ := tr.Meter(b)
	if again, _ := tr.Meter(a); again != ma || ma == mb {
		t.Fatal("Meter does not return the same meter per key")
	}
	if _, err := tr.Meter(Key{Model: "x"}); !errors.Is(err, ErrFull) {
		t.Fatalf("third key: %v", err)
	}
	if tr.Overflow() != 1 || len(tr.Snapshot()) != 2 {
		t.Errorf("overflow %d", tr.Overflow())
	}
	ma.ObserveValue(1, 2)
	snap := tr.Snapshot()
	if len(snap) != 2 || snap[0].Key != b || snap[1].Key != a || snap[1].MAE.N != 1 {
		t.Errorf("snapshot %+v", snap)
	}
}

func TestKeyOf(t *testing.T) {
	p := serving.Provenance{Model: serving.ModelRef{Name: "fraud", Version: 4}, Decision: &serving.Decision{Variant: "canary"}}
	if k := KeyOf(p); k != (Key{"fraud", 4, "canary"}) || k.String() != "fraud@v4/canary" {
		t.Errorf("KeyOf: %+v %s", k, k)
	}
	if k := KeyOf(serving.Provenance{Model: serving.ModelRef{Name: "fraud", Version: 4}}); k.String() != "fraud@v4" {
		t.Errorf("no decision: %s", k)
	}
}

// Variant follows the winners' nested Decisions to the outermost one
// that names a variant, and stops on a winner out of range and on a
// chain nested without end.
func TestVariantFollowsWinners(t *testing.T) {
	inner := &serving.Decision{Variant: "candidate", Winner: 1, Candidates: make([]serving.Candidate, 2)}
	mid := &serving.Decision{Winner: 1, Candidates: []serving.Candidate{{}, {Decision: inner}}}
	outer := &serving.Decision{Winner: 0, Candidates: []serving.Candidate{{Decision: mid}}}
	if v := variant(outer); v != "candidate" {
		t.Errorf("Variant = %q, want the nested candidate", v)
	}
	if k := KeyOf(serving.Provenance{Model: serving.ModelRef{Name: "m", Version: 2}, Decision: outer}); k.Variant != "candidate" {
		t.Errorf("KeyOf = %+v", k)
	}
	outer.Variant = "blue"
	if v := variant(outer); v != "blue" {
		t.Errorf("Variant = %q, want the outermost that names one", v)
	}
	for _, d := range []*serving.Decision{nil, {Winner: -1}, {Winner: 5, Candidates: make([]serving.Candidate, 1)}} {
		if v := variant(d); v != "" {
			t.Errorf("variant(%+v) = %q", d, v)
		}
	}
	loop := &serving.Decision{Winner: 0, Candidates: make([]serving.Candidate, 1)}
	loop.Candidates[0].Decision = loop
	if v := variant(loop); v != "" {
		t.Errorf("Variant of a cycle = %q", v)
	}
}
