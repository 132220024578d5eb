package speculative_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/speculative"
)

// round builds a Round from (label, confidence, latency) triples; a
// negative latency means "still running", an empty label with confidence
// -1 means "failed".
type cand struct {
	label string
	conf  float64
	lat   time.Duration
}

func round(cs ...cand) *speculative.Round {
	r := &speculative.Round{Candidates: make([]serving.Candidate, len(cs)), Done: make([]bool, len(cs))}
	for i, c := range cs {
		r.Candidates[i].Model = serving.ModelRef{Name: string(rune('a' + i))}
		switch {
		case c.lat < 0:
			r.Pending++
		case c.conf < 0:
			r.Done[i] = true
			r.Candidates[i].Status = serving.StatusError
		default:
			r.Done[i] = true
			r.Candidates[i].Latency = c.lat
			r.Candidates[i].Prediction = &serving.Prediction{Label: c.label, Confidence: c.conf, Value: c.conf}
		}
	}
	return r
}

const running = -1

func TestVoteOverFiveFakes(t *testing.T) {
	labels := []struct {
		label string
		conf  float64
	}{{"cat", 0.6}, {"dog", 0.99}, {"cat", 0.7}, {"bird", 0.8}, {"cat", 0.55}}
	var models []serving.Scorer
	for i, l := range labels {
		_, s := labelled("m"+string(rune('0'+i)), l.label, l.conf, servingtest.Fixed(time.Duration(i)*time.Millisecond))
		models = append(models, s)
	}
	en, err := speculative.NewEnsemble(speculative.Vote(), models, speculative.WithName("five"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := en.Score(context.Background(), rec("", 1))
	if err != nil {
		t.Fatal(err)
	}
	// cat has three votes; its most confident voter is m2.
	if res.Label != "cat" || res.Confidence != 0.7 {
		t.Errorf("vote gave %q (%v), want cat from m2 (0.7)", res.Label, res.Confidence)
	}
	servingtest.AssertDecision(t, res, "ensemble", "m2")
	if d := res.Provenance.Decision; d.Decider != "vote" || len(d.Candidates) != 5 {
		t.Errorf("decision %+v", d)
	}
	if st := en.Stats(); st.Models[2].Wins != 1 || st.Name != "five" {
		t.Errorf("stats %+v", st)
	}
}

func TestVoteDecidesEarly(t *testing.T) {
	// Three of five agree at once; the other two never answer. Vote needs
	// nothing more, so the Ensemble returns and cancels them.
	var models []serving.Scorer
	var slow []*servingtest.Fake
	for i := range 3 {
		_, s := labelled("fast"+string(rune('0'+i)), "yes", 0.6, nil)
		models = append(models, s)
	}
	for i := range 2 {
		f, s := labelled("never"+string(rune('0'+i)), "no", 0.9, servingtest.Forever)
		models = append(models, s)
		slow = append(slow, f)
	}
	en, err := speculative.NewEnsemble(speculative.Vote(speculative.Majority()), models)
	if err != nil {
		t.Fatal(err)
	}
	res, err := en.Score(context.Background(), rec("", 1))
	if err != nil {
		t.Fatal(err)
	}
	if res.Label != "yes" {
		t.Errorf("label %q", res.Label)
	}
	d := res.Provenance.Decision
	if d.Candidates[3].Status != serving.StatusCancelled || d.Candidates[4].Status != serving.StatusCancelled {
		t.Errorf("decision %+v", d)
	}
	waitFor(t, "cancelled voters", 5*time.Second, func() bool { return slow[0].Active()+slow[1].Active() == 0 })
}

func TestVoteTieBreaks(t *testing.T) {
	v := speculative.Vote()
	cases := []struct {
		name   string
		r      *speculative.Round
		winner int
		err    error
	}{
		{"majority", round(cand{"x", .5, 1}, cand{"y", .9, 1}, cand{"x", .6, 1}), 2, nil},
		{"tie broken by summed confidence", round(cand{"x", .5, 1}, cand{"y", .6, 1}, cand{"x", .3, 1}, cand{"y", .3, 1}), 1, nil},
		{"tie on votes and confidence broken by priority", round(cand{"y", .5, 1}, cand{"x", .5, 1}, cand{"x", .5, 1}, cand{"y", .5, 1}), 0, nil},
		{"representative: most confident voter", round(cand{"x", .5, 1}, cand{"x", .8, 1}, cand{"y", .9, 1}), 1, nil},
		{"representative tie: earliest voter", round(cand{"y", .1, 1}, cand{"x", .8, 1}, cand{"x", .8, 1}), 1, nil},
		{"empty labels abstain", round(cand{"", .9, 1}, cand{"", .9, 1}, cand{"x", .2, 1}), 2, nil},
		{"failures do not vote", round(cand{"", -1, 1}, cand{"", -1, 1}, cand{"z", .2, 1}), 2, nil},
		{"no votes at all", round(cand{"", .9, 1}, cand{"", -1, 1}), -1, speculative.ErrNoQuorum},
		{"a possible tie waits", round(cand{"x", .9, 1}, cand{"y", .1, running}), -1, nil},
		{"an unbeatable lead decides", round(cand{"x", .9, 1}, cand{"x", .1, 1}, cand{"y", .1, running}), 0, nil},
	}
	for _, c := range cases {
		w, err := v.Decide(c.r)
		if w != c.winner || !errors.Is(err, c.err) {
			t.Errorf("%s: got (%d, %v), want (%d, %v)", c.name, w, err, c.winner, c.err)
		}
	}
}

func TestVoteQuorum(t *testing.T) {
	q2 := speculative.Vote(speculative.Quorum(2))
	if w, err := q2.Decide(round(cand{"x", .9, 1}, cand{"y", .9, 1}, cand{"z", .9, 1})); w != -1 || !errors.Is(err, speculative.ErrNoQuorum) {
		t.Errorf("quorum 2 over three different labels: (%d, %v)", w, err)
	}
	if w, err := q2.Decide(round(cand{"x", .9, 1}, cand{"y", .9, 1}, cand{"x", .1, running})); w != -1 || err != nil {
		t.Errorf("quorum 2 still reachable: (%d, %v), want to wait", w, err)
	}
	q3 := speculative.Vote(speculative.Quorum(3))
	if w, err := q3.Decide(round(cand{"x", .9, 1}, cand{"y", .9, 1}, cand{"", -1, 1}, cand{"z", .1, running})); w != -1 || !errors.Is(err, speculative.ErrNoQuorum) {
		t.Errorf("quorum 3 unreachable early (1 vote + 1 pending): (%d, %v), want ErrNoQuorum", w, err)
	}
	maj := speculative.Vote(speculative.Majority())
	// 2 of 4 is not a majority, even though it is a plurality.
	if w, err := maj.Decide(round(cand{"x", .9, 1}, cand{"x", .9, 1}, cand{"y", .1, 1}, cand{"", -1, 1})); w != -1 || !errors.Is(err, speculative.ErrNoQuorum) {
		t.Errorf("majority: (%d, %v)", w, err)
	}
	byValue := speculative.Vote(speculative.LabelBy(func(p serving.Prediction) string {
		if p.Value >= 0.5 {
			return "high"
		}
		return "low"
	}))
	if w, _ := byValue.Decide(round(cand{"", .9, 1}, cand{"", .2, 1}, cand{"", .7, 1})); w != 0 {
		t.Errorf("LabelBy: winner %d, want 0", w)
	}
}

func TestVoteInsideBudgetFallsBackWithoutQuorum(t *testing.T) {
	_, fbs := labelled("fb", "maybe", 0.5, nil)
	_, a := labelled("a", "x", 0.9, nil)
	_, b := labelled("b", "y", 0.9, nil)
	bud, err := speculative.NewBudget(time.Minute, fbs, []serving.Scorer{a, b}, speculative.WithDecider(speculative.Vote(speculative.Quorum(2))))
	if err != nil {
		t.Fatal(err)
	}
	res, err := scoreWithin(t, bud, context.Background(), rec("", 1))
	if err != nil {
		t.Fatal(err)
	}
	servingtest.AssertDecision(t, res, "budget", "fb")
	en, err := speculative.NewEnsemble(speculative.Vote(speculative.Quorum(2)), []serving.Scorer{a, b})
	if err != nil {
		t.Fatal(err)
	}
	res, err = en.Score(context.Background(), rec("", 1))
	if !errors.Is(err, speculative.ErrNoQuorum) || res.Provenance.Decision == nil || res.Provenance.Decision.Winner != -1 {
		t.Errorf("ensemble without quorum: %v, %+v", err, res.Provenance.Decision)
	}
}

func TestFirstPriorityBest(t *testing.T) {
	r := round(cand{"x", .2, 9}, cand{"y", .9, 3}, cand{"z", .5, 3}, cand{"", -1, 1})
	if w, _ := speculative.First().Decide(r); w != 1 {
		t.Errorf("First: %d, want 1 (fastest, earliest on ties)", w)
	}
	if w, _ := speculative.Priority().Decide(r); w != 0 {
		t.Errorf("Priority: %d, want 0", w)
	}
	if w, _ := speculative.Priority().Decide(round(cand{"", -1, 1}, cand{"y", .9, running}, cand{"z", .5, 1})); w != -1 {
		t.Errorf("Priority must wait for the better model: %d", w)
	}
	if w, _ := speculative.Best().Decide(r); w != 1 {
		t.Errorf("Best: %d, want 1", w)
	}
	if w, _ := speculative.Best().Decide(round(cand{"x", .2, 1}, cand{"y", .9, running})); w != -1 {
		t.Errorf("Best must wait: %d", w)
	}
	lowest := speculative.BestBy(func(p serving.Prediction) float64 { return -p.Value })
	if w, _ := lowest.Decide(r); w != 0 {
		t.Errorf("BestBy: %d, want 0", w)
	}
	nan := speculative.BestBy(func(p serving.Prediction) float64 {
		if p.Label == "y" {
			return math.NaN()
		}
		return p.Value
	})
	if w, _ := nan.Decide(r); w != 2 {
		t.Errorf("BestBy with NaN: %d, want 2", w)
	}
	if w, _ := speculative.First().Decide(round(cand{"", -1, 1})); w != -1 {
		t.Errorf("First over failures: %d", w)
	}
}

func TestBestEnsemble(t *testing.T) {
	_, a := labelled("a", "x", 0.6, nil)
	_, b := labelled("b", "y", 0.95, servingtest.Fixed(2*time.Millisecond))
	_, c := labelled("c", "z", 0.7, nil)
	en, err := speculative.NewEnsemble(speculative.Best(), []serving.Scorer{a, b, c})
	if err != nil {
		t.Fatal(err)
	}
	res, err := en.Score(context.Background(), rec("", 1))
	if err != nil {
		t.Fatal(err)
	}
	servingtest.AssertDecision(t, res, "ensemble", "b")
	if res.Provenance.Decision.Decider != "best" {
		t.Errorf("decider %q", res.Provenance.Decision.Decider)
	}
}
