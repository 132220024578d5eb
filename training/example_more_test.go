package training_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/training"
)

// ADWIN keeps a window of recent values that it cuts when its two parts
// differ: here the mean of a stream of errors moves from 0.1 to 0.6.
func ExampleADWIN() {
	ad, err := training.NewADWIN()
	if err != nil {
		panic(err)
	}
	detected := -1
	for i := 0; i < 4000; i++ {
		x := 0.0
		if (i < 2000 && i%10 == 0) || (i >= 2000 && i%5 < 3) {
			x = 1
		}
		if ad.Add(x) && detected < 0 {
			detected = i
		}
	}
	fmt.Println("drift detected:", detected >= 2000 && detected < 2200)
	fmt.Printf("window within the new regime: %v, mean %.2f\n", ad.Len() <= 2000, ad.Mean())
	// Output:
	// drift detected: true
	// window within the new regime: true, mean 0.60
}

// Drift found on the live error of the serving model, by a detector on
// the truth joined to its scores (serving/feedback.Drift), retrains it:
// ReportDrift hands the alarm to the trainer, which resets its learner,
// learns the records that follow and publishes the retrained version.
func ExampleTrainer_ReportDrift() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := serving.NewServer(serving.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	// The stream after the change: y = [x0 < 0].
	var data []training.Sample
	for i := range 1000 {
		x := float64(i%200)/100 - 1
		data = append(data, training.Sample{Features: []float64{x}, Target: map[bool]float64{true: 1}[x < 0]})
	}
	next := 0
	src := training.SourceFunc(func(ctx context.Context) (training.Sample, error) {
		if next == len(data) {
			cancel() // the end of this example's stream: stop without a final version
			return training.Sample{}, ctx.Err()
		}
		next++
		return data[next-1], nil
	})
	l, err := training.NewLearner(training.Logistic, 1)
	if err != nil {
		panic(err)
	}
	tr, err := training.NewTrainer("churn", l, src, training.ServerPublisher(srv), training.RetrainOnDrift(400),
		training.WithLogger(slog.New(slog.DiscardHandler)),
		training.WithObserver(func(e training.Event) {
			if e.Kind == training.EventPublished {
				fmt.Printf("published v%d after %d records, trigger %s\n", e.Descriptor.Version, e.Records, e.Descriptor.Labels[training.LabelTrigger])
			}
		}))
	if err != nil {
		panic(err)
	}
	// The live detector fired on version 0 of "churn" (none is live yet:
	// 0 stands for the current version); a report about another model is
	// refused.
	fmt.Println(tr.ReportDrift(serving.ModelRef{Name: "churn"}), tr.ReportDrift(serving.ModelRef{Name: "fraud"}))
	if err := tr.Run(ctx); err != nil {
		panic(err)
	}
	live, _ := srv.Current("churn")
	m := srv.Model("churn")
	low, _ := m.Score(context.Background(), serving.Record{Features: []float64{-0.5}})
	high, _ := m.Score(context.Background(), serving.Record{Features: []float64{0.5}})
	fmt.Printf("live v%d: P(y=1 | x=-0.5) = %.2f, P(y=1 | x=0.5) = %.2f\n", live.Version, low.Value, high.Value)
	// Output:
	// true false
	// published v1 after 401 records, trigger live_drift
	// live v1: P(y=1 | x=-0.5) = 0.93, P(y=1 | x=0.5) = 0.32
}
