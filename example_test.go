package modelstream_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/linear"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/speculative"
)

// The whole idea in one process: a model arrives as data (a Descriptor),
// is hot-swapped for a newer version while the same Scorer keeps
// answering, and a latency budget guarantees an answer from a fast
// fallback when a better but slow model is late. Every result says
// exactly which model version produced it. In a service the Descriptors
// arrive on a Kafka topic through serving/kafka.ModelFeed instead.
func Example() {
	ctx := context.Background()
	srv, _ := serving.NewServer(serving.WithLogger(slog.New(slog.DiscardHandler)))
	defer srv.Close()

	// A trained model is data: here a logistic regression as JSON.
	model := func(version uint64, w float64) serving.Descriptor {
		doc := linear.Document{Kind: linear.KindLogistic, Features: 2,
			Weights: [][]float64{{w, w}}, Bias: []float64{-1}, Classes: []string{"ok", "fraud"}}
		b, _ := doc.Marshal()
		return serving.Descriptor{Name: "fraud", Format: linear.FormatName, Version: version, Bytes: b}
	}
	fast := srv.Model("fraud") // always the live version
	rec := serving.Record{Key: []byte("card-42"), Features: []float64{1, 0.5}}

	srv.Activate(ctx, model(1, 0.2))
	res, _ := fast.Score(ctx, rec)
	fmt.Println(res.Provenance.Model, res.Label)

	srv.Activate(ctx, model(2, 3)) // a retrained version, swapped in live
	res, _ = fast.Score(ctx, rec)
	fmt.Println(res.Provenance.Model, res.Label)

	// A deep model that takes a minute never makes the caller wait:
	// within 500ms the fast model's answer stands in.
	deep := (&servingtest.Fake{Output: serving.Prediction{Label: "fraud"}, Latency: servingtest.Fixed(time.Minute)}).Scorer("deep", 7)
	budget, _ := speculative.NewBudget(500*time.Millisecond, fast, []serving.Scorer{deep})
	res, _ = budget.Score(ctx, rec)
	d := res.Provenance.Decision
	fmt.Println(res.Provenance.Model, d.Combinator, d.Candidates[1].Model, d.Candidates[1].Status)
	// Output:
	// fraud@v1 ok
	// fraud@v2 fraud
	// fraud@v2 budget deep@v7 late
}
