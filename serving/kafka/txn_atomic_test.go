package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestExactlyOnceOutputsCommitWithOffsets: under ExactlyOnce the outputs
// of a run of records and the offset after them commit together or not
// at all. Here the group coordinator refuses every offset a transaction
// carries, so every transaction aborts: a read_uncommitted reader sees
// an output for every input, written in the aborted transactions, and a
// read_committed reader sees none, nor does the group commit an offset.
// It catches an output written outside the transaction (through the
// Sink's own producer, say) and an offset committed outside it (by the
// consumer group), both of which let a read_committed reader see the
// outputs of records the group will read and score again; see the
// mutants txn-outputs-outside-transaction and
// txn-offsets-outside-transaction of internal/mutate.
func TestExactlyOnceOutputsCommitWithOffsets(t *testing.T) {
	const (
		n     = 20
		group = "eos-atomic"
	)
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1),
		kafkatest.Topic(kafka.DefaultScoresTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.TxnOffsetCommit}, Err: kerr.IllegalGeneration, Count: -1})
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	keys, vals := lateFailureRecords(0, n) // every tenth is dead-lettered: both kinds of output
	produce(t, c, kafka.DefaultDataTopic, keys, vals)
	inputs := map[int32]int64{0: n}

	r := startSource(t, c, group, srv.Model("m"), kafka.ExactlyOnce(), kafka.CommitInterval(20*time.Millisecond))
	all := readOutputs(t, c.Addrs(), sarama.ReadUncommitted)
	all.until(t, inputs, 0, time.Minute)
	r.stop(t)
	if st := r.src.Stats(); st.Commits != 0 || st.Aborts == 0 {
		t.Errorf("stats %+v: want every transaction aborted, none committed", st)
	}

	committed := readOutputs(t, c.Addrs(), sarama.ReadCommitted)
	select {
	case m := <-committed.msgs:
		committed.add(t, m)
		t.Errorf("read_committed saw an output, though no transaction could commit its offset: %s/%d offset %d, answering input %v",
			m.Topic, m.Partition, m.Offset, firstKey(committed.count))
	case <-time.After(time.Second):
	}
	if got := groupOffsets(c.Addrs(), group, inputs); got[0] != -1 {
		t.Errorf("the group committed offset %d; want none", got[0])
	}
}

// firstKey returns a key of m.
func firstKey(m map[origin]int) origin {
	for k := range m {
		return k
	}
	return origin{-1, -1}
}
