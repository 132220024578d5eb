package metrics_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/feedback"
	"github.com/modelstream/modelstream/serving/feedback/feedbackkafka"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/metrics"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// TestFeedbackCollector reads a scores topic and a feedback topic
// holding each kind of bad input on kfake, and checks that every one is
// counted in the exported metrics: an unknown key, a duplicate label, a
// label before its score, a non-finite label, an undecodable score, and
// a missing topic's read errors.
func TestFeedbackCollector(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic("scores", 1), kafkatest.Topic("labels", 1))
	cfg, err := kafka.NewConfig(c.Addrs(), kafka.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := cfg.SaramaConfig(nil)
	p, err := sarama.NewSyncProducer(cfg.Brokers(), sc)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	send := func(topic, key, value string, at time.Time) {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(key), Value: sarama.StringEncoder(value), Timestamp: at}); err != nil {
			t.Fatal(err)
		}
	}
	score := func(key string) string {
		b, _ := json.Marshal(wire.Score{Key: key, Prediction: serving.Prediction{Value: 0.9}, Provenance: serving.Provenance{Model: serving.ModelRef{Name: "fraud", Version: 1}}})
		return string(b)
	}
	// Labels first: "b" arrives before its score.
	send("labels", "a", "1", t0.Add(time.Second))
	send("labels", "a", "0", t0.Add(time.Second)) // duplicate
	send("labels", "u", "1", t0.Add(time.Second)) // unknown key
	send("labels", "c", "NaN", t0)                // non-finite
	send("labels", "b", "1", t0)                  // before its score
	send("scores", "a", score("a"), t0)
	send("scores", "b", score("b"), t0.Add(time.Second))
	send("scores", "x", "{", t0) // undecodable
	p.Close()

	j, _ := feedback.NewJoiner(time.Hour, 100)
	r, err := feedbackkafka.NewReader(cfg, "scores", "labels", j, func(feedback.Match) error { return nil }, feedbackkafka.Retry(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	j2, _ := feedback.NewJoiner(time.Hour, 100)
	missing, err := feedbackkafka.NewReader(cfg, "scores", "absent", j2, func(feedback.Match) error { return nil }, feedbackkafka.Retry(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- r.Run(ctx) }()
	go func() { done <- missing.Run(ctx) }()
	deadline := time.Now().Add(15 * time.Second)
	for s := r.Stats(); s.Labels+s.BadLabels < 5 || s.Scores+s.BadScores < 3 || s.FeedbackLag != 0 || missing.Stats().FeedbackErrors == 0; s = r.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %+v", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics.Feedback(r))
	want := `
# HELP modelstream_feedback_bad_records_total Records that did not decode.
# TYPE modelstream_feedback_bad_records_total counter
modelstream_feedback_bad_records_total{stream="labels"} 1
modelstream_feedback_bad_records_total{stream="scores"} 1
# HELP modelstream_feedback_dropped_total Records of the feedback join not joined, by reason.
# TYPE modelstream_feedback_dropped_total counter
modelstream_feedback_dropped_total{reason="duplicate_label"} 1
modelstream_feedback_dropped_total{reason="duplicate_score"} 0
modelstream_feedback_dropped_total{reason="late_label"} 0
modelstream_feedback_dropped_total{reason="overflow"} 0
modelstream_feedback_dropped_total{reason="unknown_label"} 0
modelstream_feedback_dropped_total{reason="unlabelled_score"} 0
# HELP modelstream_feedback_joined_total Scores joined to their label.
# TYPE modelstream_feedback_joined_total counter
modelstream_feedback_joined_total 2
# HELP modelstream_feedback_lag Feedback records written but not yet read; -1 before the first measurement.
# TYPE modelstream_feedback_lag gauge
modelstream_feedback_lag 0
# HELP modelstream_feedback_pending Entries waiting for the other side of the join.
# TYPE modelstream_feedback_pending gauge
modelstream_feedback_pending{stream="labels"} 1
modelstream_feedback_pending{stream="scores"} 0
# HELP modelstream_feedback_records_total Records read and decoded by the feedback join.
# TYPE modelstream_feedback_records_total counter
modelstream_feedback_records_total{stream="labels"} 4
modelstream_feedback_records_total{stream="scores"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"modelstream_feedback_bad_records_total", "modelstream_feedback_dropped_total",
		"modelstream_feedback_joined_total", "modelstream_feedback_lag", "modelstream_feedback_pending", "modelstream_feedback_records_total"); err != nil {
		t.Error(err)
	}
	// Which labels came before their scores depends on which topic's
	// fetch answered first.
	if n, err := testutil.GatherAndCount(reg, "modelstream_feedback_early_total"); err != nil || n != 1 {
		t.Errorf("early series: %d, %v", n, err)
	}
	// The unknown key waits (as pending) until the scores' time passes it
	// by the window; a missing feedback topic shows as read errors.
	reg2 := prometheus.NewPedanticRegistry()
	reg2.MustRegister(metrics.Feedback(missing))
	if n, err := testutil.GatherAndCount(reg2, "modelstream_feedback_read_errors_total"); err != nil || n != 2 {
		t.Errorf("read error series: %d, %v", n, err)
	}
	mfs, _ := reg2.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "modelstream_feedback_read_errors_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == "labels" && m.GetCounter().GetValue() < 1 {
				t.Errorf("a missing feedback topic counted no read error")
			}
		}
	}
}
