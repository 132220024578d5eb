package kafka_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestExactlyOnceRefusalAbortsAtOnce: when the broker refuses one write
// of a transaction for what it is (here INVALID_RECORD), the writes the
// transactional producer still holds fail at once, and the transaction
// aborts: the partition is read again, the refused record alone, and
// every input is answered and committed, with a RetryTimeout of ten
// minutes. sarama retried each held write, as if its connection had
// failed, for the whole RetryTimeout: its transaction, already failed,
// could only refuse them again (the abortable error it holds), so the
// partition stood still for RetryTimeout (30 s by default) before the
// abort. TestExactlyOnceAborts spent 30 of its 35 s there, and under load
// ran out of its minute. Those retries, without backoff, are bounded by
// the backoff's cap for a long RetryTimeout: with the cap at 1 s, this
// test's producer refreshed the scores topic's metadata 1,208 times (two
// runs of 603 retries, one refresh each); now 80.
//
// The first transactional write of a score is held by the broker until
// the Source has handed it the records after it, then refused.
func TestExactlyOnceRefusalAbortsAtOnce(t *testing.T) {
	if raceEnabled {
		t.Skip("race detector on: sarama races with itself on a refused transactional write (see race_on_test.go)")
	}
	const (
		n     = 400
		group = "eos-refusal"
	)
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1),
		kafkatest.Topic(kafka.DefaultScoresTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	keys, vals := records(0, n)
	produce(t, c, kafka.DefaultDataTopic, keys, vals)
	inputs := inputCounts(t, c, kafka.DefaultDataTopic)

	kc := c.Fake()
	transactional := func(req kmsg.Request) bool {
		pr, ok := req.(*kmsg.ProduceRequest)
		if !ok || pr.TransactionID == nil {
			return false
		}
		for _, tp := range pr.Topics {
			if tp.Topic == kafka.DefaultScoresTopic {
				return true
			}
		}
		return false
	}
	release := make(chan struct{})
	var held atomic.Bool
	kc.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		if transactional(req) && !held.Swap(true) {
			kc.SleepControl(func() { <-release })
		}
		return nil, nil, false // on to the fault below
	})
	var refused atomic.Int64
	kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: kafka.DefaultScoresTopic, Err: kerr.InvalidRecord, Count: 1,
		When: func(req kmsg.Request) bool {
			if !transactional(req) {
				return false
			}
			refused.Add(1)
			return true
		}})

	// Each retry of a write held by the producer in error refreshes the
	// metadata of the scores topic alone.
	var refreshes atomic.Int64
	kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Count: -1, When: func(req kmsg.Request) bool {
		if mr := req.(*kmsg.MetadataRequest); len(mr.Topics) == 1 && mr.Topics[0].Topic != nil && *mr.Topics[0].Topic == kafka.DefaultScoresTopic {
			refreshes.Add(1)
		}
		return false
	}})

	opts := []kafka.Option{kafka.RetryTimeout(10 * time.Minute)}
	sink, err := kafka.NewSink(t.Context(), config(t, c.Addrs(), opts...))
	if err != nil {
		t.Fatal(err)
	}
	src, err := kafka.NewSource(config(t, c.Addrs(), append(opts, kafka.Sarama(testTuning))...), group, srv.Model("m"), sink,
		kafka.ExactlyOnce(), kafka.CommitInterval(time.Second), kafka.Topics(kafka.DefaultDataTopic))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{src: src, sink: sink, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- src.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })

	// Every input read: the transaction's first write is held, and the
	// scores after it wait behind it in the producer.
	waitFor(t, "the Source to read every input", func() bool { return r.src.Stats().Consumed >= n })
	time.Sleep(300 * time.Millisecond)
	close(release)

	waitFor(t, "every input committed", func() bool { return allCommitted(c.Addrs(), group, inputs) })
	r.stop(t)
	st := r.src.Stats()
	t.Logf("stats %+v", st)
	if refused.Load() != 1 || st.Aborts == 0 {
		t.Fatalf("the broker refused %d writes and the Source aborted %d transactions; want 1 and at least 1", refused.Load(), st.Aborts)
	}
	// The suspects, the records of the aborted transaction from the
	// refused write on (some 250), are written in parts, halving: some
	// 8 transactions, where one each took 250.
	if st.Commits > 20 {
		t.Errorf("%d transactions committed for %d records, one refused once: the suspects were not written in halves", st.Commits, n)
	}
	// 39 retries over ten minutes (TestRetriesBounded), each with a
	// refresh; 603 with the backoff capped at 1 s.
	t.Logf("%d metadata refreshes of the scores topic", refreshes.Load())
	if n := refreshes.Load(); n > 100 {
		t.Errorf("%d metadata refreshes of the scores topic: the retries of the writes held by the producer in error are not bounded", n)
	}
	committed := readOutputs(t, c.Addrs(), sarama.ReadCommitted)
	committed.until(t, inputs, time.Second, time.Minute)
	if lost, dups := committed.check(inputs); lost != 0 || dups != 0 {
		t.Errorf("read_committed: %d inputs lost, %d duplicated; want exactly one output each", lost, dups)
	}
}

// TestExactlyOncePoisonAmongSuspects: a poison record, whose score the
// broker refuses at every attempt (larger than the scores topic takes),
// is named and dead-lettered with kafka.ErrWrite among the suspects of
// an aborted transaction, in a few dozen transactions at most, and every
// input has exactly one output:
//   - at offset 150, when the broker also refused the first
//     transactional write of scores once (INVALID_RECORD), which makes
//     the records of that transaction, some 250, suspects. When each
//     suspect was written in a transaction of its own, this took 152
//     transactions and 2 aborts; now 13 to 20, and 4 or 5;
//   - at offset 5, where the poison record's own refusal starts the
//     suspects (the broker refuses the batch of writes that holds it
//     whole, and the writes after it fail with the transaction): it
//     took 8 transactions and 2 aborts, and takes some 7 and 3. Halving
//     the suspects instead took 9 aborts, each a rejoin of the group.
//
// The suspects are written in parts of doubling size, each in a
// transaction of its own: the part that holds the poison record is
// refused, and becomes the new range.
func TestExactlyOncePoisonAmongSuspects(t *testing.T) {
	if raceEnabled {
		t.Skip("race detector on: sarama races with itself on a refused transactional write (see race_on_test.go)")
	}
	for _, tc := range []struct {
		name      string
		poison    int64
		refuse    bool // the first transactional write of scores, once
		maxAborts uint64
	}{
		{"first write refused, poison at 150", 150, true, 8},
		{"poison at 5", 5, false, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testPoisonAmongSuspects(t, tc.poison, tc.refuse, tc.maxAborts)
		})
	}
}

func testPoisonAmongSuspects(t *testing.T, poison int64, refuse bool, maxAborts uint64) {
	const (
		n     = 400
		group = "eos-poison-suspects"
	)
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1),
		kafkatest.Topic(kafka.DefaultScoresTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	setTopicConfig(t, c, kafka.DefaultScoresTopic, "max.message.bytes", "300000")
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	keys, vals := records(0, n)
	// Its score holds its key, twice, in random letters that LZ4 cannot
	// shrink below the topic's limit.
	rng := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 200_000)
	for i := range big {
		big[i] = byte('a' + rng.IntN(26))
	}
	keys[poison] = string(big)
	produce(t, c, kafka.DefaultDataTopic, keys, vals)
	inputs := inputCounts(t, c, kafka.DefaultDataTopic)
	var refused atomic.Int64
	if refuse {
		c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: kafka.DefaultScoresTopic, Err: kerr.InvalidRecord, Count: 1,
			When: func(req kmsg.Request) bool {
				if req.(*kmsg.ProduceRequest).TransactionID == nil {
					return false
				}
				refused.Add(1)
				return true
			}})
	}

	r := startSource(t, c, group, srv.Model("m"), kafka.ExactlyOnce(), kafka.CommitInterval(time.Second))
	waitFor(t, "every input committed", func() bool { return allCommitted(c.Addrs(), group, inputs) })
	r.stop(t)
	st := r.src.Stats()
	t.Logf("stats %+v", st)
	if refuse && refused.Load() != 1 {
		t.Errorf("the broker refused %d writes once, want 1", refused.Load())
	}
	if st.Aborts < 2 || st.Aborts > maxAborts {
		t.Errorf("%d transactions aborted; want 2 (the poison record's two refusals, the second alone) to %d", st.Aborts, maxAborts)
	}
	if txns := st.Commits + st.Aborts; txns > 40 {
		t.Errorf("%d transactions (%d committed, %d aborted) for %d records: the suspects were not written in parts of doubling size", txns, st.Commits, st.Aborts, n)
	}
	committed := readOutputs(t, c.Addrs(), sarama.ReadCommitted)
	committed.until(t, inputs, time.Second, time.Minute)
	if lost, dups := committed.check(inputs); lost != 0 || dups != 0 {
		t.Errorf("read_committed: %d inputs lost, %d duplicated; want exactly one output each", lost, dups)
	}
	for o, dl := range committed.dead {
		if o != (origin{0, poison}) {
			t.Errorf("input %v dead-lettered: %s", o, dl.Reason)
		} else if !strings.Contains(dl.Reason, kafka.ErrWrite.Error()) {
			t.Errorf("the poison record is dead-lettered for %q, want kafka.ErrWrite", dl.Reason)
		}
	}
	if _, ok := committed.dead[origin{0, poison}]; !ok {
		t.Error("the poison record has no dead letter")
	}
}
