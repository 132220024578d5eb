package speculative_test

import (
	"context"
	"encoding/json"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/speculative"
)

// A Vote inside a Budget inside a Split: the provenance records all three
// levels, and JSON round-trips them.
func TestNestedVoteInBudgetInSplit(t *testing.T) {
	var voters []serving.Scorer
	for i, l := range []string{"spam", "ham", "spam", "spam", "ham"} {
		_, s := labelled("voter"+strconv.Itoa(i), l, 0.6+float64(i)/100, servingtest.Fixed(time.Duration(i)*time.Millisecond))
		voters = append(voters, s)
	}
	vote, err := speculative.NewEnsemble(speculative.Vote(), voters, speculative.WithName("committee"))
	if err != nil {
		t.Fatal(err)
	}
	_, fb := labelled("linear", "ham", 0.51, nil)
	budget, err := speculative.NewBudget(time.Second, fb, []serving.Scorer{vote})
	if err != nil {
		t.Fatal(err)
	}
	_, canary := labelled("canary", "spam", 0.7, nil)
	split, err := speculative.NewSplit([]speculative.Variant{
		{Name: "control", Scorer: budget, Weight: 90},
		{Name: "canary", Scorer: canary, Weight: 10},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Find a key that goes to the control.
	key := ""
	for i := 0; key == ""; i++ {
		if k := "user-" + strconv.Itoa(i); split.Route(serving.Record{Key: []byte(k)}) == 0 {
			key = k
		}
	}
	res, err := scoreWithin(t, split, context.Background(), rec(key, 1, 2))
	if err != nil {
		t.Fatal(err)
	}
	// The answer is voter3's: spam wins 3 to 2 and voter3 is its most
	// confident voter.
	if res.Label != "spam" {
		t.Errorf("label %q", res.Label)
	}
	servingtest.AssertDecision(t, res, "split", "voter3")
	top := res.Provenance.Decision
	if top.Variant != "control" || top.Candidates[1].Status != serving.StatusSkipped || top.Candidates[1].Model.Name != "canary" {
		t.Errorf("split decision %+v", top)
	}
	bd := top.Candidates[0].Decision
	if bd == nil || bd.Combinator != "budget" || bd.Decider != "first" || bd.Winner != 1 || bd.Candidates[0].Model.Name != "linear" {
		t.Fatalf("budget decision %+v", bd)
	}
	vd := bd.Candidates[1].Decision
	if vd == nil || vd.Combinator != "ensemble" || vd.Decider != "vote" || len(vd.Candidates) != 5 || vd.Candidates[vd.Winner].Model.Name != "voter3" {
		t.Fatalf("vote decision %+v", vd)
	}
	if bd.Candidates[1].Model.Name != "voter3" || bd.Candidates[1].Prediction.Label != "spam" {
		t.Errorf("budget candidate for the vote %+v", bd.Candidates[1])
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back serving.Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if got := back.Provenance.Decision.Candidates[0].Decision.Candidates[1].Decision.Candidates[3].Model.Name; got != "voter3" {
		t.Errorf("JSON round trip lost the nested decision: %s", b)
	}
	// A late nested combinator is named by its WithName.
	slowVote, err := speculative.NewEnsemble(speculative.Vote(), []serving.Scorer{func() serving.Scorer {
		_, s := labelled("never", "x", 1, servingtest.Forever)
		return s
	}()}, speculative.WithName("slow-committee"))
	if err != nil {
		t.Fatal(err)
	}
	b2, err := speculative.NewBudget(500*time.Millisecond, fb, []serving.Scorer{slowVote})
	if err != nil {
		t.Fatal(err)
	}
	res, err = scoreWithin(t, b2, context.Background(), rec("", 1))
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Provenance.Decision.Candidates[1]; c.Model.Name != "slow-committee" || c.Status != serving.StatusLate {
		t.Errorf("late nested candidate %+v", c)
	}
}

// Stragglers of a nested Ensemble are cancelled with the Budget around
// it, and every goroutine ends.
func TestNestedStragglersEnd(t *testing.T) {
	base := runtime.NumGoroutine()
	var voters []serving.Scorer
	var fakes []*servingtest.Fake
	for i := range 3 {
		f, s := labelled("never"+strconv.Itoa(i), "x", 0.9, servingtest.Forever)
		voters = append(voters, s)
		fakes = append(fakes, f)
	}
	vote, err := speculative.NewEnsemble(speculative.Vote(), voters)
	if err != nil {
		t.Fatal(err)
	}
	_, fb := labelled("fb", "y", 0.5, nil)
	bud, err := speculative.NewBudget(300*time.Millisecond, fb, []serving.Scorer{vote})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				res, err := bud.Score(context.Background(), rec("", 1))
				if err != nil || res.Provenance.Model.Name != "fb" {
					t.Errorf("%v %+v", err, res.Provenance)
				}
			}
		}()
	}
	waitGroupWithin(t, &wg, "the callers", hangLimit)
	waitFor(t, "nested voters to be cancelled", 5*time.Second, func() bool {
		return fakes[0].Active()+fakes[1].Active()+fakes[2].Active() == 0
	})
	waitGoroutines(t, base, 5*time.Second)
	if st := vote.Stats(); st.Invocations != 12 || st.Errors != 12 || st.Models[0].Cancelled != 12 {
		t.Errorf("inner stats %+v", st)
	}
}

// The fan-out allocates the Decision block, the context, and one
// goroutine per model; the rest is pooled.
func TestBudgetAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	for _, n := range []int{1, 3, 5} {
		var others []serving.Scorer
		for i := 1; i < n; i++ {
			_, s := labelled("m"+strconv.Itoa(i), "x", 0.9, nil)
			others = append(others, s)
		}
		_, fb := labelled("fb", "x", 0.5, nil)
		bud, err := speculative.NewBudget(time.Second, fb, others)
		if err != nil {
			t.Fatal(err)
		}
		r := rec("k", 1, 2, 3)
		allocs := testing.AllocsPerRun(200, func() {
			if _, err := bud.Score(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			// Let the cancelled candidates finish and give the flight
			// back, as they do between records of a stream. (A call
			// made while the last one's stragglers still run takes a
			// fresh flight: three more allocations.)
			time.Sleep(200 * time.Microsecond)
		})
		// n+3 measured; one more allowed for a pool emptied by a GC.
		t.Logf("%d models: %.2f allocations per call", n, allocs)
		if allocs > float64(n+4) {
			t.Errorf("%d models: %.1f allocations per call, want at most %d", n, allocs, n+4)
		}
	}
}
