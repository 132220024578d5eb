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

// TestStatsCommitsCountsNewOffsetsOnly: while the broker refuses every
// offset commit, the Source sends the same offsets again at each
// interval; Stats().Commits counts them once, and does not grow when they
// finally pass, only when new records are committed. With a commit hook
// installed it grew at every interval (the hook's bookkeeping put the
// unconfirmed offsets back as if newly marked), without one it did not.
func TestStatsCommitsCountsNewOffsetsOnly(t *testing.T) {
	const (
		group = "stats-commits"
		n     = 100
	)
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1),
		kafkatest.Topic(kafka.DefaultScoresTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	var refused atomic.Int64
	fault := c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Group: group, Count: -1,
		When: func(kmsg.Request) bool { refused.Add(1); return true }})
	hook := &commitLog{}
	keys, vals := records(0, n)
	produce(t, c, kafka.DefaultDataTopic, keys, vals)
	r := startSource(t, c, group, srv.Model("m"), kafka.Hooks(hook))
	waitFor(t, "every record scored", func() bool { return r.src.Stats().Scored >= n })
	// Two more refusals: a commit has been sent since the last mark.
	from := refused.Load()
	waitFor(t, "two refused commits after the last record", func() bool { return refused.Load() >= from+2 })
	commits := r.src.Stats().Commits
	if commits == 0 {
		t.Fatal("Stats().Commits is 0 after the records were committed")
	}
	from = refused.Load()
	waitFor(t, "three more refused commits", func() bool { return refused.Load() >= from+3 })
	if got := r.src.Stats().Commits; got != commits {
		t.Errorf("Stats().Commits went from %d to %d while the same offsets were sent again", commits, got)
	}

	fault.Remove()
	waitFor(t, "the hook to hear of the end", func() bool {
		last := hook.last()
		return len(last) == 1 && last[0] == n
	})
	if got := r.src.Stats().Commits; got != commits {
		t.Errorf("Stats().Commits went from %d to %d when the same offsets passed", commits, got)
	}
	keys, vals = records(n, 10)
	produce(t, c, kafka.DefaultDataTopic, keys, vals)
	waitFor(t, "a commit of the new records", func() bool { return r.src.Stats().Commits > commits })
	r.stop(t)
}
