package speculative

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
)

// signalling answers when open is closed, ignoring its context, and
// closes returned once it has.
type signalling struct {
	open, returned chan struct{}
}

func (s signalling) Score(ctx context.Context, r serving.Record) (serving.Result, error) {
	<-s.open
	defer close(s.returned)
	return serving.Result{Prediction: serving.Prediction{Label: "fb"}}, nil
}

func (s signalling) Ref() serving.ModelRef { return serving.ModelRef{Name: "fb"} }

// A fallback that answers well before the budget, while the caller's
// goroutine is not running (here: held in the overtime hook past the
// budget, as a loaded machine holds it past its timer), must be the
// answer: when the Budget then sees its timer and the fallback's answer
// both ready, it must not pick the timer and report ErrFallbackLate
// with an on-time answer waiting. Go's select picks among ready cases at
// random, so each call failed with probability 1/2.
func TestBudgetKeepsAnAnswerThatArrivedBeforeTheTimerWasSeen(t *testing.T) {
	old := timerLateness.q.Load()
	defer timerLateness.q.Store(old)
	other := blocker{"other", make(chan struct{})}
	defer close(other.open)
	defer func() { testHookOvertime = nil }()
	const d = 40 * time.Millisecond
	for i := range 16 {
		timerLateness.q.Store(int64(time.Hour)) // the lead: a quarter of d
		fb := signalling{make(chan struct{}), make(chan struct{})}
		base := candidateGoroutines() // the others of earlier calls, still held
		testHookOvertime = func() {
			close(fb.open)
			<-fb.returned // the fallback answered at d - d/4
			// and its goroutine has handed the answer over and ended
			// (only this call's other is left), which a loaded machine
			// may delay past the sleep below: a delay there failed
			// every call.
			for end := time.Now().Add(10 * time.Second); candidateGoroutines() > base+1 && time.Now().Before(end); {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(d * 3 / 4) // the caller wakes past the budget
		}
		b, err := NewBudget(d, fb, []serving.Scorer{other})
		if err != nil {
			t.Fatal(err)
		}
		res, err := scoreOrFail(t, b)
		if err != nil {
			t.Fatalf("call %d: %v, want the fallback's answer (it answered at 3/4 of the budget)", i, err)
		}
		if res.Label != "fb" {
			t.Fatalf("call %d: answer %q", i, res.Label)
		}
	}
}

// candidateGoroutines counts the goroutines running a candidate of a
// combinator, as flyingGoroutines does for the external tests.
func candidateGoroutines() int {
	buf := make([]byte, 1<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "speculative.(*flight).fly(")
}
