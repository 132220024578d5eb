package govkafka_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/modelstream/modelstream/governance"
	"github.com/modelstream/modelstream/governance/govkafka"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestAuditSinkClosed: an event that reaches the sink after Close, as
// the retirements Server.Close reports do when the sink was closed
// first, fails with serving.ErrClosed. It must not send on the closed
// producer, which panics in a goroutine of the sink's and takes the
// whole process down. WriteAudit racing Close must not panic either.
func TestAuditSinkClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Kafka cluster")
	}
	c := kafkatest.New(t, kafkatest.Topic(govkafka.DefaultAuditTopic, 1))
	sink, err := govkafka.NewAuditSink(t.Context(), testConfig(t, c.Addrs()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ev := governance.Event{Kind: governance.KindRetired, Source: "server", Time: time.Now(),
		Model: serving.ModelRef{Name: "fraud", Version: 1}}
	if err := sink.WriteAudit(ctx, ev); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Before or after Close: either written, or ErrClosed.
			if err := sink.WriteAudit(ctx, ev); err != nil && !errors.Is(err, serving.ErrClosed) {
				t.Errorf("WriteAudit racing Close: %v", err)
			}
		}()
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := sink.WriteAudit(ctx, ev); !errors.Is(err, serving.ErrClosed) {
		t.Fatalf("WriteAudit after Close: %v, want serving.ErrClosed", err)
	}
	if err := sink.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
