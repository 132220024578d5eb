package metrics

import (
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelstream/modelstream/serving/quality"
	"github.com/modelstream/modelstream/speculative/canary"
)

// Quality returns a prometheus.Collector that exports the live quality
// in tr at every scrape:
//
//   - live_quality{model,version,variant,metric}: the estimate, metric
//     one of accuracy, log_loss, auc, mae, rmse;
//   - live_quality_low and live_quality_high, same labels: the bounds of
//     its 95% confidence interval;
//   - live_quality_outcomes{model,version,variant,metric}: the outcomes
//     it rests on;
//   - live_quality_refused_total{model,version,variant}: outcomes
//     refused as invalid;
//   - live_quality_overflow_total: outcomes refused because tr already
//     held its maximum number of series (quality.ErrFull, counted by
//     tr.Overflow), exported from the start, at 0 until then, so that an
//     alert on its increase needs no series to appear first.
//
// A metric without outcomes is left out, and so is a series whose model
// or variant name is not valid UTF-8, which Prometheus refuses as a label
// value. Register it beside [Metrics]. Given a nil tr, it collects
// nothing: registering it fails with an error wrapping serving.ErrConfig.
func Quality(tr *quality.Tracker) prometheus.Collector {
	if tr == nil {
		return refused("Quality(nil)")
	}
	return qualityCollector{tr}
}

var (
	labelsQuality = []string{"model", "version", "variant", "metric"}
	qualityValue  = prometheus.NewDesc("modelstream_live_quality", "Live quality estimate from joined ground truth.", labelsQuality, nil)
	qualityLow    = prometheus.NewDesc("modelstream_live_quality_low", "Lower bound of the live quality estimate's 95% confidence interval.", labelsQuality, nil)
	qualityHigh   = prometheus.NewDesc("modelstream_live_quality_high", "Upper bound of the live quality estimate's 95% confidence interval.", labelsQuality, nil)
	qualityN      = prometheus.NewDesc("modelstream_live_quality_outcomes", "Outcomes the live quality estimate rests on.", labelsQuality, nil)
	qualityRef    = prometheus.NewDesc("modelstream_live_quality_refused_total", "Outcomes refused as invalid.", []string{"model", "version", "variant"}, nil)
	qualityFull   = prometheus.NewDesc("modelstream_live_quality_overflow_total", "Outcomes refused because the quality tracker held its maximum number of series.", nil, nil)
)

type qualityCollector struct{ tr *quality.Tracker }

func (qualityCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{qualityValue, qualityLow, qualityHigh, qualityN, qualityRef, qualityFull} {
		ch <- d
	}
}

func (q qualityCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(qualityFull, prometheus.CounterValue, float64(q.tr.Overflow()))
	for _, s := range q.tr.Snapshot() {
		if !utf8.ValidString(s.Model) || !utf8.ValidString(s.Variant) {
			continue // one such label would fail the whole scrape
		}
		v := strconv.FormatUint(s.Version, 10)
		ch <- prometheus.MustNewConstMetric(qualityRef, prometheus.CounterValue, float64(s.Refused), s.Model, v, s.Variant)
		for _, m := range []struct {
			name string
			e    quality.Estimate
		}{{"accuracy", s.Accuracy}, {"log_loss", s.LogLoss}, {"auc", s.AUC}, {"mae", s.MAE}, {"rmse", s.RMSE}} {
			if m.e.N == 0 {
				continue
			}
			lv := []string{s.Model, v, s.Variant, m.name}
			ch <- prometheus.MustNewConstMetric(qualityValue, prometheus.GaugeValue, m.e.Value, lv...)
			ch <- prometheus.MustNewConstMetric(qualityLow, prometheus.GaugeValue, m.e.Low, lv...)
			ch <- prometheus.MustNewConstMetric(qualityHigh, prometheus.GaugeValue, m.e.High, lv...)
			ch <- prometheus.MustNewConstMetric(qualityN, prometheus.GaugeValue, float64(m.e.N), lv...)
		}
	}
}

// rollouts holds the series of canary Controllers' decisions, which
// Metrics.OnRollout records and Metrics exports (rollout_*).
type rollouts struct {
	share     *prometheus.GaugeVec
	step      *prometheus.GaugeVec
	decisions *prometheus.CounterVec
	guard     *prometheus.GaugeVec
	mu        sync.Mutex
}

func newRollouts() *rollouts {
	return &rollouts{
		share:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "modelstream_rollout_share", Help: "Candidate's share of traffic."}, []string{"rollout"}),
		step:      prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "modelstream_rollout_step", Help: "Index of the rollout's current step."}, []string{"rollout"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "modelstream_rollout_decisions_total", Help: "Rollout evaluations by action."}, []string{"rollout", "action"}),
		guard:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "modelstream_rollout_guardrail_difference", Help: "Confidence sequence bounds of candidate minus champion per guardrail."}, []string{"rollout", "guardrail", "bound"}),
	}
}

func (r *rollouts) record(d canary.Decision) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d.Rollout = label(d.Rollout)
	r.share.WithLabelValues(d.Rollout).Set(d.Share)
	r.step.WithLabelValues(d.Rollout).Set(float64(d.Step))
	r.decisions.WithLabelValues(d.Rollout, string(d.Action)).Inc()
	for _, g := range d.Guardrails {
		if g.Verdict == "no data" {
			continue
		}
		r.guard.WithLabelValues(d.Rollout, g.Name, "low").Set(g.Low)
		r.guard.WithLabelValues(d.Rollout, g.Name, "high").Set(g.High)
	}
}

// OnRollout implements canary.HookRollout: pass m to a Controller with
// canary.Hooks, and m exports its decisions:
//
//   - rollout_share{rollout}: the candidate's share of traffic now;
//   - rollout_step{rollout}: the index of the current step;
//   - rollout_decisions_total{rollout,action}: evaluations by outcome
//     (hold, advance, promote, rollback);
//   - rollout_guardrail_difference{rollout,guardrail,bound}: the latest
//     confidence interval for candidate − champion (bound low, high).
//
// A rollout name that is not valid UTF-8 is exported with each invalid
// byte sequence replaced by U+FFFD.
func (m *Metrics) OnRollout(d canary.Decision) { m.rollouts.record(d) }
