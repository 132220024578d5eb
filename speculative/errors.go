package speculative

import (
	"errors"
	"fmt"
	"strings"

	"github.com/modelstream/modelstream/serving"
)

// Sentinel errors. Test for them with errors.Is: the combinators return
// them wrapped in a *[DecisionError], which also carries the Decision.
var (
	// ErrFallbackFailed means a Budget needed its fallback's answer and
	// the fallback returned an error.
	ErrFallbackFailed = errors.New("speculative: fallback failed")
	// ErrFallbackLate means a Budget needed its fallback's answer and the
	// fallback had not answered when the budget ran out.
	ErrFallbackLate = errors.New("speculative: fallback missed the budget")
	// ErrNoQuorum means a Vote found no label with enough votes.
	ErrNoQuorum = errors.New("speculative: no quorum")
	// ErrNoWinner means no candidate answered usefully: every one failed,
	// was late, or the decider chose none.
	ErrNoWinner = errors.New("speculative: no winner")
	// ErrBadDecision means a Decider chose an index out of range or a
	// candidate that had not answered.
	ErrBadDecision = errors.New("speculative: decider chose an invalid candidate")
	// ErrNothingToRollback means Switch.Rollback found no promotion to undo.
	ErrNothingToRollback = errors.New("speculative: nothing to roll back")
)

// DecisionError is returned by a combinator that asked its candidates but
// could not produce an answer. The Result returned alongside it carries
// the Decision in its Provenance, so a sink can still write out who was
// asked and how each one ended; the error's text lists them too.
//
// It wraps the kind of failure, one of the sentinels above
// (ErrFallbackFailed, ErrFallbackLate, ErrNoQuorum, ErrNoWinner,
// ErrBadDecision) or the caller's context error (context.Canceled,
// context.DeadlineExceeded), and, when there is one, the underlying
// cause, such as the fallback's own error. errors.Is finds both.
type DecisionError struct {
	// Combinator is the name of the combinator that failed.
	Combinator string
	decision   *serving.Decision // the Result's Decision, for the text
	kind       error             // the sentinel or context error
	cause      error             // the underlying error, or nil
}

// Error says what failed, then lists each candidate with its status and
// latency.
func (e *DecisionError) Error() string {
	var b strings.Builder
	if e.kind != nil {
		b.WriteString(e.kind.Error())
	} else {
		// Built by a caller, who can set only Combinator.
		b.WriteString("speculative: no answer")
	}
	if e.Combinator != "" {
		b.WriteString(" (")
		b.WriteString(e.Combinator)
		b.WriteString(")")
	}
	if e.cause != nil {
		b.WriteString(": ")
		b.WriteString(e.cause.Error())
	}
	if e.decision != nil && len(e.decision.Candidates) > 0 {
		b.WriteString(" [")
		for i, c := range e.decision.Candidates {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s %s %s", c.Model, c.Status, c.Latency.Round(1000))
		}
		b.WriteString("]")
	}
	return b.String()
}

// Unwrap returns the kind and the cause, so that errors.Is finds either.
func (e *DecisionError) Unwrap() []error {
	switch {
	case e.kind == nil:
		return nil
	case e.cause == nil:
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// configError wraps serving.ErrConfig, the module's one sentinel for an
// impossible configuration.
func configError(format string, args ...any) error {
	return fmt.Errorf("%w: speculative: "+format, append([]any{serving.ErrConfig}, args...)...)
}
