package metrics_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/metrics"
	"github.com/modelstream/modelstream/serving/quality"
	"github.com/modelstream/modelstream/speculative/canary"
)

func TestQualityCollector(t *testing.T) {
	tr, _ := quality.NewTracker(4)
	m, _ := tr.Meter(quality.Key{Model: "fraud", Version: 3, Variant: "canary"})
	m.ObserveBinary(0.9, true)
	m.ObserveBinary(0.2, false)
	m.ObserveBinary(0.6, false)
	m.ObserveBinary(7, false) // refused
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics.Quality(tr))
	want := `
# HELP modelstream_live_quality_refused_total Outcomes refused as invalid.
# TYPE modelstream_live_quality_refused_total counter
modelstream_live_quality_refused_total{model="fraud",variant="canary",version="3"} 1
`
	// Log-loss is exported too, but its value is not exact to write.
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "modelstream_live_quality_refused_total"); err != nil {
		t.Error(err)
	}
	mfs, _ := reg.Gather()
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "modelstream_live_quality" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "metric" {
					got[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	if len(got) != 3 || got["auc"] != 1 || got["accuracy"] != 2.0/3 || got["log_loss"] <= 0 {
		t.Errorf("live_quality %v", got)
	}
	if n, err := testutil.GatherAndCount(reg, "modelstream_live_quality_outcomes"); err != nil || n != 3 {
		t.Errorf("outcome series: %d %v", n, err)
	}
}

// TestRolloutsHook: the one Metrics is also the canary Controllers' hook
// and exports their decisions.
func TestRolloutsHook(t *testing.T) {
	r := mustNew()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(r)
	fail := serving.ScorerFunc(func(context.Context, serving.Record) (serving.Result, error) {
		return serving.Result{}, context.DeadlineExceeded
	})
	ok := serving.ScorerFunc(func(context.Context, serving.Record) (serving.Result, error) { return serving.Result{}, nil })
	c, err := canary.New(ok, fail, canary.Name("fraud"), canary.Hooks(r), canary.Steps(0.5, 1), canary.MinCalls(50), canary.Seed(1))
	if err != nil {
		t.Fatal(err)
	}
	for range 400 {
		c.Score(context.Background(), serving.Record{})
	}
	if d := c.Evaluate(context.Background()); d.Action != canary.Rollback {
		t.Fatalf("decision %+v", d)
	}
	want := `
# HELP modelstream_rollout_decisions_total Rollout evaluations by action.
# TYPE modelstream_rollout_decisions_total counter
modelstream_rollout_decisions_total{action="rollback",rollout="fraud"} 1
# HELP modelstream_rollout_share Candidate's share of traffic.
# TYPE modelstream_rollout_share gauge
modelstream_rollout_share{rollout="fraud"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "modelstream_rollout_decisions_total", "modelstream_rollout_share"); err != nil {
		t.Error(err)
	}
	if n, _ := testutil.GatherAndCount(reg, "modelstream_rollout_guardrail_difference"); n != 4 {
		t.Errorf("%d guardrail bounds, want low and high of errors and latency", n)
	}
}

// TestQualityCollectorSkipsInvalidNames: a quality series whose model or
// variant name is not valid UTF-8 (names read back from the scores
// topic) is left out; the others are exported. Prometheus refuses such
// a label value: the collector panicked, the registry recovered and
// failed the whole scrape, so one bad name blanked every metric.
func TestQualityCollectorSkipsInvalidNames(t *testing.T) {
	tr, _ := quality.NewTracker(4)
	for _, k := range []quality.Key{{Model: "fraud", Version: 1}, {Model: "bad\xff", Version: 1}, {Model: "fraud", Version: 2, Variant: "v\xfe"}} {
		m, _ := tr.Meter(k)
		m.ObserveValue(1, 2)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.Quality(tr))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	n := 0
	for _, f := range fams {
		if f.GetName() == "modelstream_live_quality_refused_total" {
			n = len(f.GetMetric())
		}
	}
	if n != 1 {
		t.Errorf("%d refused-count series, want fraud@v1's alone", n)
	}
}

// TestQualityCollectorOverflow: outcomes a full Tracker refuses with
// quality.ErrFull are exported as live_quality_overflow_total, so that
// truth being dropped shows without polling Tracker.Overflow; before
// the first refusal it reads 0.
func TestQualityCollectorOverflow(t *testing.T) {
	tr, _ := quality.NewTracker(2)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics.Quality(tr))
	const head = `
# HELP modelstream_live_quality_overflow_total Outcomes refused because the quality tracker held its maximum number of series.
# TYPE modelstream_live_quality_overflow_total counter
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(head+"modelstream_live_quality_overflow_total 0\n"), "modelstream_live_quality_overflow_total"); err != nil {
		t.Errorf("empty tracker: %v", err)
	}
	for v := range uint64(2) {
		m, err := tr.Meter(quality.Key{Model: "fraud", Version: v + 1})
		if err != nil {
			t.Fatal(err)
		}
		m.ObserveValue(1, 2)
	}
	if _, err := tr.Meter(quality.Key{Model: "fraud", Version: 3}); !errors.Is(err, quality.ErrFull) {
		t.Fatalf("Meter on a full tracker: %v, want ErrFull", err)
	}
	if _, err := tr.Meter(quality.Key{Model: "fraud", Version: 1}); err != nil {
		t.Fatalf("Meter of a held series: %v", err) // not an overflow
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(head+"modelstream_live_quality_overflow_total 1\n"), "modelstream_live_quality_overflow_total"); err != nil {
		t.Error(err)
	}
}
