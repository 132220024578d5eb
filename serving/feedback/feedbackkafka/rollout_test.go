package feedbackkafka_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/feedback"
	"github.com/modelstream/modelstream/serving/feedback/feedbackkafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
	"github.com/modelstream/modelstream/speculative"
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
	// The one label joined gives one side one outcome: no step holds
	// outcomes of both sides, so the guardrail compares nothing yet
	// (canary compares the sides step by step since b52fdd5).
	if d := ctrl.Evaluate(ctx); d.Action != canary.Hold || d.Guardrails[2].Verdict != "no data" || d.Guardrails[2].N[0]+d.Guardrails[2].N[1] > 1 {
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

// TestFeedbackRewardsBandit rewards a Bandit with joined ground truth:
// v2 is right 90% of the time, v1 60%; after the join the bandit gives
// v2 most of the traffic. The bandit's state is saved with the join.
func TestFeedbackRewardsBandit(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic("scores", 1), kafkatest.Topic("labels", 1))
	cfg := newConfig(t, c)
	b, err := speculative.NewBandit(speculative.Thompson(), []speculative.Variant{
		{Name: "v1", Scorer: fixed{serving.ModelRef{Name: "fraud", Version: 1}}},
		{Name: "v2", Scorer: fixed{serving.ModelRef{Name: "fraud", Version: 2}}},
	}, speculative.WithSeed(4), speculative.WithMinShare(0.02))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cp.json")
	j, _ := feedback.NewJoiner(time.Hour, 10000)
	r, err := feedbackkafka.NewReader(cfg, "scores", "labels", j, func(m feedback.Match) error {
		reward := 0.0
		if m.Label.Value == m.Score.Prediction.Value {
			reward = 1
		}
		return b.Reward(m.Variant(), reward)
	}, feedbackkafka.Retry(30*time.Millisecond), feedbackkafka.Checkpoint(path, time.Hour), feedbackkafka.Save("bandit", b))
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, r)
	// Rounds of 200 scores and then their truth, as it would trickle in.
	for round := range 5 {
		var ms []msg
		for i := round * 200; i < (round+1)*200; i++ {
			k := strconv.Itoa(i)
			res, _ := b.Score(ctx, serving.Record{Key: []byte(k)})
			right := uint64(i%10) < map[uint64]uint64{1: 6, 2: 9}[res.Provenance.Model.Version]
			label := "1"
			if !right {
				label = "0"
			}
			sb, _ := json.Marshal(wire.Score{Prediction: res.Prediction, Provenance: res.Provenance, Key: k})
			ms = append(ms, msg{topic: "scores", key: k, value: sb, at: t0.Add(time.Duration(i) * time.Millisecond)},
				labelMsg(k, label, t0.Add(time.Duration(i)*time.Millisecond)))
		}
		produce(t, cfg, ms...)
		waitFor(t, "the round's joins", func() bool { return r.Stats().Joined == uint64((round+1)*200) })
	}
	stop()
	arms := b.Arms()
	if arms[1].Share < 0.9 || arms[1].Mean < 0.8 || arms[0].Mean > 0.7 || arms[0].Rewards+arms[1].Rewards != 1000 {
		t.Errorf("bandit after the feedback: %+v", arms)
	}
	// The checkpoint holds the bandit as it stood.
	again, _ := speculative.NewBandit(speculative.Thompson(), []speculative.Variant{
		{Name: "v1", Scorer: fixed{}}, {Name: "v2", Scorer: fixed{}},
	})
	var cp struct {
		States map[string]json.RawMessage `json:"states"`
	}
	data, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(data, &cp) != nil {
		t.Fatal(err)
	}
	if err := again.UnmarshalBinary(cp.States["bandit"]); err != nil {
		t.Fatal(err)
	}
	if a := again.Arms(); a[1].Rewards != arms[1].Rewards || a[0].Rewards != arms[0].Rewards {
		t.Errorf("checkpointed bandit %+v, live %+v", a, arms)
	}
}

// TestFeedbackTopicDeleted deletes the feedback topic while the Reader
// runs: reading it fails and is counted, scores go on being read and
// wait, and nothing is joined or expired by the missing stream.
func TestFeedbackTopicDeleted(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic("scores", 1), kafkatest.Topic("labels", 1), kafkatest.NoAutoCreate())
	cfg := newConfig(t, c)
	produce(t, cfg, scoreMsg("a", 0.9, "x", t0), labelMsg("a", "1", t0.Add(time.Second)))
	j, _ := feedback.NewJoiner(time.Minute, 100)
	r, err := feedbackkafka.NewReader(cfg, "scores", "labels", j, func(feedback.Match) error { return nil }, feedbackkafka.Retry(30*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, r)
	defer stop()
	waitFor(t, "the first join", func() bool { return r.Stats().Joined == 1 })
	sc, _ := cfg.SaramaConfig(nil)
	admin, err := sarama.NewClusterAdmin(cfg.Brokers(), sc)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.DeleteTopic("labels"); err != nil {
		t.Fatal(err)
	}
	before := r.Stats().FeedbackErrors
	var ms []msg
	for i := range 10 {
		ms = append(ms, scoreMsg(fmt.Sprint("k", i), 0.5, "x", t0.Add(time.Duration(i+2)*time.Second)))
	}
	produce(t, cfg, ms...)
	waitFor(t, "scores read and errors counted", func() bool {
		s := r.Stats()
		return s.Scores == 11 && s.FeedbackErrors >= before+3
	})
	if s := r.Stats(); s.Joined != 1 || s.PendingScores != 10 || s.Unlabelled != 0 {
		t.Errorf("with the feedback topic gone: %+v", s)
	}
}

// TestFeedbackLagVisible holds the Reader's match function, as a slow
// consumer of the matches would, while 2,000 labels wait on the
// feedback topic: the lag is measured and shown in Stats, and nothing
// is joined meanwhile; once the consumer goes on, every label is joined
// and the lag falls to 0.
func TestFeedbackLagVisible(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic("scores", 1), kafkatest.Topic("labels", 1))
	cfg := newConfig(t, c)
	const n = 2000
	var ms []msg
	for i := range n {
		ms = append(ms, scoreMsg(fmt.Sprint("k", i), 0.9, "a", t0.Add(time.Duration(i)*time.Millisecond)))
	}
	for i := range n {
		ms = append(ms, labelMsg(fmt.Sprint("k", i), "1", t0.Add(time.Duration(i)*time.Millisecond)))
	}
	produce(t, cfg, ms...)
	gate := make(chan struct{})
	j, _ := feedback.NewJoiner(time.Hour, 10000)
	r, err := feedbackkafka.NewReader(cfg, "scores", "labels", j, func(feedback.Match) error { <-gate; return nil }, feedbackkafka.Retry(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if lag := r.Stats().FeedbackLag; lag != -1 {
		t.Errorf("lag before any measurement: %d, want -1", lag)
	}
	stop := start(t, r)
	defer stop()
	waitFor(t, "the lag to show", func() bool { return r.Stats().FeedbackLag > n/2 })
	if s := r.Stats(); s.Joined > 1 {
		t.Errorf("joined %d while the consumer was held", s.Joined)
	}
	close(gate)
	waitFor(t, "every join and no lag", func() bool { s := r.Stats(); return s.Joined == n && s.FeedbackLag == 0 })
}
