package kafka_test

import (
	"context"
	"errors"
	"fmt"
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
)

// The shapes of outage the failover tests inject on one broker, the
// victim, for a while; at the end the partitions it led move to another
// broker, as a controller's election would move them, and it comes back.
const (
	// leaderChange: the victim answers every request for a partition it
	// leads with NOT_LEADER_OR_FOLLOWER, while the metadata still names it
	// the leader: an election under way.
	leaderChange = "leader change"
	// brokerDown: the victim drops every connection as soon as a request
	// arrives on it: a broker that died, which coordinated the Source's
	// group and led one of its data partitions too.
	brokerDown = "broker down"
)

// failoverCluster starts a 3-broker cluster for the failover tests and
// returns it with the victim broker, which leads every partition of the
// scores topic and the models topic, and with a consumer group for the
// Source. If whole is true, the victim also coordinates the group and
// leads data partition 0; the other data partitions are led by the
// other brokers, so that inputs keep arriving during the outage.
func failoverCluster(t *testing.T, whole bool) (*kafkatest.Cluster, int32, string) {
	t.Helper()
	c := kafkatest.New(t, kafkatest.NumBrokers(3), kafkatest.Topic(kafka.DefaultDataTopic, 3),
		kafkatest.Topic(kafka.DefaultScoresTopic, 3), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1),
		kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	const victim = 0
	move := func(topic string, p, node int32) {
		t.Helper()
		if err := c.Fake().MoveTopicPartition(topic, p, node); err != nil {
			t.Fatal(err)
		}
	}
	for p := range int32(3) {
		move(kafka.DefaultScoresTopic, p, victim)
		move(kafka.DefaultDataTopic, p, 1+p%2)
	}
	if whole {
		move(kafka.DefaultDataTopic, 0, victim)
	}
	move(kafka.DefaultModelsTopic, 0, victim)
	move(kafka.DefaultDeadLetterTopic, 0, 1)
	for i := 0; ; i++ {
		group := fmt.Sprintf("failover-%d", i)
		if (c.Fake().CoordinatorFor(group) == victim) == whole {
			return c, victim, group
		}
	}
}

// outage injects an outage of the given shape on the victim and returns
// the function that ends it: it moves the leadership of every partition
// the victim led to the next broker, then lets the victim answer again.
func outage(t *testing.T, c *kafkatest.Cluster, shape string, victim int32) (end func()) {
	t.Helper()
	kc := c.Fake()
	var over atomic.Bool
	switch shape {
	case leaderChange:
		h := kc.Fault(kfake.Fault{Nodes: []int32{victim}, Err: kerr.NotLeaderForPartition, Count: -1,
			Keys: []kmsg.Key{kmsg.Produce, kmsg.Fetch, kmsg.ListOffsets, kmsg.OffsetForLeaderEpoch}})
		defer func() { end = chain(end, h.Remove) }()
	case brokerDown:
		kc.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
			if over.Load() {
				kc.DropControl()
				return nil, nil, false
			}
			if kc.CurrentNode() != victim {
				return nil, nil, false
			}
			kc.KeepControl()
			return nil, errors.New("broker down"), true
		})
	default:
		t.Fatalf("unknown outage %q", shape)
	}
	return func() {
		next := (victim + 1) % 3
		for _, topic := range []string{kafka.DefaultDataTopic, kafka.DefaultScoresTopic, kafka.DefaultDeadLetterTopic, kafka.DefaultModelsTopic} {
			parts := map[string]int32{kafka.DefaultDataTopic: 3, kafka.DefaultScoresTopic: 3}[topic]
			for p := range max(parts, 1) {
				if kc.LeaderFor(topic, p) == victim {
					if err := kc.MoveTopicPartition(topic, p, next); err != nil {
						t.Errorf("move %s/%d: %v", topic, p, err)
					}
				}
			}
		}
		over.Store(true)
	}
}

func chain(a, b func()) func() {
	return func() {
		if a != nil {
			a()
		}
		b()
	}
}

// retryingProducer writes inputs while the cluster fails over: sarama's
// producer with retries for a minute.
func retryingProducer(t *testing.T, c *kafkatest.Cluster) sarama.SyncProducer {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Retry.Max = 600
	cfg.Producer.Retry.Backoff = 100 * time.Millisecond
	cfg.Net.MaxOpenRequests = 1
	cfg.Metadata.Retry.Max = 600
	p, err := sarama.NewSyncProducer(c.Addrs(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// keepSending sends 50 inputs every 50 ms, numbered from 500, until the
// function it returns is called; that function waits for the last send.
func keepSending(t *testing.T, prod sarama.SyncProducer) (stop func()) {
	stopping := make(chan struct{})
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := 1; ; i++ {
			select {
			case <-stopping:
				return
			case <-time.After(50 * time.Millisecond):
			}
			send(t, prod, 500*i, 50)
		}
	}()
	return func() { close(stopping); <-sent }
}

func send(t *testing.T, p sarama.SyncProducer, from, n int) {
	keys, vals := records(from, n)
	msgs := make([]*sarama.ProducerMessage, n)
	for i := range msgs {
		msgs[i] = &sarama.ProducerMessage{Topic: kafka.DefaultDataTopic, Key: sarama.StringEncoder(keys[i]), Value: sarama.ByteEncoder(vals[i])}
	}
	if err := p.SendMessages(msgs); err != nil {
		t.Errorf("produce inputs %d..%d: %v", from, from+n, err)
	}
}

// startFailoverSource starts a Source and its Sink whose Config has opts.
// The Source scores through the gate it returns, open at first.
func startFailoverSource(t *testing.T, c *kafkatest.Cluster, group string, hook *commitLog, opts ...kafka.Option) (*running, *scoreGate) {
	t.Helper()
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	gate := &scoreGate{s: srv.Model("m").(batchScorer)}
	sink, err := kafka.NewSink(t.Context(), config(t, c.Addrs(), opts...))
	if err != nil {
		t.Fatal(err)
	}
	src, err := kafka.NewSource(config(t, c.Addrs(), append(opts, kafka.Sarama(testTuning))...), group, gate, sink,
		kafka.CommitInterval(100*time.Millisecond), kafka.Window(64), kafka.Hooks(hook), kafka.Topics(kafka.DefaultDataTopic))
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

type batchScorer interface {
	serving.Scorer
	serving.BatchScorer
}

// scoreGate scores with s, but while it is shut, every call waits for it
// to open: a Source then reads records and holds their writes.
type scoreGate struct {
	s    batchScorer
	held atomic.Pointer[chan struct{}] // closed by open; nil when open
}

func (g *scoreGate) wait() {
	if ch := g.held.Load(); ch != nil {
		<-*ch
	}
}

func (g *scoreGate) Score(ctx context.Context, r serving.Record) (serving.Result, error) {
	g.wait()
	return g.s.Score(ctx, r)
}

func (g *scoreGate) ScoreBatch(ctx context.Context, rs []serving.Record, out []serving.Result, errs []error) {
	g.wait()
	g.s.ScoreBatch(ctx, rs, out, errs)
}

func (g *scoreGate) shut() {
	ch := make(chan struct{})
	g.held.Store(&ch)
}

func (g *scoreGate) open() {
	if ch := g.held.Swap(nil); ch != nil {
		close(*ch)
	}
}

// checkAllAnswered waits until every input of the data topic has an
// output, failing if Run returns first.
func checkAllAnswered(t *testing.T, out *outputs, r *running) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out.drain(t)
		missing := int64(-1)
		var mp int32
		for p := range int32(3) {
			if m := out.missingBelow(p, highWater(t, out.client, kafka.DefaultDataTopic, p)); m >= 0 {
				missing, mp = m, p
				break
			}
		}
		if missing < 0 {
			return
		}
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("Run returned %v with input %d/%d unanswered", err, mp, missing)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("input %d/%d has no output after a minute", mp, missing)
		}
	}
}

// checkCommits checks every commit the hook saw, and the group's
// offsets in the cluster, against the outputs: none covers an input
// without an acknowledged output.
func checkCommits(t *testing.T, c *kafkatest.Cluster, out *outputs, hook *commitLog, group string) map[int32]int64 {
	t.Helper()
	out.drain(t)
	for _, cm := range hook.all() {
		checkCommitted(t, out, "commit hook", cm.part, cm.off)
	}
	inCluster := committedOffsets(t, c, group, kafka.DefaultDataTopic, 3)
	for p, off := range inCluster {
		checkCommitted(t, out, "group offsets", p, off)
	}
	return inCluster
}

// TestSourceRidesOutFailover: a failover of a broker that leads a data
// partition, a scores partition and the models topic, and coordinates
// the Source's group, lasting longer than the producer's own retries
// (about 1 s by sarama's defaults) and shorter than RetryTimeout, does
// not stop Run nor the ModelFeed: inputs written before, during and after
// it all get their output, and no offset committed (as the commit hook
// saw it, and in the cluster) ever covers an input without one.
func TestSourceRidesOutFailover(t *testing.T) {
	for _, shape := range []string{leaderChange, brokerDown} {
		t.Run(shape, func(t *testing.T) {
			const limit, lasts = 4 * time.Second, 2500 * time.Millisecond
			c, victim, group := failoverCluster(t, shape == brokerDown)
			pub := publisher(t, c)
			if _, _, err := pub.Publish(context.Background(), linearModel(t, "fm", 1, 3, 1)); err != nil {
				t.Fatal(err)
			}
			feedSrv := newServer(t)
			runFeed(t, c.Addrs(), feedSrv)
			out := newOutputs(t, c)
			prod := retryingProducer(t, c)
			send(t, prod, 0, 500)
			hook := &commitLog{}
			r, _ := startFailoverSource(t, c, group, hook, kafka.RetryTimeout(limit))
			checkAllAnswered(t, out, r)

			// Inputs keep arriving before, during and after the outage.
			stopSending := keepSending(t, prod)
			time.Sleep(300 * time.Millisecond)
			end := outage(t, c, shape, victim)
			start := time.Now()
			time.Sleep(lasts)
			end()
			t.Logf("outage of %v ended; source %+v", time.Since(start).Round(time.Millisecond), r.src.Stats())
			time.Sleep(300 * time.Millisecond)
			stopSending()
			send(t, prod, 100000, 500)
			if _, _, err := pub.Publish(context.Background(), linearModel(t, "fm", 2, 3, 1)); err != nil {
				t.Fatal(err)
			}
			checkAllAnswered(t, out, r)
			waitFor(t, "the feed to apply v2 after the failover", func() bool { ref, _ := feedSrv.Current("fm"); return ref.Version == 2 })
			select {
			case err := <-r.done:
				t.Fatalf("Run returned %v", err)
			default:
			}
			r.stop(t)
			checkCommits(t, c, out, hook, group)
		})
	}
}

// TestSourceOutageBeyondRetryTimeout: an outage longer than RetryTimeout
// stops Run with an error wrapping ErrUnavailable, soon after the limit;
// no offset committed covers an input without an acknowledged output;
// and once the cluster is back, a new Source of the group answers every
// input.
//
// The Source holds writes into the outage: it has read inputs that the
// gate holds in scoring until the outage has begun. A Source that holds
// no write rides out any outage (see RetryTimeout), and the inputs sent
// during it need not reach the Source: the test's producer blocks on the
// victim's data partition, and the group session ends. Run then went on
// past 15 x RetryTimeout, once in about 100 runs under load, when the
// outage began after the Source had written every input it read.
func TestSourceOutageBeyondRetryTimeout(t *testing.T) {
	for _, shape := range []string{leaderChange, brokerDown} {
		t.Run(shape, func(t *testing.T) {
			const limit = 2 * time.Second
			c, victim, group := failoverCluster(t, shape == brokerDown)
			out := newOutputs(t, c)
			prod := retryingProducer(t, c)
			send(t, prod, 0, 500)
			hook := &commitLog{}
			r, gate := startFailoverSource(t, c, group, hook, kafka.RetryTimeout(limit))
			checkAllAnswered(t, out, r)

			// Inputs keep arriving until the outage ends. The Source
			// reads some before it begins, and writes their outputs
			// into it.
			gate.shut()
			read := r.src.Stats().Consumed
			stopSending := keepSending(t, prod)
			waitFor(t, "the Source to read inputs it holds", func() bool { return r.src.Stats().Consumed > read })
			time.Sleep(300 * time.Millisecond)
			end := outage(t, c, shape, victim)
			end = chain(end, stopSending)
			start := time.Now()
			gate.open()
			var err error
			select {
			case err = <-r.done:
			case <-time.After(15 * limit):
				end()
				t.Fatalf("Run still running %v into an outage, with RetryTimeout(%v)", time.Since(start), limit)
			}
			took := time.Since(start)
			r.cancel()
			r.cancel = nil
			r.sink.Close()
			end()
			if !errors.Is(err, kafka.ErrUnavailable) {
				t.Fatalf("Run returned %v, want an error wrapping ErrUnavailable", err)
			}
			t.Logf("Run returned %v into the outage: %v", took.Round(time.Millisecond), err)
			if took < limit {
				t.Errorf("Run gave up after %v, within RetryTimeout(%v)", took, limit)
			}
			committed := checkCommits(t, c, out, hook, group)
			t.Logf("committed %v; %+v", committed, r.src.Stats())

			r2, _ := startFailoverSource(t, c, group, hook, kafka.RetryTimeout(limit))
			checkAllAnswered(t, out, r2)
			r2.stop(t)
			checkCommits(t, c, out, hook, group)
		})
	}
}

// TestRetryTimeout: by default the clients ride out 30 s (the retries'
// backoffs add up to at least 30 s, and not more than a last backoff of
// 1 s, or RetryTimeout/32 when longer, beyond); RetryTimeout
// changes that, a non-positive one is refused, and Sarama still has the
// last word.
func TestRetryTimeout(t *testing.T) {
	waits := func(s *sarama.Config) (producer time.Duration) {
		for n := 1; n <= s.Producer.Retry.Max; n++ {
			producer += s.Producer.Retry.BackoffFunc(n, s.Producer.Retry.Max)
		}
		return producer
	}
	for _, tc := range []struct {
		opts []kafka.Option
		want time.Duration
	}{
		{nil, 30 * time.Second},
		{[]kafka.Option{kafka.RetryTimeout(3 * time.Second)}, 3 * time.Second},
		{[]kafka.Option{kafka.RetryTimeout(5 * time.Minute)}, 5 * time.Minute},
	} {
		s, err := config(t, []string{"127.0.0.1:1"}, tc.opts...).SaramaConfig(nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := waits(s); got < tc.want || got > tc.want+max(time.Second, tc.want/32) {
			t.Errorf("RetryTimeout %v: the producer's backoffs add up to %v", tc.want, got)
		}
		if b := s.Producer.Retry.BackoffFunc(1, s.Producer.Retry.Max); b != 100*time.Millisecond {
			t.Errorf("first backoff %v, want 100ms", b)
		}
	}
	for _, d := range []time.Duration{0, -time.Second} {
		if _, err := kafka.NewConfig([]string{"127.0.0.1:1"}, kafka.RetryTimeout(d)); !errors.Is(err, serving.ErrConfig) {
			t.Errorf("RetryTimeout(%v): %v, want ErrConfig", d, err)
		}
	}
	s, err := config(t, []string{"127.0.0.1:1"}, kafka.Sarama(func(c *sarama.Config) { c.Producer.Retry.Max = 2 })).SaramaConfig(nil)
	if err != nil || s.Producer.Retry.Max != 2 {
		t.Errorf("Sarama after RetryTimeout: Max %d, %v", s.Producer.Retry.Max, err)
	}
}
