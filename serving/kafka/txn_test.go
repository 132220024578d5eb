package kafka_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// tally counts the outputs of the scores and dead-letter topics, read
// with one isolation level, by the input each answers.
type tally struct {
	msgs  chan *sarama.ConsumerMessage
	count map[origin]int
	dead  map[origin]wire.DeadLetter
	n     int // outputs read
}

// readOutputs reads every partition of the scores and dead-letter topics
// from the start with isolation level iso.
func readOutputs(t testing.TB, addrs []string, iso sarama.IsolationLevel) *tally {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = kafka.DefaultVersion
	cfg.Consumer.IsolationLevel = iso
	client, err := sarama.NewClient(addrs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	tl := &tally{msgs: make(chan *sarama.ConsumerMessage, 1<<16), count: map[origin]int{}, dead: map[origin]wire.DeadLetter{}}
	var pcs []sarama.PartitionConsumer
	for _, topic := range []string{kafka.DefaultScoresTopic, kafka.DefaultDeadLetterTopic} {
		parts, err := client.Partitions(topic)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
			if err != nil {
				t.Fatal(err)
			}
			pcs = append(pcs, pc)
			go func() {
				for m := range pc.Messages() {
					tl.msgs <- m
				}
			}()
		}
	}
	t.Cleanup(func() {
		for _, pc := range pcs {
			pc.AsyncClose()
		}
		cons.Close()
		client.Close()
	})
	return tl
}

func (tl *tally) add(t testing.TB, m *sarama.ConsumerMessage) {
	t.Helper()
	var at origin
	if m.Topic == kafka.DefaultScoresTopic {
		s := decodeScore(t, m)
		at = origin{s.Partition, s.Offset}
	} else {
		dl, err := wire.ParseDeadLetter(kafka.Headers(m))
		if err != nil {
			t.Fatalf("dead letter: %v", err)
		}
		at = origin{dl.Partition, dl.Offset}
		tl.dead[at] = dl
	}
	tl.count[at]++
	tl.n++
}

// until reads outputs until every input of inputs (partition -> count)
// has one, then for quiet more, and fails the test if that takes longer
// than limit.
func (tl *tally) until(t testing.TB, inputs map[int32]int64, quiet, limit time.Duration) {
	t.Helper()
	complete := func() bool {
		for p, n := range inputs {
			for off := range n {
				if tl.count[origin{p, off}] == 0 {
					return false
				}
			}
		}
		return true
	}
	deadline := time.After(limit)
	for !complete() {
		select {
		case m := <-tl.msgs:
			tl.add(t, m)
			for len(tl.msgs) > 0 {
				tl.add(t, <-tl.msgs)
			}
		case <-deadline:
			lost, _ := tl.check(inputs)
			t.Fatalf("after %v, %d inputs still have no output", limit, lost)
		}
	}
	for {
		select {
		case m := <-tl.msgs:
			tl.add(t, m)
		case <-time.After(quiet):
			return
		}
	}
}

// check returns how many inputs have no output and how many outputs
// are duplicates.
func (tl *tally) check(inputs map[int32]int64) (lost, dups int) {
	for p, n := range inputs {
		for off := range n {
			switch c := tl.count[origin{p, off}]; {
			case c == 0:
				lost++
			case c > 1:
				dups += c - 1
			}
		}
	}
	return lost, dups
}

// inputCounts returns the number of records in each partition of topic.
func inputCounts(t testing.TB, c *kafkatest.Cluster, topic string) map[int32]int64 {
	t.Helper()
	client, err := sarama.NewClient(c.Addrs(), sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	for _, p := range parts {
		out[p] = highWater(t, client, topic, p)
	}
	return out
}

// allCommitted reports whether group has committed the end of every
// partition of the data topic (partition -> end offset).
func allCommitted(addrs []string, group string, ends map[int32]int64) bool {
	got := groupOffsets(addrs, group, ends)
	for p, end := range ends {
		if got[p] != end {
			return false
		}
	}
	return true
}

// groupOffsets returns the offsets group has committed of the partitions
// of the data topic listed in ends; the value is -1 for a partition
// without a commit, or all of them if the group cannot be asked.
func groupOffsets(addrs []string, group string, ends map[int32]int64) map[int32]int64 {
	out := map[int32]int64{}
	for p := range ends {
		out[p] = -1
	}
	cfg := sarama.NewConfig()
	cfg.Version = kafka.DefaultVersion
	admin, err := sarama.NewClusterAdmin(addrs, cfg)
	if err != nil {
		return out
	}
	defer admin.Close()
	ps := make([]int32, 0, len(ends))
	for p := range ends {
		ps = append(ps, p)
	}
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{kafka.DefaultDataTopic: ps})
	if err != nil {
		return out
	}
	for p := range ends {
		if b := resp.GetBlock(kafka.DefaultDataTopic, p); b != nil && b.Err == sarama.ErrNoError {
			out[p] = b.Offset
		}
	}
	return out
}

// setTopicConfig sets one configuration of a topic.
func setTopicConfig(t testing.TB, c *kafkatest.Cluster, topic, key, value string) {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = kafka.DefaultVersion
	admin, err := sarama.NewClusterAdmin(c.Addrs(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.AlterConfig(sarama.TopicResource, topic, map[string]*string{key: &value}, false); err != nil {
		t.Fatal(err)
	}
}

// TestExactlyOnceAborts runs an exactly-once Source through transaction
// failures of every kind:
//   - the broker refuses one score once (INVALID_RECORD), which aborts
//     the transaction and makes the refused record a suspect, written
//     alone in a transaction of its own when it is read again;
//   - the group coordinator refuses the transaction's offsets once
//     (ILLEGAL_GENERATION: an abortable error);
//   - the transaction coordinator fails one EndTxn (a fatal error for
//     the producer, which is closed; the partition's next producer
//     aborts the transaction it left open);
//   - a poison record, whose score is larger than the scores topic
//     accepts, is refused at every attempt: it is dead-lettered with
//     kafka.ErrWrite after its second refusal, and the stream goes on.
//
// Every tenth record is also not JSON, and dead-lettered in the same
// transactions as the scores. A read_committed reader then sees exactly
// one output per input, and a read_uncommitted reader more: the outputs
// of the aborted transactions.
func TestExactlyOnceAborts(t *testing.T) {
	const (
		parts = 3
		n     = 3000
		group = "eos-aborts"
	)
	c := kafkatest.New(t, kafkatest.NumBrokers(2), kafkatest.Topic(kafka.DefaultDataTopic, parts),
		kafkatest.Topic(kafka.DefaultScoresTopic, 2), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	// A score of the poison record (its key, twice, in random letters
	// that LZ4 cannot shrink) is larger than this; a batch of ordinary
	// scores, compressed, is far smaller.
	refusals := !raceEnabled // see race_on_test.go
	if refusals {
		setTopicConfig(t, c, kafka.DefaultScoresTopic, "max.message.bytes", "300000")
	} else {
		t.Log("race detector on: the broker refuses no write (sarama races with itself on a refused transactional write)")
	}
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	keys, vals := lateFailureRecords(0, n)
	rng := rand.New(rand.NewPCG(7, 9))
	poison := make([]byte, 200_000)
	for i := range poison {
		poison[i] = byte('a' + rng.IntN(26))
	}
	if refusals {
		keys[n/2] = string(poison)
		vals[n/2] = []byte("[1, 2, 3]")
	}

	var refused, illegal, endFailed atomic.Int64
	var skipProduce, skipOffsets, skipEnd atomic.Int64
	skipProduce.Store(5)
	skipOffsets.Store(8)
	skipEnd.Store(12)
	once := func(skip, hit *atomic.Int64) func(kmsg.Request) bool {
		return func(kmsg.Request) bool {
			if skip.Add(-1) >= 0 {
				return false
			}
			hit.Add(1)
			return true
		}
	}
	if refusals {
		c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: kafka.DefaultScoresTopic, Err: kerr.InvalidRecord, Count: 1, When: once(&skipProduce, &refused)})
	}
	c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.TxnOffsetCommit}, Err: kerr.IllegalGeneration, Count: 1, When: once(&skipOffsets, &illegal)})
	c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.InvalidTxnState, Count: 1, TopLevel: true, When: once(&skipEnd, &endFailed)})

	produce(t, c, kafka.DefaultDataTopic, keys, vals)
	inputs := inputCounts(t, c, kafka.DefaultDataTopic)
	r := startSource(t, c, group, srv.Model("m"), kafka.ExactlyOnce(), kafka.Window(64), kafka.CommitInterval(50*time.Millisecond))
	waitFor(t, "every input committed", func() bool { return allCommitted(c.Addrs(), group, inputs) })
	r.stop(t)
	st := r.src.Stats()
	t.Logf("stats %+v; faults: produce %d, offsets %d, end %d", st, refused.Load(), illegal.Load(), endFailed.Load())
	if (refusals && refused.Load() == 0) || illegal.Load() == 0 || endFailed.Load() == 0 {
		t.Fatalf("not every fault was met: produce %d, offsets %d, end %d", refused.Load(), illegal.Load(), endFailed.Load())
	}
	if want := map[bool]uint64{true: 5, false: 2}[refusals]; st.Aborts < want {
		t.Errorf("%d transactions aborted, want at least %d (one per fault, two for the poison record)", st.Aborts, want)
	}

	committed := readOutputs(t, c.Addrs(), sarama.ReadCommitted)
	committed.until(t, inputs, time.Second, time.Minute)
	lost, dups := committed.check(inputs)
	t.Logf("read_committed: %d outputs for %d inputs: %d lost, %d duplicated", committed.n, n, lost, dups)
	if lost != 0 || dups != 0 {
		t.Errorf("read_committed: %d inputs lost, %d duplicated; want exactly one output each", lost, dups)
	}
	// The poison record is dead-lettered for its write.
	at := origin{-1, -1}
	found := false
	for p, cnt := range inputs {
		for off := range cnt {
			if dl, ok := committed.dead[origin{p, off}]; ok && strings.Contains(dl.Reason, kafka.ErrWrite.Error()) {
				at, found = origin{p, off}, true
			}
		}
	}
	if !found && refusals {
		t.Error("the poison record has no dead letter naming kafka.ErrWrite")
	} else if found {
		t.Logf("poison record %v dead-lettered: %s", at, committed.dead[at].Reason)
	}
	bad := 0
	for o, dl := range committed.dead {
		if dl.Stage != wire.StageDecode && o != at {
			t.Errorf("input %v dead-lettered at stage %s: %s", o, dl.Stage, dl.Reason)
		}
		if dl.Stage == wire.StageDecode {
			bad++
		}
	}
	if bad != n/10 {
		t.Errorf("%d inputs dead-lettered as undecodable, want %d", bad, n/10)
	}

	all := readOutputs(t, c.Addrs(), sarama.ReadUncommitted)
	all.until(t, inputs, time.Second, time.Minute)
	if all.n <= committed.n {
		t.Errorf("read_uncommitted saw %d outputs, read_committed %d: the aborted transactions wrote nothing, so the test did not exercise them", all.n, committed.n)
	}
}

// TestExactlyOnceConfig: settings under which exactly-once cannot hold
// are refused with serving.ErrConfig.
func TestExactlyOnceConfig(t *testing.T) {
	c := kafkatest.New(t)
	sink, err := kafka.NewSink(t.Context(), config(t, c.Addrs()))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	scorer := newServer(t).Model("m")
	for name, tc := range map[string]struct {
		tune func(*sarama.Config)
		opts []kafka.SourceOption
	}{
		"protocol before 2.5":         {tune: func(c *sarama.Config) { c.Version = sarama.V2_4_0_0 }},
		"read_uncommitted":            {tune: func(c *sarama.Config) { c.Consumer.IsolationLevel = sarama.ReadUncommitted }},
		"interval beyond the timeout": {opts: []kafka.SourceOption{kafka.CommitInterval(time.Minute)}},
	} {
		cfg := config(t, c.Addrs())
		if tc.tune != nil {
			cfg = config(t, c.Addrs(), kafka.Sarama(tc.tune))
		}
		_, err := kafka.NewSource(cfg, "g", scorer, sink, append([]kafka.SourceOption{kafka.Topics(kafka.DefaultDataTopic), kafka.ExactlyOnce()}, tc.opts...)...)
		if !errors.Is(err, serving.ErrConfig) {
			t.Errorf("%s: NewSource returned %v, want serving.ErrConfig", name, err)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if _, err := kafka.NewSource(config(t, c.Addrs()), "g", scorer, sink, kafka.ExactlyOnce(), kafka.Topics(kafka.DefaultDataTopic)); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// TestExactlyOnceRefusedProducer: a cluster that refuses the Source its
// transactional producers (here every InitProducerId with a
// transactional ID: TRANSACTIONAL_ID_AUTHORIZATION_FAILED) stops Run with
// the error, rather than leaving the Source to rejoin its group without
// end.
func TestExactlyOnceRefusedProducer(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 2))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	keys, vals := records(0, 10)
	produce(t, c, kafka.DefaultDataTopic, keys, vals)
	c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.InitProducerID}, Err: kerr.TransactionalIDAuthorizationFailed, Count: -1,
		When: func(r kmsg.Request) bool { return r.(*kmsg.InitProducerIDRequest).TransactionalID != nil }})
	r := startSource(t, c, "eos-refused", srv.Model("m"), kafka.ExactlyOnce())
	select {
	case err := <-r.done:
		r.cancel = nil
		r.sink.Close()
		if !errors.Is(err, sarama.ErrTransactionalIDAuthorizationFailed) {
			t.Fatalf("Run returned %v, want the refusal", err)
		}
		t.Logf("Run: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("Run did not stop within a minute of its producers being refused")
	}
	if st := r.src.Stats(); st.Scored != 0 || st.Commits != 0 {
		t.Errorf("stats %+v: nothing can have been written", st)
	}
}
