package feedbackkafka_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving/feedback"
	"github.com/modelstream/modelstream/serving/feedback/feedbackkafka"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// readerGoroutines counts the goroutines running the Reader's own code
// or a sarama client or consumer.
func readerGoroutines() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "feedbackkafka.(*Reader)") || strings.Contains(g, "IBM/sarama.") {
			n++
		}
	}
	return n
}

// When Run returns, every goroutine it started (the followers of each
// partition, the lag watcher, sarama's client and consumers) is gone:
// also while the feedback topic is missing and being retried.
func TestRunLeavesNoGoroutines(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic("scores", 3), kafkatest.NoAutoCreate())
	cfg, err := kafka.NewConfig(c.Addrs(), kafka.Logger(discard()))
	if err != nil {
		t.Fatal(err)
	}
	before := readerGoroutines()
	j, _ := feedback.NewJoiner(time.Minute, 100)
	r, err := feedbackkafka.NewReader(cfg, "scores", "labels", j, func(feedback.Match) error { return nil }, feedbackkafka.Retry(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for r.Stats().FeedbackErrors < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // reading the scores, retrying the feedback
	}
	if during := readerGoroutines(); during <= before {
		t.Fatalf("%d reader goroutines while running, %d before: the count sees nothing", during, before)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		n := readerGoroutines()
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d reader goroutines left after Run returned, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
