package metrics

import (
	"fmt"
	"reflect"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/feedback"
)

// Feedback returns a prometheus.Collector that exports what r (a
// feedbackkafka.Reader, taken by its Stats method so that this package
// links no Kafka client) counts at
// every scrape, so that the bad input of a feedback topic is visible
// where the live quality it feeds is:
//
//   - feedback_records_total{stream}: records read and decoded, stream
//     "scores" or "labels";
//   - feedback_bad_records_total{stream}: records read that did not
//     decode (a non-finite label among them), not counted in
//     feedback_records_total;
//   - feedback_read_errors_total{stream}: failures to read the topic, a
//     feedback topic missing or deleted among them;
//   - feedback_joined_total, and feedback_early_total: those of them
//     whose label came before its score;
//   - feedback_dropped_total{reason}: records not joined, reason
//     "duplicate_label", "duplicate_score", "late_label",
//     "unknown_label" (its key was never scored), "unlabelled_score"
//     (no label within the window) or "overflow" (pushed out of a full
//     buffer, also counted under one of the others);
//   - feedback_match_errors_total: joined pairs their consumer refused;
//   - feedback_pending{stream}: entries waiting for the other side;
//   - feedback_lag: feedback records written but not yet read, -1 before
//     the first measurement.
//
// Register it beside [Metrics]; for several Readers, register each
// through prometheus.WrapRegistererWith with a label of its own. Given a
// nil r (or a nil pointer), it collects nothing: registering it fails
// with an error wrapping serving.ErrConfig.
func Feedback(r interface{ Stats() feedback.ReaderStats }) prometheus.Collector {
	if isNil(r) {
		return refused("Feedback(nil)")
	}
	return feedbackCollector{r}
}

// isNil reports whether v is nil, or a nil pointer in an interface.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// refusedCollector is the collector of a call given nothing to read.
// Its Describe sends an invalid descriptor, so that registering it fails
// with err, and its Collect an invalid metric, so that a scrape that
// reaches it anyway fails with err instead of panicking in a goroutine
// of client_golang's, where nothing recovers.
type refusedCollector struct{ err error }

func refused(call string) refusedCollector {
	return refusedCollector{fmt.Errorf("%w: metrics: %s", serving.ErrConfig, call)}
}

func (r refusedCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- prometheus.NewInvalidDesc(r.err)
}

func (r refusedCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(prometheus.NewInvalidDesc(r.err), r.err)
}

var (
	feedbackRecords  = prometheus.NewDesc("modelstream_feedback_records_total", "Records read and decoded by the feedback join.", []string{"stream"}, nil)
	feedbackBad      = prometheus.NewDesc("modelstream_feedback_bad_records_total", "Records that did not decode.", []string{"stream"}, nil)
	feedbackReadErrs = prometheus.NewDesc("modelstream_feedback_read_errors_total", "Failures to read a topic of the feedback join.", []string{"stream"}, nil)
	feedbackJoined   = prometheus.NewDesc("modelstream_feedback_joined_total", "Scores joined to their label.", nil, nil)
	feedbackEarly    = prometheus.NewDesc("modelstream_feedback_early_total", "Joins whose label arrived before its score.", nil, nil)
	feedbackDropped  = prometheus.NewDesc("modelstream_feedback_dropped_total", "Records of the feedback join not joined, by reason.", []string{"reason"}, nil)
	feedbackMatchErr = prometheus.NewDesc("modelstream_feedback_match_errors_total", "Joined pairs refused by their consumer.", nil, nil)
	feedbackPending  = prometheus.NewDesc("modelstream_feedback_pending", "Entries waiting for the other side of the join.", []string{"stream"}, nil)
	feedbackLag      = prometheus.NewDesc("modelstream_feedback_lag", "Feedback records written but not yet read; -1 before the first measurement.", nil, nil)
)

type feedbackCollector struct {
	r interface{ Stats() feedback.ReaderStats }
}

func (feedbackCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{feedbackRecords, feedbackBad, feedbackReadErrs, feedbackJoined, feedbackEarly, feedbackDropped, feedbackMatchErr, feedbackPending, feedbackLag} {
		ch <- d
	}
}

func (f feedbackCollector) Collect(ch chan<- prometheus.Metric) {
	s := f.r.Stats()
	counter := func(d *prometheus.Desc, v uint64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), lv...)
	}
	counter(feedbackRecords, s.Scores, "scores")
	counter(feedbackRecords, s.Labels, "labels")
	counter(feedbackBad, s.BadScores, "scores")
	counter(feedbackBad, s.BadLabels, "labels")
	counter(feedbackReadErrs, s.ScoreErrors, "scores")
	counter(feedbackReadErrs, s.FeedbackErrors, "labels")
	counter(feedbackJoined, s.Joined)
	counter(feedbackEarly, s.Early)
	for _, d := range []struct {
		reason string
		n      uint64
	}{{"duplicate_label", s.Duplicates}, {"duplicate_score", s.DuplicateScores}, {"late_label", s.Late},
		{"unknown_label", s.Unknown}, {"unlabelled_score", s.Unlabelled}, {"overflow", s.Overflow}} {
		counter(feedbackDropped, d.n, d.reason)
	}
	counter(feedbackMatchErr, s.MatchErrors)
	ch <- prometheus.MustNewConstMetric(feedbackPending, prometheus.GaugeValue, float64(s.PendingScores), "scores")
	ch <- prometheus.MustNewConstMetric(feedbackPending, prometheus.GaugeValue, float64(s.PendingLabels), "labels")
	ch <- prometheus.MustNewConstMetric(feedbackLag, prometheus.GaugeValue, float64(s.FeedbackLag))
}
