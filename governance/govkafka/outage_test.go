package govkafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/modelstream/modelstream/governance"
	"github.com/modelstream/modelstream/governance/govkafka"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestJunkFloodDuringAuditOutage: whoever can write to the models topic
// must not stall the feed. With the audit sink out (every write blocks
// until its AuditTimeout), n junk model messages followed by a good
// model must see the good model live long before n × AuditTimeout: the
// FeedObserver audits each junk message, and the Verifier and the
// Server audit the good one four times. Before an outage marked the sink
// down, the good model went live only after (n + 2) × AuditTimeout,
// 62 s here.
func TestJunkFloodDuringAuditOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Kafka cluster")
	}
	const (
		n       = 60
		timeout = time.Second
	)
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	junk := make([]kafkatest.Message, n)
	for i := range junk {
		// No format header: not a model message, audited as malformed.
		junk[i] = kafkatest.Message{Key: []byte("fraud"), Value: fmt.Appendf(nil, `{"junk":%d}`, i)}
	}
	c.Produce(t, kafka.DefaultModelsTopic, junk...)
	cfg := testConfig(t, c.Addrs())
	pub, err := kafka.NewPublisher(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := pub.Publish(context.Background(), servingtest.Spec{Value: 1}.Descriptor("fraud", 1)); err != nil {
		t.Fatal(err)
	}
	pub.Close()

	out := governance.AuditSinkFunc(func(ctx context.Context, _ governance.Event) error {
		<-ctx.Done()
		return ctx.Err()
	})
	audit, err := governance.NewAudit(governance.AuditLogger(quiet), governance.AuditTo(out), governance.AuditTimeout(timeout))
	if err != nil {
		t.Fatal(err)
	}
	v, err := governance.NewVerifier(governance.WithAudit(audit))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serving.NewServer(serving.WithLogger(quiet), serving.WithHooks(audit), serving.WithAdmission(v))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	feed, err := kafka.NewModelFeed(cfg, srv, kafka.Observer(govkafka.FeedObserver(audit)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- feed.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	// A generous bound, a third of n × timeout: the feed should need
	// about one timeout, but this machine may be loaded.
	bound := n * timeout / 3
	for {
		if ref, ok := srv.Current("fraud"); ok && ref.Version == 1 {
			break
		}
		if time.Since(start) > bound {
			t.Fatalf("the good model was not live %v after the feed started, behind %d junk messages with the audit sink out", bound, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("good model live after %v behind %d junk messages", time.Since(start).Round(time.Millisecond), n)
	// Every junk message and the good model's four events were audited
	// or counted as lost: none vanished silently.
	deadline := time.Now().Add(30 * time.Second)
	for {
		lost, _ := audit.SinkFailures()
		if lost == n+4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sink failures %d, want %d (every event, the sink took none)", lost, n+4)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
