package govkafka

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/governance"
	"github.com/modelstream/modelstream/internal/dial"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/wire"
)

// DefaultAuditTopic is the audit topic unless [Topic] says otherwise.
const DefaultAuditTopic = "models.audit"

// Option configures an AuditSink. An option of another constructor does
// not compile here.
type Option interface{ applyAudit(*options) }

type option func(*options)

func (f option) applyAudit(o *options) { f(o) }

type options struct {
	topic string
}

// Topic sets the audit topic, overriding the default of
// [DefaultAuditTopic].
func Topic(t string) Option { return option(func(o *options) { o.topic = t }) }

// AuditSink writes audit events to a Kafka topic. WriteAudit returns once
// every in-sync replica has the record. It is safe for concurrent use,
// Close included: an event written after Close fails with
// serving.ErrClosed.
type AuditSink struct {
	topic string
	prod  sarama.SyncProducer

	// mu guards closed and the adding to sending: a send must be counted
	// before Close closes the producer, which panics on a later send.
	mu      sync.Mutex
	closed  bool
	sending sync.WaitGroup
}

var _ governance.AuditSink = (*AuditSink)(nil)

// NewAuditSink makes sure the audit topic exists (kafka.Config.EnsureTopics)
// and connects a producer to the cluster of cfg, with the
// package defaults of serving/kafka: idempotent, acks from every in-sync
// replica. ctx bounds the topic check and the connecting: when it is
// done first, NewAuditSink returns ctx.Err(); cancelling it later does
// not affect the sink, which Close ends. A nil Config, a nil Option or an
// empty topic is an error wrapping serving.ErrConfig.
func NewAuditSink(ctx context.Context, cfg *kafka.Config, opts ...Option) (*AuditSink, error) {
	o := options{topic: DefaultAuditTopic}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: govkafka: nil Option", serving.ErrConfig)
		}
		opt.applyAudit(&o)
	}
	switch {
	case cfg == nil:
		return nil, fmt.Errorf("%w: govkafka: nil Config", serving.ErrConfig)
	case o.topic == "":
		return nil, fmt.Errorf("%w: govkafka: Topic(\"\")", serving.ErrConfig)
	}
	sc, err := cfg.SaramaConfig(nil)
	if err != nil {
		return nil, err
	}
	if err := cfg.EnsureTopics(ctx, o.topic); err != nil {
		return nil, err
	}
	p, err := dial.Open(ctx, func() (sarama.SyncProducer, error) { return sarama.NewSyncProducer(cfg.Brokers(), sc) })
	if err != nil {
		return nil, fmt.Errorf("govkafka: audit sink: %w", err)
	}
	return &AuditSink{topic: o.topic, prod: p}, nil
}

// WriteAudit implements governance.AuditSink. When ctx ends first it
// returns ctx.Err(); the record may still be written. After Close it
// returns an error wrapping serving.ErrClosed.
func (s *AuditSink) WriteAudit(ctx context.Context, e governance.Event) error {
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("govkafka: encode audit event: %w", err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("govkafka: write audit event %s %s: %w", e.Kind, e.Model, serving.ErrClosed)
	}
	s.sending.Add(1)
	s.mu.Unlock()
	msg := &sarama.ProducerMessage{
		Topic: s.topic, Key: sarama.StringEncoder(e.Model.Name), Value: sarama.ByteEncoder(v),
		Headers:   []sarama.RecordHeader{{Key: []byte(wire.HeaderAuditKind), Value: []byte(e.Kind)}},
		Timestamp: e.Time,
	}
	errc := make(chan error, 1)
	go func() {
		defer s.sending.Done()
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

// Close waits for the events being written, then flushes and closes the
// producer. Close is idempotent.
func (s *AuditSink) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.sending.Wait()
	return s.prod.Close()
}

// ParseAuditEvent decodes the value of an audit record.
func ParseAuditEvent(value []byte) (governance.Event, error) {
	var e governance.Event
	if err := json.Unmarshal(value, &e); err != nil {
		return e, fmt.Errorf("govkafka: audit record: %w", err)
	}
	return e, nil
}

// FeedObserver returns a kafka.Observer function that audits the model
// messages a ModelFeed could not even decode, as rejected events with
// reason "malformed" and source "feed". The other outcomes are audited
// already: rejected and accepted models by the Verifier and the Server,
// and stale versions met while replaying the topic are expected and not
// audited. While the audit sink is down, Audit.Record drops and counts
// events instead of waiting for it, so a flood of malformed messages
// during an outage of the audit topic does not stall the feed.
//
// FeedObserver(nil) returns nil, which kafka.Observer refuses with
// serving.ErrConfig when the feed is made, rather than an observer that
// would panic on the first malformed message.
func FeedObserver(a *governance.Audit) func(kafka.FeedEvent) {
	if a == nil {
		return nil
	}
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
