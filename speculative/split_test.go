package speculative_test

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/speculative"
)

func newCanary(t *testing.T, control, canary float64, opts ...speculative.SplitOption) *speculative.Split {
	t.Helper()
	_, a := labelled("control", "a", 0.5, nil)
	_, b := labelled("canary", "b", 0.5, nil)
	s, err := speculative.NewSplit([]speculative.Variant{
		{Name: "control", Scorer: a, Weight: control},
		{Name: "canary", Scorer: b, Weight: canary},
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSplitNinetyTenOver100kKeys(t *testing.T) {
	s := newCanary(t, 90, 10)
	const n = 100_000
	canary := 0
	routes := make([]int, n)
	for i := range n {
		routes[i] = s.Route(serving.Record{Key: []byte("user-" + strconv.Itoa(i))})
		canary += routes[i]
	}
	if share := float64(canary) / n; math.Abs(share-0.10) > 0.01 {
		t.Errorf("canary share %.4f, want 0.10 ± 0.01", share)
	}
	// Sticky: the same key always sees the same variant.
	for i := 0; i < n; i += 97 {
		for range 3 {
			if got := s.Route(serving.Record{Key: []byte("user-" + strconv.Itoa(i))}); got != routes[i] {
				t.Fatalf("key user-%d routed to %d, then to %d", i, routes[i], got)
			}
		}
	}
	// Weights change: 50/50 lands near half, and no key leaves the canary
	// (its slice only grew).
	if err := s.SetWeights(50, 50); err != nil {
		t.Fatal(err)
	}
	canary = 0
	for i := range n {
		r := s.Route(serving.Record{Key: []byte("user-" + strconv.Itoa(i))})
		canary += r
		if routes[i] == 1 && r != 1 {
			t.Fatalf("key user-%d left the canary when it grew", i)
		}
	}
	if share := float64(canary) / n; math.Abs(share-0.5) > 0.01 {
		t.Errorf("canary share after SetWeights(50, 50): %.4f", share)
	}
}

// The hash is part of the contract: these values, computed independently
// (FNV-1a 64, then the MurmurHash3 finaliser), must never change, or
// every sticky user would move.
func TestKeyHashGolden(t *testing.T) {
	for key, want := range map[string]uint64{
		"":        0xefd01f60ba992926,
		"user-42": 0xa39532c7ab051e8d,
		"alice":   0x3507d047a67c08f4,
	} {
		if got := speculative.KeyHash([]byte(key)); got != want {
			t.Errorf("KeyHash(%q) = %#x, want %#x", key, got, want)
		}
	}
}

func TestSplitScoreRecordsVariant(t *testing.T) {
	s := newCanary(t, 0, 1) // everything to the canary
	res, err := s.Score(context.Background(), rec("k", 1))
	if err != nil {
		t.Fatal(err)
	}
	servingtest.AssertDecision(t, res, "split", "canary")
	d := res.Provenance.Decision
	if d.Variant != "canary" || d.Candidates[0].Status != serving.StatusSkipped || d.Candidates[0].Model.Name != "control" || d.Candidates[1].Status != serving.StatusOK {
		t.Errorf("decision %+v", d)
	}
	if st := s.Stats(); st.Models[1].Wins != 1 || st.Models[0].Skipped != 1 || st.Models[1].Role != "canary" {
		t.Errorf("stats %+v", st)
	}
	if w := s.Weights(); w[0] != 0 || w[1] != 1 {
		t.Errorf("weights %v", w)
	}
}

func TestSplitRejectsBadWeightsAtomically(t *testing.T) {
	s := newCanary(t, 90, 10)
	for _, w := range [][]float64{{1}, {-1, 2}, {0, 0}, {math.NaN(), 1}, {math.Inf(1), 1}} {
		if err := s.SetWeights(w...); !errors.Is(err, serving.ErrConfig) {
			t.Errorf("SetWeights(%v) = %v", w, err)
		}
	}
	if w := s.Weights(); w[0] != 90 || w[1] != 10 {
		t.Errorf("weights changed to %v by rejected calls", w)
	}
}

func TestSplitWithoutKeyIsSeeded(t *testing.T) {
	a := newCanary(t, 50, 50, speculative.WithSeed(7))
	b := newCanary(t, 50, 50, speculative.WithSeed(7))
	canary := 0
	for range 10_000 {
		ra, rb := a.Route(serving.Record{}), b.Route(serving.Record{})
		if ra != rb {
			t.Fatal("same seed, different routes")
		}
		canary += ra
	}
	if canary < 4700 || canary > 5300 {
		t.Errorf("unkeyed 50/50 gave %d of 10000 to the canary", canary)
	}
}

func TestSplitWeightsChangeUnderLoad(t *testing.T) {
	s := newCanary(t, 90, 10)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				res, err := s.Score(context.Background(), rec(strconv.Itoa(w*10000+i), 1))
				if err != nil || res.Provenance.Decision.Winner < 0 {
					t.Errorf("score: %v", err)
					return
				}
			}
		}()
	}
	for i := range 200 {
		if err := s.SetWeights(float64(100-i%100), float64(i%100)); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if st := s.Stats(); st.Invocations != 8000 || st.Models[0].Wins+st.Models[1].Wins != 8000 {
		t.Errorf("stats %+v", st)
	}
}

func TestSwitchPromoteRollbackStage(t *testing.T) {
	_, blue := labelled("m", "v1", 0.5, nil)
	_, green := labelled("m2", "v2", 0.5, nil)
	sw, err := speculative.NewSwitch(blue, green)
	if err != nil {
		t.Fatal(err)
	}
	label := func() string {
		res, err := sw.Score(context.Background(), rec("", 1))
		if err != nil {
			t.Fatal(err)
		}
		d := res.Provenance.Decision
		if d.Variant != sw.Live() || d.Candidates[d.Winner].Status != serving.StatusOK || d.Candidates[1-d.Winner].Status != serving.StatusSkipped {
			t.Errorf("decision %+v, live %s", d, sw.Live())
		}
		return res.Label
	}
	if _, err := sw.Rollback(); !errors.Is(err, speculative.ErrNothingToRollback) {
		t.Errorf("rollback before promote: %v", err)
	}
	if label() != "v1" || sw.Live() != speculative.Blue {
		t.Error("blue should start live")
	}
	if sw.Promote() != speculative.Green || label() != "v2" {
		t.Error("promote should make green live")
	}
	if live, err := sw.Rollback(); err != nil || live != speculative.Blue || label() != "v1" {
		t.Errorf("rollback: %s, %v", live, err)
	}
	if _, err := sw.Rollback(); !errors.Is(err, speculative.ErrNothingToRollback) {
		t.Errorf("second rollback: %v", err)
	}
	_, green3 := labelled("m3", "v3", 0.5, nil)
	if name, err := sw.Stage(green3); err != nil || name != speculative.Green {
		t.Fatalf("stage: %s, %v", name, err)
	}
	sw.Promote()
	if label() != "v3" {
		t.Error("staged green should be live after promote")
	}
	if st := sw.Stats(); st.Invocations != 4 || st.Models[1].Model.Name != "m3" || st.Models[0].Wins != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestSwitchUnderLoad(t *testing.T) {
	_, blue := labelled("blue", "v1", 0.5, nil)
	_, green := labelled("green", "v2", 0.5, nil)
	sw, err := speculative.NewSwitch(blue, green)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				res, err := sw.Score(context.Background(), rec("", 1))
				if err != nil {
					t.Error(err)
					return
				}
				// The label always matches the variant that answered.
				if (res.Label == "v1") != (res.Provenance.Decision.Variant == speculative.Blue) {
					t.Errorf("label %s from variant %s", res.Label, res.Provenance.Decision.Variant)
					return
				}
			}
		}()
	}
	for range 500 {
		sw.Promote()
	}
	wg.Wait()
}

// An empty key identifies no entity: such records are routed like
// keyless ones, not all to the variant that the empty string hashes to.
func TestSplitEmptyKeyIsNoKey(t *testing.T) {
	s := newCanary(t, 50, 50, speculative.WithSeed(3))
	canary := 0
	for range 10_000 {
		canary += s.Route(serving.Record{Key: []byte{}})
	}
	if canary < 4700 || canary > 5300 {
		t.Errorf("records with an empty key: %d of 10000 to the canary, want about half", canary)
	}
}

// TestSplitKeysMovedByNewWeights checks what the Split documentation
// says a change of weights moves. Variants take consecutive slices of
// [0, 1) in the order given, so new weights move the keys between each
// boundary's old and new place. With two variants, growing the second
// moves keys only from the first to it. With three, growing the last
// from 10% to 20% while the first shrinks from 80% to 70% also moves
// the middle boundary: a tenth of the keys go from the first to the
// second variant and a tenth from the second to the third, so the
// middle variant's keys change although its share does not. Putting
// the growing variant right after the one it takes its share from
// moves only those keys.
func TestSplitKeysMovedByNewWeights(t *testing.T) {
	const n = 20000
	moved := func(names []string, before, after []float64) map[string]int {
		t.Helper()
		vs := make([]speculative.Variant, len(names))
		for i, name := range names {
			_, sc := labelled(name, name, 0.5, nil)
			vs[i] = speculative.Variant{Name: name, Scorer: sc, Weight: before[i]}
		}
		s, err := speculative.NewSplit(vs)
		if err != nil {
			t.Fatal(err)
		}
		route := func() []string {
			out := make([]string, n)
			for i := range out {
				res, err := s.Score(context.Background(), rec("user-"+strconv.Itoa(i), 1))
				if err != nil {
					t.Fatal(err)
				}
				out[i] = res.Provenance.Decision.Variant
			}
			return out
		}
		was := route()
		if err := s.SetWeights(after...); err != nil {
			t.Fatal(err)
		}
		moves := map[string]int{}
		for i, v := range route() {
			if v != was[i] {
				moves[was[i]+"->"+v]++
			}
		}
		return moves
	}
	near := func(got int, share float64) bool { return math.Abs(float64(got)-share*n) < 0.02*n }
	check := func(what string, moves map[string]int, want map[string]float64) {
		t.Helper()
		for k, share := range want {
			if !near(moves[k], share) {
				t.Errorf("%s: %s moved %d of %d keys, want about %.0f%%", what, k, moves[k], n, 100*share)
			}
		}
		for k, c := range moves {
			if _, ok := want[k]; !ok {
				t.Errorf("%s: %d keys moved %s", what, c, k)
			}
		}
	}
	check("two variants", moved([]string{"control", "canary"}, []float64{90, 10}, []float64{80, 20}),
		map[string]float64{"control->canary": 0.10})
	check("canary last of three", moved([]string{"control", "other", "canary"}, []float64{80, 10, 10}, []float64{70, 10, 20}),
		map[string]float64{"control->other": 0.10, "other->canary": 0.10})
	check("canary right after control", moved([]string{"other", "control", "canary"}, []float64{10, 80, 10}, []float64{10, 70, 20}),
		map[string]float64{"control->canary": 0.10})
}
