package govkafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/governance"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/wire"
)

// DefaultAuditTopic is the audit topic unless AuditTopic says otherwise.
const DefaultAuditTopic = "models.audit"

// Option configures an AuditSink.
type Option func(*options)

type options struct {
	topic string
	tune  func(*sarama.Config)
}

// AuditTopic sets the topic, overriding the default of DefaultAuditTopic.
func AuditTopic(t string) Option { return func(o *options) { o.topic = t } }

// AuditSarama lets fn adjust the producer configuration after the
// package's defaults (acks=all, idempotent, kafka.DefaultVersion).
func AuditSarama(fn func(*sarama.Config)) Option { return func(o *options) { o.tune = fn } }

// AuditSink writes audit events to a Kafka topic. WriteAudit returns once
// every in-sync replica has the record. It is safe for concurrent use.
type AuditSink struct {
	topic string
	prod  sarama.SyncProducer
}

var _ governance.AuditSink = (*AuditSink)(nil)

// NewAuditSink connects to brokers.
func NewAuditSink(brokers []string, opts ...Option) (*AuditSink, error) {
	o := options{topic: DefaultAuditTopic}
	for _, opt := range opts {
		opt(&o)
	}
	if len(brokers) == 0 {
		return nil, errors.New("govkafka: no brokers")
	}
	if o.topic == "" {
		return nil, errors.New("govkafka: AuditTopic(\"\")")
	}
	c := sarama.NewConfig()
	c.Version = kafka.DefaultVersion
	c.ClientID = "modelstream-audit"
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Idempotent = true
	c.Net.MaxOpenRequests = 1
	c.Producer.Retry.Max = 10
	c.Producer.Retry.Backoff = 100 * time.Millisecond
	c.Producer.Return.Successes = true
	if o.tune != nil {
		o.tune(c)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("govkafka: sarama config: %w", err)
	}
	p, err := sarama.NewSyncProducer(brokers, c)
	if err != nil {
		return nil, fmt.Errorf("govkafka: audit sink: %w", err)
	}
	return &AuditSink{topic: o.topic, prod: p}, nil
}

// WriteAudit implements governance.AuditSink. When ctx ends first it
// returns ctx.Err(); the record may still be written.
func (s *AuditSink) WriteAudit(ctx context.Context, e governance.Event) error {
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("govkafka: encode audit event: %w", err)
	}
	msg := &sarama.ProducerMessage{
		Topic: s.topic, Key: sarama.StringEncoder(e.Model.Name), Value: sarama.ByteEncoder(v),
		Headers:   []sarama.RecordHeader{{Key: []byte(wire.HeaderAuditKind), Value: []byte(e.Kind)}},
		Timestamp: e.Time,
	}
	errc := make(chan error, 1)
	go func() {
		_, _, err := s.prod.SendMessage(msg)
		errc <- err
	}()
	select {
	case err := <-errc:
		if err != nil {
			return fmt.Errorf("govkafka: write audit event %s %s: %w", e.Kind, e.Model, err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close flushes and closes the producer.
func (s *AuditSink) Close() error { return s.prod.Close() }

// ParseAuditEvent decodes the value of an audit record.
func ParseAuditEvent(value []byte) (governance.Event, error) {
	var e governance.Event
	if err := json.Unmarshal(value, &e); err != nil {
		return e, fmt.Errorf("govkafka: audit record: %w", err)
	}
	return e, nil
}

// FeedObserver returns a kafka.WithObserver hook that audits the model
// messages a ModelFeed could not even decode, as rejected events with
// reason "malformed" and source "feed". The other outcomes are audited
// already: rejected and accepted models by the Verifier and the Server,
// and stale versions met while replaying the topic are expected and not
// audited.
func FeedObserver(a *governance.Audit) func(kafka.FeedEvent) {
	return func(e kafka.FeedEvent) {
		if e.Outcome != kafka.Malformed {
			return
		}
		ev := governance.Event{Kind: governance.KindRejected, Model: e.Model, Reason: "malformed", Source: "feed"}
		if e.Err != nil {
			ev.Error = fmt.Sprintf("%s/%d@%d: %v", e.Topic, e.Partition, e.Offset, e.Err)
		}
		a.Record(context.Background(), ev)
	}
}
