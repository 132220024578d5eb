package servingtest

import (
	"github.com/modelstream/modelstream/serving"
)

// T is the part of *testing.T the assertions need.
type T interface {
	Helper()
	Errorf(format string, args ...any)
}

// AssertModel checks that res was computed by name at version, and
// reports through t if not. It returns whether the check passed.
func AssertModel(t T, res serving.Result, name string, version uint64) bool {
	t.Helper()
	got := res.Provenance.Model
	if got.Name != name || got.Version != version {
		t.Errorf("provenance: scored by %s, want %s@v%d", got, name, version)
		return false
	}
	return true
}

// AssertDecision checks that res carries a Decision whose Combinator is
// combinator, the kind ("budget", "ensemble", "split"...; a vote is an
// "ensemble"), and whose winner, named in res too, is the model named
// winner: a ModelRef.Name such as "fast", without "@v1". It reports
// through t if not, and returns whether the check passed.
func AssertDecision(t T, res serving.Result, combinator, winner string) bool {
	t.Helper()
	d := res.Provenance.Decision
	if d == nil {
		t.Errorf("provenance: no decision, want %s won by %s", combinator, winner)
		return false
	}
	if d.Combinator != combinator {
		t.Errorf("provenance: combinator %q, want %q", d.Combinator, combinator)
		return false
	}
	if d.Winner < 0 || d.Winner >= len(d.Candidates) {
		t.Errorf("provenance: %s decision has no winner (index %d of %d candidates)", combinator, d.Winner, len(d.Candidates))
		return false
	}
	if got := d.Candidates[d.Winner].Model.Name; got != winner {
		t.Errorf("provenance: %s won by %q, want %q", combinator, got, winner)
		return false
	}
	if res.Provenance.Model.Name != winner {
		t.Errorf("provenance: result names %q but decision winner is %q", res.Provenance.Model.Name, winner)
		return false
	}
	return true
}
