package metrics_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/feedback"
	"github.com/modelstream/modelstream/serving/metrics"
	"github.com/modelstream/modelstream/serving/quality"
	"github.com/modelstream/modelstream/speculative/canary"
)

type fixedStats struct{ s feedback.ReaderStats }

func (f fixedStats) Stats() feedback.ReaderStats { return f.s }

// TestMetricNamesLint runs Prometheus' own linter (promlint, as
// promtool check metrics does) over every family the package exports,
// each with a series in it, so that a name breaking the conventions (a
// counter without _total, a unit not in base units) fails here, not on
// a user's dashboard.
func TestMetricNamesLint(t *testing.T) {
	m := mustNew()
	ref := serving.ModelRef{Name: "fraud", Version: 3}
	m.OnModelEvent(serving.ModelEvent{Kind: serving.EventActivated, Model: ref})
	m.OnScored(ref, time.Millisecond, nil)
	m.OnScored(ref, time.Millisecond, errors.New("bad"))
	m.OnModelEvent(serving.ModelEvent{Kind: serving.EventRejected, Model: serving.ModelRef{Name: "fraud", Version: 4}, Err: errors.New("bad")})
	m.OnDeadLetter("in", 0, 5, errors.New("bad"))
	m.OnCommit("in", 2, 10)
	m.OnLag("in", 2, 7)
	a, b := serving.ModelRef{Name: "a"}, serving.ModelRef{Name: "b"}
	m.OnDecision("budget", &serving.Decision{Winner: 1, Candidates: []serving.Candidate{{Model: a, Status: serving.StatusLate}, {Model: b}}}, 0)
	m.OnDecision("budget", &serving.Decision{Winner: -1, Candidates: []serving.Candidate{{Model: a, Status: serving.StatusError}}}, 0)
	ok := serving.ScorerFunc(func(context.Context, serving.Record) (serving.Result, error) { return serving.Result{}, nil })
	c, err := canary.New(ok, ok, canary.Name("fraud"), canary.Hooks(m), canary.Steps(0.5, 1), canary.MinCalls(1), canary.Seed(1))
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		c.Score(context.Background(), serving.Record{})
	}
	c.Evaluate(context.Background())

	tr, _ := quality.NewTracker(1)
	q, _ := tr.Meter(quality.Key{Model: "fraud", Version: 3})
	q.ObserveBinary(0.9, true)
	q.ObserveBinary(0.2, false)
	q.ObserveBinary(7, false)                         // refused
	tr.Meter(quality.Key{Model: "fraud", Version: 4}) // overflow

	var s fixedStats
	s.s.FeedbackLag = -1

	for name, col := range map[string]prometheus.Collector{"Metrics": m, "Quality": metrics.Quality(tr), "Feedback": metrics.Feedback(s)} {
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(col)
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		if len(fams) == 0 {
			t.Fatalf("%s exported nothing", name)
		}
		problems, err := testutil.CollectAndLint(col)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("%s: %s: %s", name, p.Metric, p.Text)
		}
	}
}
