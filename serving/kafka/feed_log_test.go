package kafka_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestFeedStaleVersionLoggedAtDebug: a replayed old version is skipped
// quietly, as the ModelFeed doc says: its line is at Debug. It was at
// Info, so that every restart replaying a models topic logged one line
// per old version to a logger that shows Info.
func TestFeedStaleVersionLoggedAtDebug(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	pub := publisher(t, c)
	ctx := context.Background()
	for _, v := range []uint64{2, 1} {
		if _, _, err := pub.Publish(ctx, linearModel(t, "m", v, 2, float64(v))); err != nil {
			t.Fatal(err)
		}
	}
	logs := &capture{}
	srv := newServer(t)
	f, err := kafka.NewModelFeed(config(t, c.Addrs(), kafka.Logger(slog.New(logs))), srv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	waitFor(t, "the stale version skipped", func() bool { return f.Stats().Stale == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	m, ok := logs.find("model feed: stale version skipped")
	if !ok {
		t.Fatal("no line for the stale version")
	}
	if m["level"] != slog.LevelDebug.String() {
		t.Errorf("stale version logged at %s, want DEBUG", m["level"])
	}
}
