package speculative_test

import (
	"context"
	"fmt"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/speculative"
)

// A shadow model sees the same traffic as the live one but never changes
// an answer; an observer compares the two, off the scoring path.
func ExampleShadow() {
	seen := make(chan string, 1)
	shadow, err := speculative.NewShadow(fake("live", "ok", 0.9, 0), []serving.Scorer{fake("next", "fraud", 0.8, 0)},
		speculative.WithObserver(func(o speculative.Observation) {
			seen <- fmt.Sprintf("%s said %s where %s said %s",
				o.Model, o.Result.Label, o.Primary.Provenance.Model, o.Primary.Label)
		}))
	if err != nil {
		panic(err)
	}
	res, err := shadow.Score(context.Background(), serving.Record{Features: []float64{1}})
	if err != nil {
		panic(err)
	}
	fmt.Println("answer:", res.Label, "from", res.Provenance.Model)
	fmt.Println(<-seen)
	shadow.Close()
	// Output:
	// answer: ok from live@v1
	// next@v1 said fraud where live@v1 said ok
}

// A Decider of one's own: take the first candidate that answers "fraud",
// or else the first answer once every candidate is done. Unnamed scorers
// are named by their place in the combinator.
func ExampleDeciderFunc() {
	fraudFirst := speculative.DeciderFunc(func(r *speculative.Round) (int, error) {
		for i, c := range r.Candidates {
			if r.Done[i] && c.Status == serving.StatusOK && c.Prediction.Label == "fraud" {
				return i, nil
			}
		}
		if r.Pending > 0 {
			return -1, nil // wait for more
		}
		for i, c := range r.Candidates {
			if c.Status == serving.StatusOK {
				return i, nil
			}
		}
		return -1, nil
	})
	unnamed := serving.ScorerFunc(func(context.Context, serving.Record) (serving.Result, error) {
		return serving.Result{Prediction: serving.Prediction{Label: "fraud"}}, nil
	})
	en, err := speculative.NewEnsemble(fraudFirst, []serving.Scorer{fake("a", "ok", 0.9, 0), unnamed}, speculative.WithName("fraud-first"))
	if err != nil {
		panic(err)
	}
	res, err := en.Score(context.Background(), serving.Record{Features: []float64{1}})
	if err != nil {
		panic(err)
	}
	d := res.Provenance.Decision
	fmt.Println(res.Label, "from candidate", d.Winner, "by", d.Decider)
	fmt.Println(en.Stats().Models[1].Model)
	// Output:
	// fraud from candidate 1 by custom
	// fraud-first[1]
}
