package kafka_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestFeedObserverPanicContained: the Observer is the user's code (a
// registry's, say), run on the feed's goroutine for the partition, where
// a panic ended the process. The feed recovers it, as the Source does a
// Codec's, logs it, and goes on with the next message.
func TestFeedObserverPanicContained(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	pub := publisher(t, c)
	if _, _, err := pub.Publish(context.Background(), linearModel(t, "m", 1, 2, 1)); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t)
	var calls atomic.Int64
	runFeed(t, c.Addrs(), srv, kafka.Observer(func(kafka.FeedEvent) {
		if calls.Add(1) == 1 {
			panic("observer boom")
		}
	}))
	if _, _, err := pub.Publish(context.Background(), linearModel(t, "m", 2, 2, 2)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "v2 live and observed", func() bool {
		r, _ := srv.Current("m")
		return r.Version == 2 && calls.Load() == 2
	})
}
