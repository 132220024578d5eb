package kafka_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestSourceRetriesARefusedCommit: the coordinator refuses the
// at-least-once Source's first commit (OFFSETS_LOAD_IN_PROGRESS, which
// sarama leaves pending for the next commit), after every record was
// marked and no more arrive. The Source commits them at a later
// interval all the same; it used to leave them uncommitted until the
// next record came, which on a quiet topic is never.
func TestSourceRetriesARefusedCommit(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	keys, vals := records(0, 200)
	produce(t, c, kafka.DefaultDataTopic, keys, vals)
	var refused atomic.Int64
	c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Err: kerr.CoordinatorLoadInProgress, Count: 1,
		When: func(kmsg.Request) bool { refused.Add(1); return true }})
	r := startSource(t, c, "refused-commit", srv.Model("m"), kafka.CommitInterval(300*time.Millisecond))
	waitFor(t, "every record scored", func() bool { return r.src.Stats().Scored == 200 })
	waitFor(t, "a commit refused", func() bool { return refused.Load() > 0 })
	ends := map[int32]int64{0: 200}
	deadline := time.Now().Add(10 * time.Second)
	for !allCommitted(c.Addrs(), "refused-commit", ends) {
		if time.Now().After(deadline) {
			t.Fatalf("10s after a refused commit, the group has committed %v of %v", groupOffsets(c.Addrs(), "refused-commit", ends), ends)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
