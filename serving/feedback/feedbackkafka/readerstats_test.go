package feedbackkafka_test

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving/feedback"
	"github.com/modelstream/modelstream/serving/feedback/feedbackkafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestScoreErrorsAndMatchErrors: with no scores topic the failures to
// read it are counted in ReaderStats.ScoreErrors (as those of a missing
// feedback topic are in FeedbackErrors), and once the topic exists each
// match the match function refuses is counted in MatchErrors. No test
// read ScoreErrors, nor MatchErrors above 0.
func TestScoreErrorsAndMatchErrors(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic("labels", 1), kafkatest.NoAutoCreate())
	cfg := newConfig(t, c)
	var calls atomic.Int64
	refuse := func(feedback.Match) error { calls.Add(1); return errors.New("refused") }
	j, _ := feedback.NewJoiner(time.Minute, 100)
	r, err := feedbackkafka.NewReader(cfg, "scores", "labels", j, refuse, feedbackkafka.Retry(30*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, r)
	defer stop()
	waitFor(t, "score errors", func() bool { return r.Stats().ScoreErrors >= 3 })
	if s := r.Stats(); s.FeedbackErrors != 0 || s.Joined != 0 {
		t.Fatalf("without a scores topic: %+v", s)
	}

	sc, _ := cfg.SaramaConfig(nil)
	admin, err := sarama.NewClusterAdmin(cfg.Brokers(), sc)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.CreateTopic("scores", &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false); err != nil {
		t.Fatal(err)
	}
	var ms []msg
	for i := range 5 {
		ms = append(ms, scoreMsg(fmt.Sprint("k", i), 0.9, "a", t0.Add(time.Duration(i)*time.Second)),
			labelMsg(fmt.Sprint("k", i), "1", t0.Add(time.Duration(i+1)*time.Second)))
	}
	produce(t, cfg, ms...)
	waitFor(t, "the joins", func() bool { return r.Stats().Joined == 5 })
	waitFor(t, "the match errors", func() bool { return r.Stats().MatchErrors == 5 })
	if n := calls.Load(); n != 5 {
		t.Errorf("match function called %d times, want 5", n)
	}
}
