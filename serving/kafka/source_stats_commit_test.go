package kafka_test

import (
	"testing"

	"github.com/modelstream/modelstream/serving/kafka"
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
	c, r, hook, fault, refused := refusingCommits(t, group, 1, n)
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
	keys, vals := records(n, 10)
	produce(t, c, kafka.DefaultDataTopic, keys, vals)
	waitFor(t, "a commit of the new records", func() bool { return r.src.Stats().Commits > commits })
	r.stop(t)
}
