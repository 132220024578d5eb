package kafka

import (
	"context"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// commitCheck reads a group's committed offsets back after a commit, so
// that HookCommit hears only of offsets the group really stored.
// sarama's session Commit reports nothing to its caller: a refused
// commit goes to the group's error channel, and some failures (the
// coordinator moving, offsets still loading) are dropped silently until
// the next commit. It costs one OffsetFetch per commit, and only when a
// HookCommit is registered.
//
// sarama's admin takes no context, and a broker that does not answer
// holds it for its Net timeouts and retries (minutes by default). So the
// read-back runs in a goroutine of its own, and its caller waits for it
// at most until its context ends or readBackTimeout has passed: a hung
// read-back must not hold up the commits that follow, nor Run's return.
// A commit made while an earlier read-back is still running waits for it,
// within the same bound, and then reads its own: skipping it instead
// would leave the hooks without the offsets of the last commit, the one
// on the way out, whenever the periodic commit's read-back outlived
// its session.
type commitCheck struct {
	mu      sync.Mutex
	admin   sarama.ClusterAdmin // nil until first used, and after an error
	running chan struct{}       // closed when the running read-back ends; nil when none runs
	closed  bool
}

// readBackTimeout bounds how long a commit waits for its read-back.
func readBackTimeout(interval time.Duration) time.Duration { return max(interval, 5*time.Second) }

// committed returns, for each partition of marked, the offset the group
// has committed, or -1 when it cannot be read, in time or at all.
func (c *commitCheck) committed(ctx context.Context, s *Source, marked map[topicPartition]int64) map[topicPartition]int64 {
	unknown := func() map[topicPartition]int64 {
		out := make(map[topicPartition]int64, len(marked))
		for tp := range marked {
			out[tp] = -1
		}
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, readBackTimeout(s.o.interval))
	defer cancel()
	c.mu.Lock()
	for c.running != nil && !c.closed {
		running := c.running
		c.mu.Unlock()
		select {
		case <-running:
		case <-ctx.Done():
			s.log.Warn("kafka source: reading committed offsets back takes too long; the commit hooks hear of them later", "group", s.group, "err", ctx.Err())
			return unknown()
		}
		c.mu.Lock()
	}
	if c.closed {
		c.mu.Unlock()
		return unknown()
	}
	done := make(chan struct{})
	c.running = done
	admin := c.admin
	c.mu.Unlock()
	got := make(chan map[topicPartition]int64, 1)
	go func() { got <- c.read(s, admin, marked, done) }()
	select {
	case out := <-got:
		return out
	case <-ctx.Done():
		s.log.Warn("kafka source: reading committed offsets back takes too long; the commit hooks hear of them later", "group", s.group, "err", ctx.Err())
		return unknown()
	}
}

// read reads the committed offsets of marked with admin, or with a new
// admin when admin is nil, leaves the admin for the next read, and
// closes done.
func (c *commitCheck) read(s *Source, admin sarama.ClusterAdmin, marked map[topicPartition]int64, done chan struct{}) map[topicPartition]int64 {
	defer func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.running = nil
		close(done)
		if c.closed && admin != nil {
			admin.Close()
			admin = nil
		}
		c.admin = admin
	}()
	out := make(map[topicPartition]int64, len(marked))
	parts := map[string][]int32{}
	for tp := range marked {
		out[tp] = -1
		parts[tp.Topic] = append(parts[tp.Topic], tp.Partition)
	}
	if admin == nil {
		var err error
		if admin, err = sarama.NewClusterAdmin(s.brokers, s.cfg); err != nil {
			s.log.Warn("kafka source: cannot read committed offsets back", "group", s.group, "err", err)
			return out
		}
	}
	resp, err := admin.ListConsumerGroupOffsets(s.group, parts)
	if err != nil {
		s.log.Warn("kafka source: cannot read committed offsets back", "group", s.group, "err", err)
		admin.Close()
		admin = nil
		return out
	}
	for tp := range marked {
		if b := resp.GetBlock(tp.Topic, tp.Partition); b != nil && b.Err == sarama.ErrNoError {
			out[tp] = b.Offset
		}
	}
	return out
}

// close closes the admin, at once or, when a read-back is running, as
// soon as it ends.
func (c *commitCheck) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.running == nil && c.admin != nil {
		c.admin.Close()
		c.admin = nil
	}
}
