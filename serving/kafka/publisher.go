package kafka

import (
	"context"
	"fmt"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/internal/dial"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/wire"
)

type publisherOptions struct {
	topic    string
	maxBytes int
}

// Publisher writes model messages, in the format documented in package wire,
// with an idempotent, acks=all synchronous producer. Messages are keyed
// by model name, so all versions of a name land in one partition in
// publication order.
//
// A Publisher is safe for concurrent use.
type Publisher struct {
	o    publisherOptions
	prod sarama.SyncProducer
}

// NewPublisher connects to the cluster, makes sure the models topic
// exists, creating it with one partition if it does not (one partition
// keeps every model message in one order; see [Config.EnsureTopics] for
// the errors), and returns a Publisher. ctx bounds the connecting: when
// it is done first, NewPublisher returns ctx.Err() (a topic creation
// already asked for may still happen); cancelling it later does not
// affect the Publisher, which Close ends. A bad setting is an error
// wrapping serving.ErrConfig. Loosening the
// producer's guarantees (acks, idempotence) with [Sarama] is possible,
// and is then the caller's responsibility.
func NewPublisher(ctx context.Context, cfg *Config, opts ...PublisherOption) (*Publisher, error) {
	o := publisherOptions{topic: DefaultModelsTopic, maxBytes: wire.DefaultMaxModelBytes}
	for _, opt := range opts {
		opt.applyPublisher(&o)
	}
	switch {
	case cfg == nil:
		return nil, configErr("NewPublisher: nil Config")
	case o.topic == "":
		return nil, configErr("Topic: empty topic")
	case o.maxBytes <= 0:
		return nil, configErr("MaxBytes(%d): must be positive", o.maxBytes)
	}
	sc, err := cfg.SaramaConfig(func(c *sarama.Config) {
		c.Producer.MaxMessageBytes = max(c.Producer.MaxMessageBytes, o.maxBytes+64<<10)
	})
	if err != nil {
		return nil, err
	}
	if err := cfg.ensureTopics(ctx, 1, o.topic); err != nil {
		return nil, err
	}
	p, err := dial.Open(ctx, func() (sarama.SyncProducer, error) { return sarama.NewSyncProducer(cfg.brokers, sc) })
	if err != nil {
		return nil, fmt.Errorf("kafka: publisher: %w", err)
	}
	return &Publisher{o: o, prod: p}, nil
}

// Topic returns the models topic the Publisher writes to.
func (p *Publisher) Topic() string { return p.o.topic }

// Publish writes d as a model message and returns where it was written
// once every in-sync replica has it. The error wraps a *wire.Error when d
// cannot be encoded.
//
// Cancelling ctx makes Publish return ctx.Err() at once; the message may
// still be written, since a send in flight cannot be recalled.
func (p *Publisher) Publish(ctx context.Context, d serving.Descriptor) (partition int32, offset int64, err error) {
	m, err := wire.EncodeModel(d, p.o.maxBytes)
	if err != nil {
		return 0, 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	msg := &sarama.ProducerMessage{Topic: p.o.topic, Key: sarama.ByteEncoder(m.Key), Value: sarama.ByteEncoder(m.Value), Headers: toSarama(m.Headers)}
	type res struct {
		p   int32
		off int64
		err error
	}
	ch := make(chan res, 1)
	go func() {
		pa, off, err := p.prod.SendMessage(msg)
		ch <- res{pa, off, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return 0, 0, fmt.Errorf("kafka: publish %s@v%d: %w", d.Name, d.Version, r.err)
		}
		return r.p, r.off, nil
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
}

// Close flushes and closes the producer.
func (p *Publisher) Close() error { return p.prod.Close() }
