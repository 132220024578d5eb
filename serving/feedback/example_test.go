package feedback_test

import (
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/feedback"
	"github.com/modelstream/modelstream/serving/quality"
	"github.com/modelstream/modelstream/serving/wire"
)

// A Joiner pairs each label with the score of the same key, whichever
// arrives first, and Observe feeds the pairs to a quality.Tracker.
// feedbackkafka does the same from two Kafka topics.
func ExampleJoiner() {
	j, err := feedback.NewJoiner(time.Hour, 10_000) // labels may come an hour after their score
	if err != nil {
		log.Fatal(err)
	}
	tr, err := quality.NewTracker(100)
	if err != nil {
		log.Fatal(err)
	}
	observe, err := feedback.Observe(tr, feedback.Binary)
	if err != nil {
		log.Fatal(err)
	}

	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	model := serving.ModelRef{Name: "fraud", Version: 3}
	score := func(key string, p float64) wire.Score {
		label := "0"
		if p >= 0.5 {
			label = "1"
		}
		return wire.Score{Key: key, Prediction: serving.Prediction{Value: p, Label: label, Confidence: max(p, 1-p)},
			Provenance: serving.Provenance{Model: model}}
	}
	// Scores as the Sink writes them to the scores topic.
	j.AddScore("order-1", score("order-1", 0.9), t0)
	j.AddScore("order-2", score("order-2", 0.2), t0)
	j.AddScore("order-3", score("order-3", 0.7), t0)

	// Labels from the feedback topic, later: order-3 was not fraud.
	for _, l := range []feedback.Label{
		{Key: "order-1", Value: 1, Time: t0.Add(time.Minute)},
		{Key: "order-3", Value: 0, Time: t0.Add(2 * time.Minute)},
		{Key: "order-9", Value: 1, Time: t0.Add(3 * time.Minute)}, // its score may still come: it waits
	} {
		if m, ok := j.AddLabel(l); ok {
			if err := observe(m); err != nil {
				log.Fatal(err)
			}
			fmt.Printf("%s: predicted %s, truth %v\n", m.Label.Key, m.Score.Label, m.Label.Value)
		}
	}

	st := j.Stats()
	fmt.Printf("joined %d, scores waiting %d (order-2), labels waiting %d (order-9)\n", st.Joined, st.PendingScores, st.PendingLabels)
	for _, s := range tr.Snapshot() {
		fmt.Printf("%s@v%d accuracy %.2f over %d\n", s.Model, s.Version, s.Accuracy.Value, s.Accuracy.N)
	}
	// Output:
	// order-1: predicted 1, truth 1
	// order-3: predicted 1, truth 0
	// joined 2, scores waiting 1 (order-2), labels waiting 1 (order-9)
	// fraud@v3 accuracy 0.50 over 2
}

// Feedback that names the true class ("red") is read by name: the
// classes are given in the order of the model's outputs, and a name
// outside them is refused, counted, and reported as a refused outcome (serving.ErrOutcome).
func ExampleObserve_classes() {
	tr, err := quality.NewTracker(10)
	if err != nil {
		log.Fatal(err)
	}
	observe, err := feedback.Observe(tr, feedback.Multiclass, "red", "white", "rose")
	if err != nil {
		log.Fatal(err)
	}
	model := serving.Provenance{Model: serving.ModelRef{Name: "wine", Version: 2}}
	// The model says "white", with these probabilities of red, white, rose.
	p := serving.Prediction{Values: []float64{0.2, 0.7, 0.1}, Label: "white"}
	for _, truth := range []string{"white", "red", "green"} {
		err := observe(feedback.Match{Score: wire.Score{Prediction: p, Provenance: model}, Label: feedback.Label{Class: truth}})
		fmt.Printf("%s: refused %v\n", truth, errors.Is(err, serving.ErrOutcome))
	}
	s := tr.Snapshot()[0]
	fmt.Printf("accuracy %.2f over %d, log-loss %.3f, refused %d\n", s.Accuracy.Value, s.Accuracy.N, s.LogLoss.Value, s.Refused)
	// Output:
	// white: refused false
	// red: refused false
	// green: refused true
	// accuracy 0.50 over 2, log-loss 0.983, refused 1
}
