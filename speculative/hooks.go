package speculative

import (
	"time"

	"github.com/modelstream/modelstream/serving"
)

// HookDecision is called by every combinator of this package after each
// call, with the combinator's name (see [WithName]), its Decision, and how
// long the whole call took. Give it with [WithHooks]. It is called
// synchronously on the scoring path, so it must be fast and safe for
// concurrent use.
type HookDecision interface {
	OnDecision(combinator string, d *serving.Decision, took time.Duration)
}
