package kafka_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestFeedNotRunLeaksNothing: a ModelFeed that is created but never run,
// as when a program fails between NewModelFeed and Run, holds no client,
// connection or goroutine. NewModelFeed used to open a sarama client that
// only Run closed, so each such feed left its metadata refresher and its
// broker connection (with the broker's goroutine for it) running for good.
func TestFeedNotRunLeaksNothing(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	srv := newServer(t)
	cfg := config(t, c.Addrs())
	base := runtime.NumGoroutine()
	const feeds = 3
	for range feeds {
		if _, err := kafka.NewModelFeed(cfg, srv); err != nil {
			t.Fatal(err)
		}
	}
	// Goroutines of earlier tests may still be winding down; wait for the
	// count to come back to the baseline rather than sampling it once.
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d feeds created and never run: %d goroutines, %d more than before them", feeds, n, n-base)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
