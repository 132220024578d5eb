package kafka_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/linear"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// linearModel returns a linear model over n features whose value is
// scale * x0.
func linearModel(t testing.TB, name string, version uint64, n int, scale float64) serving.Descriptor {
	t.Helper()
	w := make([]float64, n)
	w[0] = scale
	doc := linear.Document{Kind: linear.KindLinear, Features: n, Weights: [][]float64{w}, Bias: []float64{0}}
	b, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return serving.Descriptor{Name: name, Version: version, Format: linear.FormatName, Bytes: b, Created: time.Now().UTC()}
}

func newServer(t testing.TB, opts ...serving.Option) *serving.Server {
	t.Helper()
	srv, err := serving.NewServer(append([]serving.Option{serving.WithLogger(quiet)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// runFeed starts a feed on srv (see startFeed) and waits until it has
// caught up.
func runFeed(t testing.TB, brokers []string, srv *serving.Server, opts ...kafka.FeedOption) *kafka.ModelFeed {
	t.Helper()
	f, ended, _ := goFeed(t, brokers, srv, opts...)
	select {
	case <-f.CaughtUp():
	case <-ended:
		t.Fatal("feed stopped before catching up") // the cleanup reports Run's error
	case <-time.After(30 * time.Second):
		t.Fatal("feed did not catch up in 30s")
	}
	return f
}

// startFeed runs a feed on srv without waiting for it to catch up, and
// returns it with a function that stops it and returns Run's result.
func startFeed(t testing.TB, brokers []string, srv *serving.Server, opts ...kafka.FeedOption) (*kafka.ModelFeed, func() error) {
	t.Helper()
	f, _, stop := goFeed(t, brokers, srv, opts...)
	return f, stop
}

// goFeed is the body of runFeed and startFeed: it runs a feed on srv in
// a goroutine of its own, and returns it with a channel closed when Run
// returns and a function that cancels Run's context and returns Run's
// result. The test's cleanup stops the feed and fails the test if Run
// failed.
func goFeed(t testing.TB, brokers []string, srv *serving.Server, opts ...kafka.FeedOption) (*kafka.ModelFeed, <-chan struct{}, func() error) {
	t.Helper()
	f, err := kafka.NewModelFeed(config(t, brokers), srv, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan struct{})
	var res error
	go func() {
		defer close(ended)
		res = f.Run(ctx)
	}()
	stop := func() error {
		cancel()
		<-ended
		return res
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("feed: %v", err)
		}
	})
	return f, ended, stop
}

// waitFor polls cond every 10ms until it holds, failing the test after a
// generous minute: a hang, not a slow machine.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func publisher(t testing.TB, c *kafkatest.Cluster) *kafka.Publisher {
	t.Helper()
	p, err := kafka.NewPublisher(t.Context(), config(t, c.Addrs()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// produce writes values to topic, keyed by keys, in batches.
func produce(t testing.TB, c *kafkatest.Cluster, topic string, keys []string, values [][]byte) {
	t.Helper()
	const batch = 1000
	for i := 0; i < len(values); i += batch {
		j := min(i+batch, len(values))
		msgs := make([]kafkatest.Message, 0, j-i)
		for k := i; k < j; k++ {
			msgs = append(msgs, kafkatest.Message{Key: []byte(keys[k]), Value: values[k]})
		}
		c.Produce(t, topic, msgs...)
	}
}

// collector reads every partition of a topic from the start.
type collector struct {
	msgs chan *sarama.ConsumerMessage
}

func collect(t testing.TB, c *kafkatest.Cluster, topic string) *collector {
	t.Helper()
	cfg := sarama.NewConfig()
	client, err := sarama.NewClient(c.Addrs(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{msgs: make(chan *sarama.ConsumerMessage, 1<<16)}
	var pcs []sarama.PartitionConsumer
	for _, p := range parts {
		pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		pcs = append(pcs, pc)
		go func() {
			for m := range pc.Messages() {
				col.msgs <- m
			}
		}()
	}
	t.Cleanup(func() {
		for _, pc := range pcs {
			pc.AsyncClose()
		}
		cons.Close()
		client.Close()
	})
	return col
}

// next returns the next n messages, failing after a generous minute
// without progress.
func (c *collector) next(t testing.TB, n int) []*sarama.ConsumerMessage {
	t.Helper()
	out := make([]*sarama.ConsumerMessage, 0, n)
	for len(out) < n {
		select {
		case m := <-c.msgs:
			out = append(out, m)
		case <-time.After(time.Minute):
			t.Fatalf("got %d of %d messages, then nothing for a minute", len(out), n)
		}
	}
	return out
}

// quietFor returns the messages that arrive until none has for d.
func (c *collector) quietFor(d time.Duration) []*sarama.ConsumerMessage {
	var out []*sarama.ConsumerMessage
	for {
		select {
		case m := <-c.msgs:
			out = append(out, m)
		case <-time.After(d):
			return out
		}
	}
}

// injectOutOfRange makes the broker answer the next fetch of topic (any
// topic when empty) with OFFSET_OUT_OF_RANGE on every partition, as it
// does when retention deleted the records ahead of a consumer, and waits
// until it has.
func injectOutOfRange(t testing.TB, c *kafkatest.Cluster, topic string) {
	t.Helper()
	var topics []string
	if topic != "" {
		topics = []string{topic}
	}
	fault := c.FailFetches(kerr.OffsetOutOfRange, topics...)
	waitFor(t, "the injected fetch error", func() bool { return fault.Failed() > 0 })
	fault.Stop()
}

// saramaHeaders converts wire headers for a sarama producer message.
func saramaHeaders(hs []wire.Header) []sarama.RecordHeader {
	out := make([]sarama.RecordHeader, len(hs))
	for i, h := range hs {
		out[i] = sarama.RecordHeader(h)
	}
	return out
}

// config returns a Config for brokers that logs nowhere.
func config(t testing.TB, brokers []string, opts ...kafka.Option) *kafka.Config {
	t.Helper()
	cfg, err := kafka.NewConfig(brokers, append([]kafka.Option{kafka.Logger(quiet)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
