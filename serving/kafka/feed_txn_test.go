package kafka_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// txnProducer is a transactional sarama producer, as a JVM trainer with
// transactional.id set would be.
func txnProducer(t *testing.T, c *kafkatest.Cluster) sarama.SyncProducer {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Transaction.ID = "trainer"
	p, err := sarama.NewSyncProducer(c.Addrs(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func modelMessage(t *testing.T, name string, version uint64) *sarama.ProducerMessage {
	t.Helper()
	m, err := wire.EncodeModel(linearModel(t, name, version, 2, float64(version)), 0)
	if err != nil {
		t.Fatal(err)
	}
	return &sarama.ProducerMessage{Topic: kafka.DefaultModelsTopic, Key: sarama.ByteEncoder(m.Key), Value: sarama.ByteEncoder(m.Value), Headers: saramaHeaders(m.Headers)}
}

// TestFeedTransactions: a model written in an aborted transaction never
// goes live, and a topic that ends with a transaction's commit marker
// (an offset that holds no message) is caught up with.
func TestFeedTransactions(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	p := txnProducer(t, c)
	send := func(version uint64, commit bool) {
		t.Helper()
		if err := p.BeginTxn(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := p.SendMessage(modelMessage(t, "m", version)); err != nil {
			t.Fatal(err)
		}
		var err error
		if commit {
			err = p.CommitTxn()
		} else {
			err = p.AbortTxn()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	send(1, true)
	send(2, false) // aborted
	send(3, true)
	send(4, false) // aborted: the topic ends in an abort marker

	srv := newServer(t)
	var mu sync.Mutex
	var activated []uint64
	runFeed(t, c.Addrs(), srv, kafka.Observer(func(e kafka.FeedEvent) {
		if e.Outcome == kafka.Activated {
			mu.Lock()
			activated = append(activated, e.Model.Version)
			mu.Unlock()
		}
	}))
	mu.Lock()
	defer mu.Unlock()
	if len(activated) != 2 || activated[0] != 1 || activated[1] != 3 {
		t.Errorf("activated versions %v, want [1 3]: aborted models went live", activated)
	}
	if r, _ := srv.Current("m"); r.Version != 3 {
		t.Errorf("live %v, want v3", r)
	}
}

// TestFeedOffsetOutOfRangeWhileFollowing: when a fetch fails with
// OFFSET_OUT_OF_RANGE (retention deleted records ahead of the feed),
// sarama shuts the partition's consumer down. The feed reopens the
// partition and keeps following it, rather than stopping silently.
func TestFeedOffsetOutOfRangeWhileFollowing(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	pub := publisher(t, c)
	if _, _, err := pub.Publish(context.Background(), linearModel(t, "m", 1, 2, 1)); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t)
	runFeed(t, c.Addrs(), srv)
	injectOutOfRange(t, c, "")
	if _, _, err := pub.Publish(context.Background(), linearModel(t, "m", 2, 2, 2)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "v2 live", func() bool { r, _ := srv.Current("m"); return r.Version == 2 })
}

// TestFeedInterruptedIsNotReported: a model whose handling the feed's
// own shutdown interrupts (here in the verifier; equally in a Location
// fetch or in Activate) is not the model's fault. It is neither counted
// nor reported to the observer as rejected, since a registry records
// every reported offset as applied and would skip the model after a
// restart.
func TestFeedInterruptedIsNotReported(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	pub := publisher(t, c)
	if _, _, err := pub.Publish(context.Background(), linearModel(t, "m", 1, 2, 1)); err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	var events []kafka.FeedEvent
	srv := newServer(t, serving.WithAdmission(serving.AdmitterFunc(func(ctx context.Context, _ serving.Descriptor) error {
		once.Do(func() { close(entered) })
		<-ctx.Done()
		return ctx.Err()
	})))
	f, err := kafka.NewModelFeed(config(t, c.Addrs()), srv,
		kafka.Observer(func(e kafka.FeedEvent) { mu.Lock(); events = append(events, e); mu.Unlock() }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	select {
	case <-entered:
	case <-time.After(time.Minute):
		t.Fatal("the admission was never asked")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 0 || f.Stats().Rejected != 0 {
		t.Errorf("events %+v, stats %+v: an interrupted model was reported", events, f.Stats())
	}
}

// TestFeedCancelWhileProbing: a feed behind a topic's end that only
// transaction markers and aborted records fill probes, with fetches of
// its own, whether any message is left to come. When the leader takes
// such a probe and never answers, cancelling Run still stops it. The
// probe ran in the partition's loop, which stood still until sarama's
// Net.ReadTimeout (here ten minutes) and did not see the cancellation.
func TestFeedCancelWhileProbing(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	p := txnProducer(t, c)
	for _, commit := range []bool{true, false} { // v1 committed, v2 aborted
		if err := p.BeginTxn(); err != nil {
			t.Fatal(err)
		}
		v := uint64(1)
		if !commit {
			v = 2
		}
		if _, _, err := p.SendMessage(modelMessage(t, "m", v)); err != nil {
			t.Fatal(err)
		}
		end := p.CommitTxn
		if !commit {
			end = p.AbortTxn
		}
		if err := end(); err != nil {
			t.Fatal(err)
		}
	}
	release := make(chan struct{})
	var releaseOnce sync.Once
	unhang := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unhang) // before the cluster closes
	var hung atomic.Int64
	c.Fake().ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Fake().KeepControl()
		if req.GetVersion() != 4 { // the probe's version; sarama's consumer uses a later one
			return nil, nil, false
		}
		hung.Add(1)
		c.Fake().SleepControl(func() { <-release })
		return nil, nil, false
	})
	srv := newServer(t)
	patient := kafka.Sarama(func(sc *sarama.Config) { sc.Net.ReadTimeout = 10 * time.Minute })
	f, err := kafka.NewModelFeed(config(t, c.Addrs(), patient), srv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	waitFor(t, "a catch-up probe to hang", func() bool { return hung.Load() > 0 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30 s of its cancellation while a probe hangs")
	}
}

// TestFeedCaughtUpBeforeOpenTransaction: a transaction left open on the
// models topic does not hold CaughtUp. A read-committed consumer's end is
// the last stable offset, so the feed is caught up once it has handled
// the committed models before the open transaction; the model in it goes
// live when the transaction commits.
func TestFeedCaughtUpBeforeOpenTransaction(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	p := txnProducer(t, c)
	for v := uint64(1); v <= 2; v++ {
		if err := p.BeginTxn(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := p.SendMessage(modelMessage(t, "m", v)); err != nil {
			t.Fatal(err)
		}
		if v == 1 {
			if err := p.CommitTxn(); err != nil {
				t.Fatal(err)
			}
		} // v2's transaction is left open
	}
	srv := newServer(t)
	runFeed(t, c.Addrs(), srv) // fails unless CaughtUp closes
	if r, _ := srv.Current("m"); r.Version != 1 {
		t.Errorf("live %v at catch-up, want v1", r)
	}
	if err := p.CommitTxn(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "v2 live after its commit", func() bool { r, _ := srv.Current("m"); return r.Version == 2 })
}
