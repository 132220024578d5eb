package metrics_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/feedback"
	"github.com/modelstream/modelstream/serving/metrics"
	"github.com/modelstream/modelstream/serving/quality"
	"github.com/modelstream/modelstream/serving/wire"
)

// readerStats stands in for a feedbackkafka.Reader, which a program
// passes to Feedback itself.
type readerStats func() feedback.ReaderStats

func (f readerStats) Stats() feedback.ReaderStats { return f() }

// Quality and Feedback export the live quality that joined labels
// measure and the counters of the join, beside Metrics: here a Joiner
// pairs two labels with their scores, a third label names a key never
// scored, and the pairs feed a quality.Tracker.
func ExampleFeedback() {
	j, err := feedback.NewJoiner(time.Hour, 1000)
	if err != nil {
		panic(err)
	}
	tr, err := quality.NewTracker(10)
	if err != nil {
		panic(err)
	}
	observe, err := feedback.Observe(tr, feedback.Binary)
	if err != nil {
		panic(err)
	}
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	prov := serving.Provenance{Model: serving.ModelRef{Name: "fraud", Version: 3}}
	j.AddScore("order-1", wire.Score{Prediction: serving.Prediction{Value: 0.9, Label: "1"}, Provenance: prov}, t0)
	j.AddScore("order-2", wire.Score{Prediction: serving.Prediction{Value: 0.7, Label: "1"}, Provenance: prov}, t0)
	for _, l := range []feedback.Label{{Key: "order-1", Value: 1}, {Key: "order-2", Value: 0}, {Key: "order-9", Value: 1}} {
		l.Time = t0.Add(time.Minute)
		if m, ok := j.AddLabel(l); ok {
			if err := observe(m); err != nil {
				panic(err)
			}
		}
	}
	j.Advance(t0.Add(3*time.Hour), t0.Add(3*time.Hour)) // order-9's score never came

	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.Quality(tr))
	reg.MustRegister(metrics.Feedback(readerStats(func() feedback.ReaderStats { return feedback.ReaderStats{Stats: j.Stats()} })))

	fams, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			switch name := strings.TrimPrefix(f.GetName(), "modelstream_"); {
			case name == "live_quality" && strings.Contains(strings.Join(labels, ","), "metric=accuracy"),
				name == "feedback_joined_total",
				name == "feedback_dropped_total" && v > 0,
				name == "feedback_records_total":
				fmt.Printf("%s{%s} %v\n", name, strings.Join(labels, ","), v)
			}
		}
	}
	// Output:
	// feedback_dropped_total{reason=unknown_label} 1
	// feedback_joined_total{} 2
	// feedback_records_total{stream=labels} 3
	// feedback_records_total{stream=scores} 2
	// live_quality{metric=accuracy,model=fraud,variant=,version=3} 0.5
}
