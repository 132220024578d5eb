package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestSourceCancelReturnsNil: Run promises nil after a cancellation.
// Leaving the group is best effort on the way out: when it fails (here
// the cluster is gone by the time Run is cancelled, or Run is cancelled
// before it joined), Run logs it and still returns nil.
func TestSourceCancelReturnsNil(t *testing.T) {
	for _, tc := range []struct {
		name string
		gone bool // close the cluster before cancelling
	}{{"at once", false}, {"cluster gone", true}} {
		t.Run(tc.name, func(t *testing.T) {
			c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1))
			srv := newServer(t)
			sink, err := kafka.NewSink(config(t, c.Addrs()))
			if err != nil {
				t.Fatal(err)
			}
			defer sink.Close()
			src, err := kafka.NewSource(config(t, c.Addrs(), kafka.Sarama(testTuning)), "cancel", srv.Model("m"), sink)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- src.Run(ctx) }()
			if tc.gone {
				waitFor(t, "the source to join its group", func() bool { return src.Ready() == nil })
				c.Close()
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run after a cancel: %v, want nil", err)
				}
			case <-time.After(time.Minute):
				t.Fatal("Run did not return within a minute of the cancel")
			}
		})
	}
}
