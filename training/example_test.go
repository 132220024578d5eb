package training_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"

	"github.com/modelstream/modelstream/serving"
	_ "github.com/modelstream/modelstream/serving/formats/linear"
	"github.com/modelstream/modelstream/training"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// A linear learner fits y = 3x - 1 from a stream, exactly (it solves
// least squares as it goes), and its snapshot is loaded and served like
// any other model.
func Example() {
	l, err := training.NewLearner(training.Linear, 1)
	if err != nil {
		panic(err)
	}
	for i := 0; i < 200; i++ {
		x := float64(i%200)/10 - 10
		if _, err := l.Learn(training.Sample{Features: []float64{x}, Target: 3*x - 1}); err != nil {
			panic(err)
		}
	}
	coef, intercept := l.Coefficients()
	fmt.Printf("learned y = %.2fx %+.2f\n", coef[0][0], intercept[0])

	d, err := l.Snapshot("line", "")
	if err != nil {
		panic(err)
	}
	m, err := serving.Load(context.Background(), d)
	if err != nil {
		panic(err)
	}
	p, _ := m.Predict(context.Background(), []float64{2})
	fmt.Printf("served model at x=2: %.2f (format %s, %s records)\n", p.Value, d.Format, d.Labels[training.LabelRecords])
	// Output:
	// learned y = 3.00x -1.00
	// served model at x=2: 5.00 (format linear, 200 records)
}

// A Trainer learns from a Source and publishes a version every 1000
// records; here the versions go straight into an in-process Server.
func ExampleTrainer() {
	srv, _ := serving.NewServer(serving.WithLogger(quiet))
	defer srv.Close()
	r := rand.New(rand.NewPCG(1, 2))
	n := 0
	src := training.SourceFunc(func(ctx context.Context) (training.Sample, error) {
		if n == 2500 {
			return training.Sample{}, io.EOF
		}
		n++
		x := []float64{r.NormFloat64(), r.NormFloat64()}
		y := 0.0
		if x[0]+x[1] > 0 {
			y = 1
		}
		return training.Sample{Features: x, Target: y}, nil
	})
	l, _ := training.NewLearner(training.Logistic, 2)
	tr, err := training.NewTrainer("demo", l, src, training.ServerPublisher(srv),
		training.EveryRecords(1000), training.WithLogger(quiet),
		training.WithObserver(func(e training.Event) {
			if e.Kind == training.EventPublished {
				d := e.Descriptor
				fmt.Printf("v%d after %s records (trigger %s, parent v%s)\n", d.Version, d.Labels[training.LabelRecords],
					d.Labels[training.LabelTrigger], d.Labels[training.LabelParentVersion])
			}
		}))
	if err != nil {
		panic(err)
	}
	if err := tr.Run(context.Background()); err != nil {
		panic(err)
	}
	ref, _ := srv.Current("demo")
	res, _ := srv.Model("demo").Score(context.Background(), serving.Record{Features: []float64{2, 1}})
	fmt.Printf("serving %s: P(y=1 | 2, 1) = %.2f\n", ref, res.Value)
	// Output:
	// v1 after 1000 records (trigger records, parent v)
	// v2 after 2000 records (trigger records, parent v1)
	// v3 after 2500 records (trigger final, parent v2)
	// serving demo@v3: P(y=1 | 2, 1) = 1.00
}

// Distill trains a linear student on a teacher's outputs; here the
// teacher is a hand-written rule standing in for a tree ensemble.
func ExampleDistill() {
	teacher := serving.ScorerFunc(func(_ context.Context, r serving.Record) (serving.Result, error) {
		p := 0.1
		if 3*r.Features[0]-r.Features[1] > 1 {
			p = 0.9
		}
		return serving.Result{Prediction: serving.Prediction{Value: p}}, nil
	})
	student, _ := training.NewLearner(training.Logistic, 2, training.WithOptimizer(training.Adam), training.WithDecay(1000))
	gauss := func(r *rand.Rand) []float64 { return []float64{r.NormFloat64(), r.NormFloat64()} }
	rep, err := training.Distill(context.Background(), teacher, student, training.Sampled(20000, 1, gauss))
	if err != nil {
		panic(err)
	}
	var heldOut [][]float64
	for x := range training.Sampled(1000, 2, gauss) {
		heldOut = append(heldOut, x)
	}
	agree, _ := training.Agreement(context.Background(), teacher, student, heldOut)
	fmt.Printf("learned from %d teacher labels; held-out agreement above 95%%: %v\n", rep.Count(), agree > 0.95)
	// Output:
	// learned from 20000 teacher labels; held-out agreement above 95%: true
}

// Page-Hinkley signals when the mean of a stream of errors rises.
func ExamplePageHinkley() {
	ph, _ := training.NewPageHinkley(training.PHLambda(10))
	for i := 0; i < 2000; i++ {
		err := 0.0
		if i >= 1000 && i%2 == 0 { // the error rate jumps from 0 to 50%
			err = 1
		}
		if ph.Add(err) {
			fmt.Println("drift detected at record", i)
		}
	}
	// Output:
	// drift detected at record 1020
}
