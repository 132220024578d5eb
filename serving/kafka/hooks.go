package kafka

import "github.com/modelstream/modelstream/serving"

// HookDeadLetter is called by a [Source] when a record goes to the
// dead-letter topic, once Kafka has acknowledged the dead letter, with
// the record's origin and the reason.
type HookDeadLetter interface {
	OnDeadLetter(topic string, partition int32, offset int64, reason error)
}

// HookCommit is called by a [Source] after it commits offsets, with the
// offset of each partition that it then reads back from the group: the
// group holds offset, and every record of the partition before it has
// been scored, written and acknowledged. The offset read back may be past
// the one the Source took for the commit, since records acknowledged
// while the commit is sent go with it; an offset is reported once, and
// those reported for a partition grow. A commit the broker refused is
// not reported; it is tried again at the next commit interval. With
// [ExactlyOnce], it is called after each transaction commits, with the
// offset the transaction carried.
type HookCommit interface {
	OnCommit(topic string, partition int32, offset int64)
}

// HookLag is called by a [Source], once per commit interval, with the
// consumer lag of each partition it holds: the high-water mark minus the
// next offset to consume.
type HookLag interface {
	OnLag(topic string, partition int32, lag int64)
}

// hooks is the Source's dispatch table: the hooks it was given, sorted
// by the Hook* interfaces each implements. A value implementing several
// lands in each matching list.
type hooks struct {
	dead    []HookDeadLetter
	commits []HookCommit
	lags    []HookLag
}

func (h *hooks) add(x serving.Hook) {
	if v, ok := x.(HookDeadLetter); ok {
		h.dead = append(h.dead, v)
	}
	if v, ok := x.(HookCommit); ok {
		h.commits = append(h.commits, v)
	}
	if v, ok := x.(HookLag); ok {
		h.lags = append(h.lags, v)
	}
}
