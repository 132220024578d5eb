package govkafka_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/governance"
	"github.com/modelstream/modelstream/governance/govkafka"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestAuditTopic writes a model's audit trail to the embedded broker over
// TCP and reads it back.
func TestAuditTopic(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Kafka cluster")
	}
	c := kafkatest.New(t, kafkatest.Topic(govkafka.DefaultAuditTopic, 1))
	sink, err := govkafka.NewAuditSink(t.Context(), testConfig(t, c.Addrs()))
	if err != nil {
		t.Fatal(err)
	}
	audit, _ := governance.NewAudit(governance.AuditLogger(quiet), governance.AuditTo(sink))
	v, _ := governance.NewVerifier(governance.WithAudit(audit))
	srv, _ := serving.NewServer(serving.WithLogger(quiet), serving.WithHooks(audit), serving.WithAdmission(v))
	ctx := context.Background()
	if _, err := srv.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("fraud", 2)); err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(ctx, servingtest.Spec{Value: 0}.Descriptor("fraud", 1)); err == nil {
		t.Fatal("replay admitted")
	}
	srv.Retire("fraud")
	srv.Close()
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := audit.SinkFailures(); n != 0 {
		t.Fatalf("sink failures %d: %v", n, err)
	}

	cons, err := sarama.NewConsumer(c.Addrs(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	pc, err := cons.ConsumePartition(govkafka.DefaultAuditTopic, 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	want := []string{"received", "verified", "loaded", "activated", "received", "rejected", "retired"}
	var got []string
	timeout := time.After(30 * time.Second)
	for len(got) < len(want) {
		select {
		case m := <-pc.Messages():
			e, err := govkafka.ParseAuditEvent(m.Value)
			if err != nil {
				t.Fatal(err)
			}
			if string(m.Key) != "fraud" || e.Model.Name != "fraud" || e.Time.IsZero() {
				t.Fatalf("record key %q, event %+v", m.Key, e)
			}
			if len(m.Headers) != 1 || string(m.Headers[0].Key) != wire.HeaderAuditKind || string(m.Headers[0].Value) != string(e.Kind) {
				t.Fatalf("headers %v", m.Headers)
			}
			if e.Kind == governance.KindRejected && e.Reason != "replay" {
				t.Fatalf("rejection %+v", e)
			}
			got = append(got, string(e.Kind))
		case <-timeout:
			t.Fatalf("read %v, want %v", got, want)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("audit topic holds %v, want %v", got, want)
	}
}

func TestNewAuditSinkValidates(t *testing.T) {
	if _, err := govkafka.NewAuditSink(t.Context(), nil); !errors.Is(err, serving.ErrConfig) {
		t.Fatal("no brokers accepted")
	}
	if _, err := govkafka.NewAuditSink(t.Context(), testConfig(t, []string{"127.0.0.1:1"}), govkafka.Topic("")); !errors.Is(err, serving.ErrConfig) {
		t.Fatal("empty topic accepted")
	}
	// It panicked on calling the nil option.
	if _, err := govkafka.NewAuditSink(t.Context(), testConfig(t, []string{"127.0.0.1:1"}), nil); !errors.Is(err, serving.ErrConfig) {
		t.Fatalf("nil Option: %v, want serving.ErrConfig", err)
	}
}

// TestNewAuditSinkHonoursContext: against a broker that accepts
// connections and never answers, NewAuditSink gives up with ctx's error
// instead of waiting out sarama's retries.
func TestNewAuditSinkHonoursContext(t *testing.T) {
	addr := kafkatest.Unresponsive(t)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if s, err := govkafka.NewAuditSink(ctx, testConfig(t, []string{addr})); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("NewAuditSink with a silent broker: %v, want context.DeadlineExceeded", err)
	}
}

// TestFeedObserverAuditsMalformedMessages sends a message the feed
// cannot decode and checks it reaches the audit trail.
func TestFeedObserverAuditsMalformedMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Kafka cluster")
	}
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	cfg := sarama.NewConfig()
	cfg.Producer.Return.Successes = true
	prod, err := sarama.NewSyncProducer(c.Addrs(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// No format header: not a model message.
	if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: kafka.DefaultModelsTopic, Key: sarama.StringEncoder("fraud"), Value: sarama.StringEncoder("{}")}); err != nil {
		t.Fatal(err)
	}
	prod.Close()
	var mu sync.Mutex
	var events []governance.Event
	audit, _ := governance.NewAudit(governance.AuditLogger(quiet), governance.AuditTo(governance.AuditSinkFunc(func(_ context.Context, e governance.Event) error {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
		return nil
	})))
	srv, _ := serving.NewServer(serving.WithLogger(quiet))
	defer srv.Close()
	feed, err := kafka.NewModelFeed(testConfig(t, c.Addrs()), srv, kafka.Observer(govkafka.FeedObserver(audit)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- feed.Run(ctx) }()
	select {
	case <-feed.CaughtUp():
	case <-time.After(30 * time.Second):
		t.Fatal("feed did not catch up")
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 1 || events[0].Kind != governance.KindRejected || events[0].Reason != "malformed" ||
		events[0].Source != "feed" || events[0].Model.Name != "fraud" || !strings.Contains(events[0].Error, "models/0@0") {
		t.Fatalf("audit events %+v", events)
	}
}

// testConfig returns a Config for brokers that logs nowhere.
func testConfig(t testing.TB, brokers []string) *kafka.Config {
	t.Helper()
	cfg, err := kafka.NewConfig(brokers, kafka.Logger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestFeedObserverOfNoAudit: FeedObserver(nil) returned an Observer that
// a ModelFeed accepted and that then panicked on every malformed model
// message (the feed recovers it and logs an error; nothing is audited).
// It returns nil now, which NewModelFeed refuses at construction.
func TestFeedObserverOfNoAudit(t *testing.T) {
	srv, err := serving.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	_, err = kafka.NewModelFeed(testConfig(t, []string{"127.0.0.1:1"}), srv, kafka.Observer(govkafka.FeedObserver(nil)))
	if !errors.Is(err, serving.ErrConfig) {
		t.Fatalf("NewModelFeed with FeedObserver(nil): %v, want serving.ErrConfig", err)
	}
}
