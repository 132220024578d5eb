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

// TestFeedObserversCompose: Observer given several times, as a program
// does that passes its own beside a registry/kafkafeed Sync's
// FeedOptions, calls every function, in the order given, each even when
// one before it panics. Before, each Observer replaced the one before
// it, and only the last was called ("the Observers were called [last
// last], want [first panics last first panics last]").
func TestFeedObserversCompose(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	pub := publisher(t, c)
	ctx := context.Background()
	for v := uint64(1); v <= 2; v++ {
		if _, _, err := pub.Publish(ctx, linearModel(t, "m", v, 2, float64(v))); err != nil {
			t.Fatal(err)
		}
	}
	var order []string // appended by the Observers of the one partition, whose calls never overlap
	runFeed(t, c.Addrs(), newServer(t),
		kafka.Observer(func(e kafka.FeedEvent) { order = append(order, "first") }),
		kafka.Observer(func(kafka.FeedEvent) { order = append(order, "panics"); panic("observer boom") }),
		kafka.Observer(func(e kafka.FeedEvent) { order = append(order, "last") }))
	// CaughtUp closes after the Observers heard of every message that was
	// in the topic.
	want := []string{"first", "panics", "last", "first", "panics", "last"}
	if len(order) != len(want) {
		t.Fatalf("the Observers were called %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("the Observers were called %v, want %v", order, want)
		}
	}
}
