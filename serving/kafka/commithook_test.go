package kafka_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestCommitHookHearsOnlyStoredCommits: while the broker refuses every
// offset commit of the group, HookCommit hears of none; once commits
// pass again, the refused offsets are committed at the next interval,
// with no new record, and the hook hears of the offsets the group then
// holds. It heard of every commit the Source attempted (sarama's session
// Commit reports no error to its caller), and a refused commit was not
// tried again until new records came.
func TestCommitHookHearsOnlyStoredCommits(t *testing.T) {
	const (
		group = "hook-refused"
		parts = 2
		n     = 200
	)
	c, r, hook, fault, refused := refusingCommits(t, group, parts, n)
	waitFor(t, "every record scored", func() bool { return r.src.Stats().Scored >= n })
	waitFor(t, "a refused commit", func() bool { return refused.Load() >= 1 })
	if got := c.Committed(t, group, kafka.DefaultDataTopic); len(got) != 0 {
		t.Fatalf("the fault let a commit through: %v", got)
	}
	if commits := hook.all(); len(commits) > 0 {
		t.Fatalf("HookCommit heard of %d commits the broker refused, first %+v", len(commits), commits[0])
	}

	fault.Remove()
	waitFor(t, "the hook to hear of every partition's end", func() bool {
		last := hook.last()
		return len(last) == parts && last[0]+last[1] == n
	})
	stored := c.Committed(t, group, kafka.DefaultDataTopic)
	for _, cm := range hook.all() {
		if cm.off > stored[cm.part] {
			t.Errorf("HookCommit heard of offset %d of partition %d; the group holds %d", cm.off, cm.part, stored[cm.part])
		}
	}
	r.stop(t)
}

// refusingCommits starts a Source of group, with a commitLog hook, over n
// records on parts data partitions, scored by a linear model, while the
// broker refuses every OffsetCommit of the group, counted in refused,
// until fault is removed.
func refusingCommits(t *testing.T, group string, parts, n int) (c *kafkatest.Cluster, r *running, hook *commitLog, fault *kfake.FaultHandle, refused *atomic.Int64) {
	t.Helper()
	c = kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, int32(parts)),
		kafkatest.Topic(kafka.DefaultScoresTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	refused = new(atomic.Int64)
	fault = c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Group: group, Count: -1,
		When: func(kmsg.Request) bool { refused.Add(1); return true }})
	hook = &commitLog{}
	keys, vals := records(0, n)
	produce(t, c, kafka.DefaultDataTopic, keys, vals)
	r = startSource(t, c, group, srv.Model("m"), kafka.Hooks(hook))
	return c, r, hook, fault, refused
}
