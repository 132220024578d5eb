package speculative

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
)

// blocker answers when its channel is closed, ignoring its context.
type blocker struct {
	name string
	open chan struct{}
}

func (b blocker) Score(ctx context.Context, r serving.Record) (serving.Result, error) {
	<-b.open
	return serving.Result{Prediction: serving.Prediction{Label: b.name}}, nil
}

func (b blocker) Ref() serving.ModelRef { return serving.ModelRef{Name: b.name} }

// scoreOrFail calls s.Score and waits at most 10s for it.
func scoreOrFail(t *testing.T, s serving.Scorer) (serving.Result, error) {
	t.Helper()
	type answer struct {
		res serving.Result
		err error
	}
	done := make(chan answer, 1)
	go func() {
		res, err := s.Score(context.Background(), serving.Record{Features: []float64{1}})
		done <- answer{res, err}
	}()
	select {
	case a := <-done:
		return a.res, a.err
	case <-time.After(10 * time.Second):
		t.Fatal("Score did not return within 10s")
		return serving.Result{}, nil
	}
}

// With a learned lead, a Budget's timer fires before the budget. If the
// fallback has not answered by then, the Budget waits for it until the
// budget itself: the lead must not turn a fallback that answers in time
// into ErrFallbackLate. The fallback here answers exactly when the early
// timer has fired, and the Budget looks again only once that answer is
// handed over, so the test does not depend on timing.
func TestBudgetWaitsForTheFallbackUntilTheBudget(t *testing.T) {
	old := timerLateness.q.Load()
	defer timerLateness.q.Store(old)
	timerLateness.q.Store(int64(time.Hour)) // the lead is capped at a quarter of the budget
	fb := blocker{"fb", make(chan struct{})}
	other := blocker{"other", make(chan struct{})}
	defer close(other.open)
	base := candidateGoroutines()
	testHookOvertime = func() {
		close(fb.open)
		// Wait until the fallback's goroutine has handed its answer over
		// and ended (only other's is left): a loaded machine holding it
		// past the budget made the answer late.
		for end := time.Now().Add(10 * time.Second); candidateGoroutines() > base+1 && time.Now().Before(end); {
			time.Sleep(time.Millisecond)
		}
	}
	defer func() { testHookOvertime = nil }()

	b, err := NewBudget(400*time.Millisecond, fb, []serving.Scorer{other})
	if err != nil {
		t.Fatal(err)
	}
	res, err := scoreOrFail(t, b)
	if err != nil {
		t.Fatalf("Score: %v, want the fallback's answer", err)
	}
	if res.Label != "fb" || res.Provenance.Decision.Candidates[1].Status != serving.StatusLate {
		t.Errorf("answer %q, decision %+v", res.Label, res.Provenance.Decision)
	}

	// A fallback that still has not answered by the budget is late.
	testHookOvertime = nil
	slow := blocker{"slow-fb", make(chan struct{})}
	defer close(slow.open)
	b, _ = NewBudget(40*time.Millisecond, slow, []serving.Scorer{other})
	if _, err := scoreOrFail(t, b); !errors.Is(err, ErrFallbackLate) {
		t.Errorf("err = %v, want ErrFallbackLate", err)
	}
}
