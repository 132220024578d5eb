package speculative_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/speculative"
)

// TestDecisionErrorZeroValue: a DecisionError that a caller builds (a
// fake Scorer in the caller's own tests, say) can carry only its
// Combinator since the kind, cause and decision are unexported; its
// Error must still say something rather than panic on the nil kind, and
// it wraps nothing.
func TestDecisionErrorZeroValue(t *testing.T) {
	for _, e := range []*speculative.DecisionError{{}, {Combinator: "fraud"}} {
		var msg string
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("%#v.Error() panics: %v", e, r)
				}
			}()
			msg = e.Error()
		}()
		if msg == "" || !strings.Contains(msg, e.Combinator) {
			t.Errorf("%#v.Error() = %q", e, msg)
		}
		if errors.Is(e, speculative.ErrNoWinner) || errors.Unwrap(e) != nil {
			t.Errorf("%#v wraps something", e)
		}
	}
}
