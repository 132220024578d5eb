package speculative_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/speculative"
)

func TestShadowBlockedDoesNotSlowPrimary(t *testing.T) {
	base := runtime.NumGoroutine()
	primary, ps := labelled("primary", "a", 0.5, nil) // no latency at all
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	var blockedCalls atomic.Int64
	blocked := serving.ScorerFunc(func(ctx context.Context, r serving.Record) (serving.Result, error) {
		blockedCalls.Add(1)
		entered <- struct{}{}
		<-release // blocks, ignoring ctx, until the test lets go
		return serving.Result{Prediction: serving.Prediction{Label: "b"}}, nil
	})
	var observed []speculative.Observation
	var mu sync.Mutex
	sh, err := speculative.NewShadow(ps, []serving.Scorer{speculative.Named(serving.ModelRef{Name: "shadow", Version: 2}, blocked)},
		speculative.WithQueue(4), speculative.WithWorkers(1),
		speculative.WithObserver(func(o speculative.Observation) {
			mu.Lock()
			observed = append(observed, o)
			mu.Unlock()
		}))
	if err != nil {
		t.Fatal(err)
	}
	first, err := sh.Score(context.Background(), rec("k0", 1))
	if err != nil {
		t.Fatal(err)
	}
	<-entered // the only worker is now stuck in the shadow
	const more = 99
	for i := range more {
		res, err := sh.Score(context.Background(), rec("k", float64(i)))
		if err != nil || res.Label != "a" {
			t.Fatalf("primary answer %+v, %v", res, err)
		}
		servingtest.AssertModel(t, res, "primary", 1)
	}
	// Every primary answer came back while the shadow was still blocked.
	if n := blockedCalls.Load(); n != 1 {
		t.Fatalf("shadow calls %d while blocked, want 1", n)
	}
	if d := first.Provenance.Decision; d == nil || d.Combinator != "shadow" || len(d.Candidates) != 1 || d.Winner != 0 {
		t.Errorf("decision %+v", d)
	}
	st := sh.Stats()
	// One record in the worker, four queued, the rest dropped.
	if st.Mirrored != 5 || st.Dropped != more-4 || st.Invocations != more+1 || primary.Calls() != more+1 {
		t.Errorf("mirrored %d dropped %d invocations %d", st.Mirrored, st.Dropped, st.Invocations)
	}
	close(release)
	for range 4 {
		<-entered
	}
	waitFor(t, "five observations", 5*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(observed) == 5
	})
	mu.Lock()
	o := observed[0]
	mu.Unlock()
	if o.Primary.Label != "a" || o.Result.Label != "b" || o.Model.Name != "shadow" || o.Err != nil || string(o.Record.Key) != "k0" {
		t.Errorf("observation %+v", o)
	}
	if err := sh.Close(); err != nil {
		t.Fatal(err)
	}
	if st := sh.Stats(); st.Models[1].OK != 5 || st.Models[1].Role != "shadow" {
		t.Errorf("stats %+v", st)
	}
	waitGoroutines(t, base, 5*time.Second)
}

func TestShadowCloseCancelsAndDrops(t *testing.T) {
	base := runtime.NumGoroutine()
	_, ps := labelled("primary", "a", 0.5, nil)
	f, forever := labelled("forever", "b", 0.5, servingtest.Forever)
	sh, err := speculative.NewShadow(ps, []serving.Scorer{forever}, speculative.WithWorkers(2), speculative.WithQueue(8))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		if _, err := sh.Score(context.Background(), rec("", float64(i))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "both workers busy", 5*time.Second, func() bool { return f.Active() == 2 })
	if err := sh.Close(); err != nil {
		t.Fatal(err)
	}
	st := sh.Stats()
	if st.Mirrored != 6 || st.Dropped != 4 || st.Models[1].Cancelled != 2 {
		t.Errorf("after close: %+v", st)
	}
	// After Close the primary still answers; nothing is mirrored.
	if res, err := sh.Score(context.Background(), rec("", 1)); err != nil || res.Label != "a" {
		t.Errorf("after close: %+v, %v", res, err)
	}
	if st := sh.Stats(); st.Dropped != 5 {
		t.Errorf("dropped after close: %d", st.Dropped)
	}
	sh.Close() // idempotent
	waitGoroutines(t, base, 5*time.Second)
}

func TestShadowTimeoutAndPrimaryError(t *testing.T) {
	bad := &servingtest.Fake{FailRate: 1}
	_, forever := labelled("forever", "b", 0.5, servingtest.Forever)
	got := make(chan speculative.Observation, 1)
	sh, err := speculative.NewShadow(bad.Scorer("primary", 1), []serving.Scorer{forever},
		speculative.WithShadowTimeout(5*time.Millisecond), speculative.WithObserver(func(o speculative.Observation) { got <- o }))
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	res, err := sh.Score(context.Background(), rec("", 1))
	if !errors.Is(err, servingtest.ErrInjected) || res.Provenance.Decision.Winner != -1 {
		t.Fatalf("primary error not passed through: %v %+v", err, res.Provenance.Decision)
	}
	o := <-got
	if !errors.Is(o.PrimaryErr, servingtest.ErrInjected) || !errors.Is(o.Err, context.DeadlineExceeded) {
		t.Errorf("observation %+v", o)
	}
	waitFor(t, "late count", 5*time.Second, func() bool { return sh.Stats().Models[1].Late == 1 })
}

// Score and Close race safely: no send on a closed queue, every record
// either mirrored or dropped.
func TestShadowConcurrentClose(t *testing.T) {
	_, ps := labelled("primary", "a", 0.5, nil)
	_, sh1 := labelled("shadow", "b", 0.5, nil)
	sh, err := speculative.NewShadow(ps, []serving.Scorer{sh1}, speculative.WithQueue(2))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				if _, err := sh.Score(context.Background(), rec("", 1)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	time.Sleep(time.Millisecond)
	sh.Close()
	wg.Wait()
	st := sh.Stats()
	// Every record the shadow did not see was counted as dropped, once.
	sh1st := st.Models[1]
	seen := sh1st.OK + sh1st.Errors + sh1st.Late + sh1st.Cancelled
	if st.Invocations != 2000 || seen != st.Invocations-st.Dropped || st.Mirrored < seen {
		t.Errorf("bookkeeping: %+v", st)
	}
}

// An observer that panics runs on the Shadow's worker goroutine, where an
// unrecovered panic ends the process. The panic is recovered like a
// panicking shadow's: the worker keeps mirroring, and the answer the
// observer was given counts as that shadow's error in Stats.
func TestShadowObserverPanicContained(t *testing.T) {
	_, ps := labelled("primary", "a", 0.5, nil)
	_, sh1 := labelled("shadow", "b", 0.5, nil)
	var calls atomic.Int64
	sh, err := speculative.NewShadow(ps, []serving.Scorer{sh1}, speculative.WithWorkers(1),
		speculative.WithObserver(func(o speculative.Observation) {
			if calls.Add(1) == 1 {
				panic("observer boom")
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	for i := range 3 {
		if _, err := sh.Score(context.Background(), rec("", float64(i))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "three observations", 5*time.Second, func() bool { return calls.Load() == 3 })
	waitFor(t, "three shadow outcomes", 5*time.Second, func() bool {
		m := sh.Stats().Models[1]
		return m.OK+m.Errors == 3
	})
	if m := sh.Stats().Models[1]; m.OK != 2 || m.Errors != 1 {
		t.Errorf("shadow counts ok %d errors %d, want 2 and 1 (the observer's panic)", m.OK, m.Errors)
	}
}

// TestShadowObservationIndexAndQueued: each Observation names the shadow
// by its index among those given to NewShadow, and Queued is the time the
// record waited before its first shadow was asked: here at least the
// 20ms the only worker was held by the record before it. No test read
// Shadow or Queued before.
func TestShadowObservationIndexAndQueued(t *testing.T) {
	_, primary := labelled("primary", "a", 0.5, nil)
	entered := make(chan struct{}, 4)
	release := make(chan struct{})
	first := serving.ScorerFunc(func(ctx context.Context, r serving.Record) (serving.Result, error) {
		if string(r.Key) == "k0" {
			entered <- struct{}{}
			<-release
		}
		return serving.Result{Prediction: serving.Prediction{Label: "x"}}, nil
	})
	second := serving.ScorerFunc(func(ctx context.Context, r serving.Record) (serving.Result, error) {
		return serving.Result{Prediction: serving.Prediction{Label: "y"}}, nil
	})
	var mu sync.Mutex
	type seen struct {
		speculative.Observation
		key string // Record.Key is valid only during the observer call
	}
	var obs []seen
	sh, err := speculative.NewShadow(primary, []serving.Scorer{
		speculative.Named(serving.ModelRef{Name: "first", Version: 1}, first),
		speculative.Named(serving.ModelRef{Name: "second", Version: 1}, second),
	}, speculative.WithWorkers(1), speculative.WithObserver(func(o speculative.Observation) {
		mu.Lock()
		obs = append(obs, seen{o, string(o.Record.Key)})
		mu.Unlock()
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	if _, err := sh.Score(context.Background(), rec("k0", 1)); err != nil {
		t.Fatal(err)
	}
	<-entered // the only worker holds k0 in the first shadow
	if _, err := sh.Score(context.Background(), rec("k1", 2)); err != nil {
		t.Fatal(err)
	}
	const held = 20 * time.Millisecond
	time.Sleep(held) // k1 waits in the queue at least this long
	close(release)
	waitFor(t, "four observations", 5*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(obs) == 4
	})
	mu.Lock()
	defer mu.Unlock()
	for _, o := range obs {
		want := map[string]int{"first": 0, "second": 1}[o.Model.Name]
		if o.Shadow != want || (o.Shadow == 0) != (o.Result.Label == "x") {
			t.Errorf("observation of %s (%s): Shadow %d, want %d", o.Model.Name, o.Result.Label, o.Shadow, want)
		}
		if o.key == "k1" && o.Queued < held {
			t.Errorf("k1 for %s: Queued %v, want at least the %v it waited behind k0", o.Model.Name, o.Queued, held)
		}
		if o.Queued < 0 || o.Latency < 0 {
			t.Errorf("observation %s/%s: Queued %v, Latency %v", o.key, o.Model.Name, o.Queued, o.Latency)
		}
	}
}
