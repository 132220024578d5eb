package feedbackkafka_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/feedback"
	"github.com/modelstream/modelstream/serving/feedback/feedbackkafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
	"github.com/modelstream/modelstream/speculative/canary"
)

type fixed struct{ ref serving.ModelRef }

func (f fixed) Score(context.Context, serving.Record) (serving.Result, error) {
	return serving.Result{Prediction: serving.Prediction{Value: 1}, Provenance: serving.Provenance{Model: f.ref}}, nil
}

func (f fixed) Ref() serving.ModelRef { return f.ref }

// TestFeedbackDrivesRollout wires the whole loop on kfake: a canary
// Controller scores, its scores go to a topic, a Reader joins them to a
// feedback topic and feeds the Controller's quality guardrail. While the
// feedback is absent, and while it holds only labels for unknown keys and
// duplicates, the rollout holds its step; once real labels arrive, it
// advances.
func TestFeedbackDrivesRollout(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic("scores", 2), kafkatest.Topic("labels", 2))
	cfg := newConfig(t, c)
	ctrl, err := canary.New(fixed{serving.ModelRef{Name: "fraud", Version: 1}}, fixed{serving.ModelRef{Name: "fraud", Version: 2}},
		canary.Steps(0.1, 1), canary.Seed(2), canary.MinCalls(100), canary.MinOutcomes(50),
		canary.ErrorMargin(0.05), canary.LatencyMargin(0.05), canary.QualityMargin(0.2))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const n = 3000
	var ms []msg
	for i := range n {
		k := strconv.Itoa(i)
		res, err := ctrl.Score(ctx, serving.Record{Key: []byte(k)})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(wire.Score{Prediction: res.Prediction, Provenance: res.Provenance, Key: k, Topic: "data", Offset: int64(i)})
		ms = append(ms, msg{topic: "scores", key: k, value: b, at: t0.Add(time.Duration(i) * time.Millisecond)})
	}
	produce(t, cfg, ms...)
	j, _ := feedback.NewJoiner(time.Hour, 10000)
	r, err := feedbackkafka.NewReader(cfg, "scores", "labels", j, func(m feedback.Match) error {
		loss := 0.0
		if m.Label.Value != m.Score.Prediction.Value {
			loss = 1
		}
		return ctrl.Outcome(m.Variant(), loss)
	}, feedbackkafka.Retry(30*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, r)
	defer stop()
	waitFor(t, "the scores", func() bool { return r.Stats().Scores == n })
	if d := ctrl.Evaluate(ctx); d.Action != canary.Hold || d.Guardrails[2].Verdict != "no data" {
		t.Fatalf("without feedback: %+v", d)
	}
	// Labels for keys never scored, and the same label many times over.
	ms = ms[:0]
	for i := range 500 {
		ms = append(ms, labelMsg(fmt.Sprint("unknown-", i), "1", t0.Add(time.Second)), labelMsg("0", "1", t0.Add(time.Second)))
	}
	produce(t, cfg, ms...)
	waitFor(t, "the bad labels", func() bool { return r.Stats().Labels == 1000 })
	if d := ctrl.Evaluate(ctx); d.Action != canary.Hold || d.Guardrails[2].N[0]+d.Guardrails[2].N[1] != 1 {
		t.Fatalf("with only bad labels: %+v", d)
	}
	if s := r.Stats(); s.Duplicates != 499 || s.Joined != 1 {
		t.Errorf("bad labels: %+v", s)
	}
	// The truth arrives: 95% of the answers were right, on both sides.
	ms = ms[:0]
	for i := 1; i < n; i++ {
		ms = append(ms, labelMsg(strconv.Itoa(i), strconv.Itoa(min(1, i%20)), t0.Add(2*time.Second)))
	}
	produce(t, cfg, ms...)
	waitFor(t, "the joins", func() bool { return r.Stats().Joined == n })
	if d := ctrl.Evaluate(ctx); d.Action != canary.Advance {
		t.Fatalf("with the truth: %+v", d)
	}
}
