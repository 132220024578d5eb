package speculative_test

import (
	"context"
	"encoding/json"
	"strconv"
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
	res, err := split.Score(context.Background(), rec(key, 1, 2))
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
	b2, err := speculative.NewBudget(200*time.Millisecond, fb, []serving.Scorer{slowVote})
	if err != nil {
		t.Fatal(err)
	}
	res, err = b2.Score(context.Background(), rec("", 1))
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Provenance.Decision.Candidates[1]; c.Model.Name != "slow-committee" || c.Status != serving.StatusLate {
		t.Errorf("late nested candidate %+v", c)
	}
}
