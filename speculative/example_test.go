package speculative_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/speculative"
)

// fake returns a scorer answering label with confidence conf after lat.
func fake(name, label string, conf float64, lat time.Duration) serving.Scorer {
	f := &servingtest.Fake{Output: serving.Prediction{Label: label, Confidence: conf}, Latency: servingtest.Fixed(lat)}
	return f.Scorer(name, 1)
}

// Five models vote; the majority label wins, answered by its most
// confident voter.
func ExampleVote() {
	models := []serving.Scorer{
		fake("a", "fraud", 0.71, 0),
		fake("b", "ok", 0.95, 0),
		fake("c", "fraud", 0.64, 0),
		fake("d", "ok", 0.55, 0),
		fake("e", "fraud", 0.88, 0),
	}
	vote, err := speculative.NewEnsemble(speculative.Vote(), models)
	if err != nil {
		panic(err)
	}
	res, err := vote.Score(context.Background(), serving.Record{Features: []float64{1, 2}})
	if err != nil {
		panic(err)
	}
	d := res.Provenance.Decision
	fmt.Println(res.Label, "from", res.Provenance.Model, "by", d.Decider)
	// Output: fraud from e@v1 by vote
}

// A budget over a fast fallback and a model that never answers in time:
// the fallback answers, and the straggler is recorded as late. (The budget
// is generous only so that the example's output holds on a busy machine.)
func ExampleBudget() {
	budget, err := speculative.NewBudget(300*time.Millisecond,
		fake("linear", "ok", 0.6, 0),
		// The deep model answers a second in: late for the budget, yet soon
		// enough that a Budget which waited for it would change this
		// output rather than hang the package's tests.
		[]serving.Scorer{fake("deep", "fraud", 0.9, time.Second)})
	if err != nil {
		panic(err)
	}
	res, err := budget.Score(context.Background(), serving.Record{Features: []float64{1, 2}})
	if err != nil {
		panic(err)
	}
	for _, c := range res.Provenance.Decision.Candidates {
		fmt.Println(c.Model, c.Status)
	}
	fmt.Println("answer:", res.Label, "from", res.Provenance.Model)
	// Output:
	// linear@v1 ok
	// deep@v1 late
	// answer: ok from linear@v1
}

// A 90/10 canary routes each key to the same variant every time.
func ExampleSplit() {
	split, err := speculative.NewSplit([]speculative.Variant{
		{Name: "control", Scorer: fake("model", "ok", 0.6, 0), Weight: 90},
		{Name: "canary", Scorer: fake("model-next", "ok", 0.6, 0), Weight: 10},
	})
	if err != nil {
		panic(err)
	}
	for _, key := range []string{"alice", "bob", "carol", "dave", "erin", "frank"} {
		res, err := split.Score(context.Background(), serving.Record{Key: []byte(key), Features: []float64{1}})
		if err != nil {
			panic(err)
		}
		fmt.Println(key, res.Provenance.Decision.Variant, res.Provenance.Model)
	}
	// Output:
	// alice control model@v1
	// bob canary model-next@v1
	// carol control model@v1
	// dave control model@v1
	// erin control model@v1
	// frank canary model-next@v1
}

// Blue/green: promote the standby, then roll back.
func ExampleSwitch() {
	sw, err := speculative.NewSwitch(fake("model", "v1", 0.6, 0), fake("model", "v2", 0.6, 0))
	if err != nil {
		panic(err)
	}
	show := func() {
		res, _ := sw.Score(context.Background(), serving.Record{Features: []float64{1}})
		fmt.Println(res.Provenance.Decision.Variant, res.Label)
	}
	show()
	sw.Promote()
	show()
	if _, err := sw.Rollback(); err != nil {
		panic(err)
	}
	show()
	_, err = sw.Rollback()
	fmt.Println(errors.Is(err, speculative.ErrNothingToRollback))
	// Output:
	// blue v1
	// green v2
	// blue v1
	// true
}
