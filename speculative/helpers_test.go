package speculative_test

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// labelled returns a fake scorer answering label with confidence conf.
func labelled(name, label string, conf float64, lat servingtest.Latency) (*servingtest.Fake, serving.Scorer) {
	f := &servingtest.Fake{Output: serving.Prediction{Value: conf, Label: label, Confidence: conf}, Latency: lat}
	return f, f.Scorer(name, 1)
}

// waitGoroutines polls until the goroutine count is back to at most
// base, or fails after the deadline.
func waitGoroutines(t *testing.T, base int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("goroutines: %d, baseline %d, after %v\n%s", n, base, within, buf)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitFor polls cond until it holds, or fails after the deadline.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func rec(key string, x ...float64) serving.Record {
	r := serving.Record{Features: x}
	if key != "" {
		r.Key = []byte(key)
	}
	return r
}

// flyingGoroutines counts the goroutines running a combinator's
// candidate.
func flyingGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "speculative.(*flight).fly(")
}

// hangLimit is how long a test waits for a Budget call, or a straggler,
// that should end within milliseconds: past it the test fails, so that a
// Budget that waits for a straggler fails the suite instead of hanging
// it. It is generous, because it only has to be finite.
const hangLimit = 10 * time.Second

// scoreWithin calls s.Score in a goroutine of its own and waits at most
// hangLimit for it. It must be called from the test's goroutine.
func scoreWithin(t *testing.T, s serving.Scorer, ctx context.Context, r serving.Record) (serving.Result, error) {
	t.Helper()
	type answer struct {
		res serving.Result
		err error
	}
	done := make(chan answer, 1)
	go func() {
		res, err := s.Score(ctx, r)
		done <- answer{res, err}
	}()
	select {
	case a := <-done:
		return a.res, a.err
	case <-time.After(hangLimit):
		t.Fatalf("Score did not return within %v: it waits for a straggler", hangLimit)
		return serving.Result{}, nil
	}
}

// waitGroupWithin waits for wg at most within, or fails the test.
func waitGroupWithin(t *testing.T, wg *sync.WaitGroup, what string, within time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(within):
		t.Fatalf("%s did not finish within %v", what, within)
	}
}
