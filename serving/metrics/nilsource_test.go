package metrics_test

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/feedback/feedbackkafka"
	"github.com/modelstream/modelstream/serving/metrics"
	"github.com/modelstream/modelstream/serving/quality"
)

// TestNilSourceRefusedAtRegistration: Feedback and Quality given
// nothing to read, a nil interface or a nil pointer, are refused when
// registered, with an error wrapping serving.ErrConfig, and their
// Collect, called without registering, reports that error instead of
// panicking. Before, they registered without a word and the first scrape
// panicked in the collector ("invalid memory address or nil pointer
// dereference"), which takes the process down: client_golang collects in
// goroutines of its own, where no recover runs.
func TestNilSourceRefusedAtRegistration(t *testing.T) {
	for name, c := range map[string]prometheus.Collector{
		"Feedback(nil)":                          metrics.Feedback(nil),
		"Feedback((*feedbackkafka.Reader)(nil))": metrics.Feedback((*feedbackkafka.Reader)(nil)),
		"Quality(nil)":                           metrics.Quality(nil),
	} {
		err := prometheus.NewRegistry().Register(c)
		if !errors.Is(err, serving.ErrConfig) {
			t.Errorf("%s: registered with %v, want ErrConfig", name, err)
		}
		ch := make(chan prometheus.Metric, 64)
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: Collect panicked: %v", name, p)
				}
			}()
			c.Collect(ch)
		}()
		close(ch)
		n := 0
		for m := range ch {
			n++
			if err := m.Write(nil); !errors.Is(err, serving.ErrConfig) {
				t.Errorf("%s: Collect sent a metric writing %v, want ErrConfig", name, err)
			}
		}
		if n != 1 {
			t.Errorf("%s: Collect sent %d metrics, want 1 reporting the error", name, n)
		}
	}
	tr, err := quality.NewTracker(10)
	if err != nil {
		t.Fatal(err)
	}
	if err := prometheus.NewRegistry().Register(metrics.Quality(tr)); err != nil {
		t.Errorf("Quality of a Tracker: %v", err)
	}
}
