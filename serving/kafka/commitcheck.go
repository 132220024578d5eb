package kafka

import (
	"sync"

	"github.com/IBM/sarama"
)

// commitCheck reads a group's committed offsets back after a commit, so
// that HookCommit hears only of offsets the group really stored.
// sarama's session Commit reports nothing to its caller: a refused
// commit goes to the group's error channel, and some failures (the
// coordinator moving, offsets still loading) are dropped silently until
// the next commit. It costs one OffsetFetch per commit, and only when a
// HookCommit is registered.
type commitCheck struct {
	mu    sync.Mutex
	admin sarama.ClusterAdmin
}

// committed returns, for each partition of marked, the offset the group
// has committed, or -1 when it cannot be read.
func (c *commitCheck) committed(s *Source, marked map[topicPartition]int64) map[topicPartition]int64 {
	out := make(map[topicPartition]int64, len(marked))
	parts := map[string][]int32{}
	for tp := range marked {
		out[tp] = -1
		parts[tp.Topic] = append(parts[tp.Topic], tp.Partition)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.admin == nil {
		admin, err := sarama.NewClusterAdmin(s.brokers, s.cfg)
		if err != nil {
			s.log.Warn("kafka source: cannot read committed offsets back", "group", s.group, "err", err)
			return out
		}
		c.admin = admin
	}
	resp, err := c.admin.ListConsumerGroupOffsets(s.group, parts)
	if err != nil {
		s.log.Warn("kafka source: cannot read committed offsets back", "group", s.group, "err", err)
		c.admin.Close()
		c.admin = nil
		return out
	}
	for tp := range marked {
		if b := resp.GetBlock(tp.Topic, tp.Partition); b != nil && b.Err == sarama.ErrNoError {
			out[tp] = b.Offset
		}
	}
	return out
}

func (c *commitCheck) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.admin != nil {
		c.admin.Close()
		c.admin = nil
	}
}
