package kafka_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving/kafka"
)

// TestExactlyOnceRidesOutFailover is TestSourceRidesOutFailover under
// ExactlyOnce: on the 3-broker cluster, a leader change, or a broker
// that dies having coordinated the Source's group and the transactions
// of two of its partitions, and led a data partition, every scores
// partition and the models topic, lasting longer
// than the producers' own retries and shorter than RetryTimeout, does
// not stop Run; and a read_committed reader of the scores and dead
// letters sees every input, written before, during and after the
// outage, exactly once, with the group's offsets committed to the end.
func TestExactlyOnceRidesOutFailover(t *testing.T) {
	testExactlyOnceOutage(t, 4*time.Second, 2500*time.Millisecond, false)
}

// TestExactlyOnceOutageBeyondRetryTimeout: the same outages, lasting
// three times RetryTimeout, which stop an at-least-once Source (see
// TestSourceOutageBeyondRetryTimeout), do not stop an exactly-once one:
// it holds no write that it could lose, aborts what it wrote, and reads
// its partitions again once the cluster is back; a read_committed
// reader then sees every input exactly once.
func TestExactlyOnceOutageBeyondRetryTimeout(t *testing.T) {
	testExactlyOnceOutage(t, 1500*time.Millisecond, 4500*time.Millisecond, true)
}

// testExactlyOnceOutage runs the outages of limit and lasts on a Source
// that holds writes into them: it has read inputs that its gate holds in
// scoring until the outage has begun. If aborts, the Source must have
// aborted a transaction.
func testExactlyOnceOutage(t *testing.T, limit, lasts time.Duration, aborts bool) {
	if raceEnabled {
		t.Skip("race detector on: sarama races with itself on a failed transactional write (see race_on_test.go)")
	}
	for _, shape := range []string{leaderChange, brokerDown} {
		t.Run(shape, func(t *testing.T) {
			c, victim, group := failoverCluster(t, shape == brokerDown)
			// The brokers coordinating the partitions' transactional IDs
			// (group/topic/partition): the victim's fail over with it.
			coord := make([]int32, 3)
			for p := range coord {
				coord[p] = c.Fake().CoordinatorFor(fmt.Sprintf("%s/%s/%d", group, kafka.DefaultDataTopic, p))
			}
			t.Logf("victim %d; transaction coordinators of data partitions 0-2: %v", victim, coord)
			if shape == brokerDown && !slices.Contains(coord, victim) {
				t.Fatalf("the victim coordinates no transactional ID of the Source: the outage would not cover a transaction coordinator's failover")
			}
			prod := retryingProducer(t, c)
			send(t, prod, 0, 500)
			r, gate := startTxnFailoverSource(t, c.Addrs(), group, kafka.RetryTimeout(limit))
			out := readOutputs(t, c.Addrs(), sarama.ReadCommitted)
			out.until(t, inputCounts(t, c, kafka.DefaultDataTopic), 0, time.Minute)

			// Inputs keep arriving before, during and after the outage.
			// The Source reads some before it begins, and writes their
			// outputs into it.
			gate.shut()
			read := r.src.Stats().Consumed
			stopSending := keepSending(t, prod)
			waitFor(t, "the Source to read inputs it holds", func() bool { return r.src.Stats().Consumed > read })
			time.Sleep(300 * time.Millisecond)
			end := outage(t, c, shape, victim)
			start := time.Now()
			gate.open()
			time.Sleep(lasts)
			end()
			t.Logf("outage of %v ended; source %+v", time.Since(start).Round(time.Millisecond), r.src.Stats())
			time.Sleep(300 * time.Millisecond)
			stopSending()
			send(t, prod, 100000, 500)

			inputs := inputCounts(t, c, kafka.DefaultDataTopic)
			waitFor(t, "every input committed", func() bool {
				select {
				case err := <-r.done:
					r.done <- err
					t.Fatalf("Run returned %v; source %+v", err, r.src.Stats())
				default:
				}
				return allCommitted(c.Addrs(), group, inputs)
			})
			r.stop(t)
			if st := r.src.Stats(); aborts && st.Aborts == 0 {
				t.Errorf("no transaction aborted in an outage of %v with RetryTimeout(%v); source %+v", lasts, limit, st)
			}
			out.until(t, inputs, 2*time.Second, time.Minute)
			lost, dups := out.check(inputs)
			n := 0
			for _, k := range inputs {
				n += int(k)
			}
			t.Logf("read_committed: %d outputs for %d inputs: %d lost, %d duplicated; source %+v", out.n, n, lost, dups, r.src.Stats())
			if lost != 0 || dups != 0 {
				t.Errorf("%d inputs lost, %d duplicated", lost, dups)
			}
		})
	}
}

// startTxnFailoverSource starts an exactly-once Source, and its Sink,
// whose Config has opts.
func startTxnFailoverSource(t *testing.T, addrs []string, group string, opts ...kafka.Option) (*running, *scoreGate) {
	t.Helper()
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	gate := &scoreGate{s: srv.Model("m").(batchScorer)}
	sink, err := kafka.NewSink(t.Context(), config(t, addrs, opts...))
	if err != nil {
		t.Fatal(err)
	}
	src, err := kafka.NewSource(config(t, addrs, append(opts, kafka.Sarama(testTuning))...), group, gate, sink,
		kafka.ExactlyOnce(), kafka.CommitInterval(100*time.Millisecond), kafka.Window(64), kafka.Topics(kafka.DefaultDataTopic))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{src: src, sink: sink, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- src.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	t.Cleanup(gate.open) // runs first: r.stop would wait for a shut gate
	return r, gate
}
