package servingtest_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

func TestSpecFormatRejectsBadInput(t *testing.T) {
	for name, b := range map[string]string{
		"truncated":         `{"value":1`,
		"not json":          `value: 1`,
		"wrong type":        `{"value":"high"}`,
		"bad latency":       `{"latency":"soon"}`,
		"negative latency":  `{"latency":"-1ms"}`,
		"fail rate above 1": `{"fail_rate":1.5}`,
		"fail rate below 0": `{"fail_rate":-0.1}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := serving.Load(context.Background(), serving.Descriptor{Name: "m", Format: servingtest.FormatName, Bytes: []byte(b)})
			var fe *serving.FormatError
			if !errors.Is(err, serving.ErrCorruptModel) || !errors.As(err, &fe) || fe.Format != servingtest.FormatName {
				t.Fatalf("Load(%q): %v", b, err)
			}
		})
	}
}

func TestSpecLoadsWhatItSays(t *testing.T) {
	ctx := context.Background()
	before := servingtest.Unclosed()
	m, err := serving.Load(ctx, servingtest.Spec{Value: 2, Values: []float64{0.2, 0.8}, Label: "b", Confidence: 0.8, Features: 2}.Descriptor("m", 1))
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Predict(ctx, []float64{1, 2})
	if err != nil || p.Value != 2 || !slices.Equal(p.Values, []float64{0.2, 0.8}) || p.Label != "b" || p.Confidence != 0.8 {
		t.Fatalf("Predict = %+v, %v", p, err)
	}
	// Each answer's Values are its own, as a real model's are: a caller
	// that changes them (normalises, sorts) changed every later answer.
	p.Values[0] = -1
	if q, err := m.Predict(ctx, []float64{1, 2}); err != nil || !slices.Equal(q.Values, []float64{0.2, 0.8}) {
		t.Fatalf("after the caller changed the first answer's Values, Predict = %+v, %v", q, err)
	}
	var fc *serving.FeatureCountError
	if _, err := m.Predict(ctx, []float64{1}); !errors.As(err, &fc) || fc.Want != 2 || fc.Got != 1 {
		t.Fatalf("one feature of two: %v", err)
	}
	if n := servingtest.Unclosed(); n != before+1 {
		t.Fatalf("Unclosed after a load: %d -> %d", before, n)
	}
	if err := m.(serving.Closer).Close(); err != nil || servingtest.Unclosed() != before {
		t.Fatalf("Close: %v, Unclosed %d -> %d", err, before, servingtest.Unclosed())
	}

	echo, err := serving.Load(ctx, servingtest.Spec{Echo: true}.Descriptor("m", 2))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := echo.Predict(ctx, []float64{1, 2, 4}); err != nil || p.Value != 7 {
		t.Fatalf("echo = %+v, %v", p, err)
	}
	failing, err := serving.Load(ctx, servingtest.Spec{FailRate: 1}.Descriptor("m", 3))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := failing.Predict(ctx, nil); !errors.Is(err, servingtest.ErrInjected) {
		t.Fatalf("fail_rate 1: %v", err)
	}
}

func TestFakeCountsAndFails(t *testing.T) {
	ctx := context.Background()
	f := &servingtest.Fake{FailRate: 0.5, Seed: 7}
	var failed int
	for range 1000 {
		if _, err := f.Predict(ctx, nil); errors.Is(err, servingtest.ErrInjected) {
			failed++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	// Binomial(1000, 0.5): 400..600 is more than six standard deviations.
	if failed < 400 || failed > 600 || f.Calls() != 1000 || f.Active() != 0 {
		t.Fatalf("%d of %d calls failed, %d active", failed, f.Calls(), f.Active())
	}
	never := &servingtest.Fake{Output: serving.Prediction{Value: 3}}
	for range 100 {
		if p, err := never.Predict(ctx, nil); err != nil || p.Value != 3 {
			t.Fatalf("FailRate 0: %+v, %v", p, err)
		}
	}
}

func TestFakeHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &servingtest.Fake{Latency: servingtest.Forever}
	done := make(chan error, 1)
	go func() {
		_, err := f.Predict(ctx, nil)
		done <- err
	}()
	for f.Active() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
}

// TestLogNormalQuantiles draws from a seeded LogNormal: the sample median
// and 99th percentile land near the ones asked for. The seed makes the
// draw, and so the test, deterministic.
func TestLogNormalQuantiles(t *testing.T) {
	l := servingtest.LogNormal(10*time.Millisecond, 200*time.Millisecond)
	r := newRand(1)
	d := make([]time.Duration, 20001)
	for i := range d {
		d[i] = l.Next(r)
	}
	slices.Sort(d)
	med, p99 := d[len(d)/2], d[len(d)*99/100]
	if med < 9*time.Millisecond || med > 11*time.Millisecond || p99 < 170*time.Millisecond || p99 > 230*time.Millisecond {
		t.Fatalf("median %v, p99 %v; want about 10ms and 200ms", med, p99)
	}
	for _, bad := range [][2]time.Duration{{0, time.Second}, {2 * time.Second, time.Second}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("LogNormal(%v, %v) did not panic", bad[0], bad[1])
				}
			}()
			servingtest.LogNormal(bad[0], bad[1])
		}()
	}
}

// recorder is a servingtest.T that keeps the reported failures.
type recorder struct{ errs []string }

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestAssertModel(t *testing.T) {
	res := serving.Result{Provenance: serving.Provenance{Model: serving.ModelRef{Name: "m", Version: 2}}}
	for _, c := range []struct {
		name    string
		version uint64
		ok      bool
	}{{"m", 2, true}, {"m", 1, false}, {"n", 2, false}} {
		var r recorder
		if got := servingtest.AssertModel(&r, res, c.name, c.version); got != c.ok || (len(r.errs) == 0) != c.ok {
			t.Errorf("AssertModel(%s@v%d) = %v, reported %q", c.name, c.version, got, r.errs)
		}
	}
}

func TestAssertDecision(t *testing.T) {
	a, b := serving.ModelRef{Name: "fast", Version: 1}, serving.ModelRef{Name: "big", Version: 7}
	won := func(winner int, model serving.ModelRef) serving.Result {
		return serving.Result{Provenance: serving.Provenance{Model: model, Decision: &serving.Decision{
			Combinator: "budget", Winner: winner, Candidates: []serving.Candidate{{Model: a}, {Model: b}}}}}
	}
	for _, c := range []struct {
		name       string
		res        serving.Result
		combinator string
		winner     string
		ok         bool
	}{
		{"match", won(1, b), "budget", "big", true},
		{"other winner", won(0, a), "budget", "big", false},
		{"other combinator", won(1, b), "vote", "big", false},
		{"no decision", serving.Result{Provenance: serving.Provenance{Model: b}}, "budget", "big", false},
		{"no winner", won(-1, b), "budget", "big", false},
		{"winner out of range", won(2, b), "budget", "big", false},
		{"result disagrees with decision", won(1, a), "budget", "big", false},
	} {
		var r recorder
		if got := servingtest.AssertDecision(&r, c.res, c.combinator, c.winner); got != c.ok || (len(r.errs) == 0) != c.ok {
			t.Errorf("%s: AssertDecision = %v, reported %q", c.name, got, r.errs)
		}
	}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }
