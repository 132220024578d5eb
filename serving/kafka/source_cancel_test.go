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
			sink, err := kafka.NewSink(t.Context(), config(t, c.Addrs()))
			if err != nil {
				t.Fatal(err)
			}
			defer sink.Close()
			src, err := kafka.NewSource(config(t, c.Addrs(), kafka.Sarama(testTuning)), "cancel", srv.Model("m"), sink, kafka.Topics(kafka.DefaultDataTopic))
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

// TestSourceCommitsOnStop: a Source cancelled between two commit
// intervals commits what it acknowledged on its way out, so that the
// next owner of the partitions replays nothing. Here the interval is an
// hour: only the commit at the stop can store the offsets.
func TestSourceCommitsOnStop(t *testing.T) {
	const group, n = "commit-on-stop", 300
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 2),
		kafkatest.Topic(kafka.DefaultScoresTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	keys, vals := records(0, n)
	produce(t, c, kafka.DefaultDataTopic, keys, vals)
	r := startSource(t, c, group, srv.Model("m"), kafka.CommitInterval(time.Hour))
	waitFor(t, "every record scored", func() bool { return r.src.Stats().Scored == n })
	if got := c.Committed(t, group, kafka.DefaultDataTopic); len(got) != 0 {
		t.Fatalf("committed %v before the stop, with an interval of an hour", got)
	}
	r.stop(t)
	got := c.Committed(t, group, kafka.DefaultDataTopic)
	if got[0]+got[1] != n {
		t.Errorf("after the stop the group committed %v, want offsets adding up to %d", got, n)
	}
}
