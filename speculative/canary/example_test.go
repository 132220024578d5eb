package canary_test

import (
	"context"
	"fmt"
	"strconv"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/speculative/canary"
)

func Example() {
	// The champion fails 1% of calls; the new version fails 10%.
	version := func(v uint64, failEvery int) serving.Scorer {
		n := 0
		return serving.ScorerFunc(func(_ context.Context, r serving.Record) (serving.Result, error) {
			n++ // the example is single-threaded
			ref := serving.ModelRef{Name: "fraud", Version: v}
			if n%failEvery == 0 {
				return serving.Result{Provenance: serving.Provenance{Model: ref}}, fmt.Errorf("%v failed", ref)
			}
			return serving.Result{Provenance: serving.Provenance{Model: ref}}, nil
		})
	}
	c, _ := canary.New(version(1, 100), version(2, 10), canary.Seed(1), canary.MinCalls(200))
	ctx := context.Background()
	for i := 0; ; i++ {
		res, err := c.Score(ctx, serving.Record{Key: []byte(strconv.Itoa(i))})
		if err == nil {
			c.Outcome(res.Provenance.Decision.Variant, 0) // every answer right
		}
		if i%1000 == 999 {
			if d := c.Evaluate(ctx); d.Action != canary.Hold {
				fmt.Printf("%s after %d records, the candidate having seen %.1f%%\n", d.Action, i+1, 100*d.Seen)
				break
			}
		}
	}
	// Output:
	// rollback after 19000 records, the candidate having seen 1.1%
}
