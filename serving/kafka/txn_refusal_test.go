package kafka_test

import (
	"context"
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
		kafka.ExactlyOnce(), kafka.CommitInterval(time.Second))
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
