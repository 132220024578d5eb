package trainkafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/internal/dial"
	"github.com/modelstream/modelstream/internal/kafkalog"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/wire"
	"github.com/modelstream/modelstream/training"
)

// LatestVersion reads the models topic on the cluster of cfg and
// returns the highest version published under name, with its content ID:
// the sha256 header, or the hash of the bytes when the header is absent.
// It returns the zero ModelRef and a nil error when the topic does not
// exist or holds no version of name.
//
// It reads every partition from its oldest offset up to the high-water
// mark it finds when called, outside any consumer group and committed
// records only, so it sees what a ModelFeed replaying the topic sees,
// also on a topic written by a transactional producer. A message of name that decodes
// (wire.DecodeModel) counts even if a feed would reject the model it
// holds: its number is taken either way. A message without a version
// header counts as the highest version before it plus one, as every
// ModelFeed numbers it (package wire, Versions). Messages that do not
// decode are skipped, as the feeds skip them.
//
// It does not create the topic. A broker error, or ctx ending before
// every partition is read, is returned: a caller cannot then know the
// latest version. A nil Config or an empty topic or name is an error
// wrapping serving.ErrConfig.
func LatestVersion(ctx context.Context, cfg *kafka.Config, topic, name string) (serving.ModelRef, error) {
	switch {
	case cfg == nil:
		return serving.ModelRef{}, fmt.Errorf("%w: trainkafka: nil Config", serving.ErrConfig)
	case topic == "":
		return serving.ModelRef{}, fmt.Errorf("%w: trainkafka: empty models topic", serving.ErrConfig)
	case name == "":
		return serving.ModelRef{}, fmt.Errorf("%w: trainkafka: empty model name", serving.ErrConfig)
	}
	sc, err := cfg.SaramaConfig(func(c *sarama.Config) {
		c.Metadata.AllowAutoTopicCreation = false
		// What a ModelFeed sees: never a model of an aborted transaction.
		c.Consumer.IsolationLevel = sarama.ReadCommitted
	})
	if err != nil {
		return serving.ModelRef{}, err
	}
	fail := func(err error) (serving.ModelRef, error) {
		return serving.ModelRef{}, fmt.Errorf("trainkafka: latest version of %q in %q: %w", name, topic, err)
	}
	client, err := dial.Open(ctx, func() (sarama.Client, error) { return sarama.NewClient(cfg.Brokers(), sc) })
	if err != nil {
		return fail(err)
	}
	// sarama's calls take no context, and closing the client waits for
	// the request in flight: the read runs on its own goroutine, which,
	// when ctx ends first, finishes (within sarama's network timeouts)
	// and closes the client after LatestVersion has returned ctx's error.
	type result struct {
		ref serving.ModelRef
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer client.Close()
		ref, err := latestIn(ctx, client, sc, topic, name)
		done <- result{ref, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return fail(r.err)
		}
		return r.ref, nil
	case <-ctx.Done():
		return fail(ctx.Err())
	}
}

// latestIn returns the newest version of name in every partition of
// topic, or the zero ModelRef when the topic does not exist.
func latestIn(ctx context.Context, client sarama.Client, sc *sarama.Config, topic, name string) (serving.ModelRef, error) {
	var latest serving.ModelRef
	parts, err := client.Partitions(topic)
	if errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		return latest, nil // nothing was ever published there
	}
	if err != nil {
		return latest, err
	}
	for _, p := range parts {
		if err := latestInPartition(ctx, client, sc, topic, p, name, &latest); err != nil {
			return latest, err
		}
	}
	return latest, nil
}

// latestInPartition raises *latest to the newest version of name in one
// partition, read from its oldest offset to its current high-water mark.
// It reads with plain fetches (package kafkalog), which know where that
// stretch ends even when its last offsets hold transaction markers, which
// a partition consumer never delivers.
func latestInPartition(ctx context.Context, client sarama.Client, sc *sarama.Config, topic string, p int32, name string, latest *serving.ModelRef) error {
	oldest, err := client.GetOffset(topic, p, sarama.OffsetOldest)
	if err != nil {
		return fmt.Errorf("partition %d: oldest offset: %w", p, err)
	}
	hwm, err := client.GetOffset(topic, p, sarama.OffsetNewest)
	if err != nil {
		return fmt.Errorf("partition %d: high-water mark: %w", p, err)
	}
	err = kafkalog.Read(ctx, client, sc, topic, p, oldest, hwm, func(msg *sarama.ConsumerMessage) {
		if string(msg.Key) == name {
			consider(msg, latest)
		}
	})
	if err != nil {
		return fmt.Errorf("partition %d: %w", p, err)
	}
	return nil
}

// consider raises *latest to the model msg holds, if it decodes and is
// newer.
func consider(msg *sarama.ConsumerMessage, latest *serving.ModelRef) {
	m := wire.Message{Key: msg.Key, Value: msg.Value, Headers: kafka.Headers(msg)}
	// The size limit is the feed's business; here only the number counts.
	d, err := wire.DecodeModel(m, len(m.Value)+1)
	if err != nil {
		return
	}
	if d.Version == 0 {
		d.Version = latest.Version + 1
	}
	if d.Version <= latest.Version {
		return
	}
	id := d.SHA256
	if id == "" && len(d.Bytes) > 0 {
		id = serving.ContentID(d.Bytes)
	}
	*latest = serving.ModelRef{Name: d.Name, Version: d.Version, ID: id, Format: d.Format}
}

// Publisher publishes a trainer's versions to the models topic through
// a serving/kafka Publisher, and implements training.VersionLookup with
// [LatestVersion] on the same topic, so that a Trainer numbers its
// versions after those already there: a trainer restarted without its
// checkpoint publishes v4 after v3 rather than a second v1 that every
// ModelFeed would skip as stale.
//
// A Publisher is safe for concurrent use.
type Publisher struct {
	pub *kafka.Publisher
	cfg *kafka.Config
}

var (
	_ training.Publisher     = (*Publisher)(nil)
	_ training.VersionLookup = (*Publisher)(nil)
)

// NewPublisher connects a producer to the cluster of cfg and returns a
// Publisher for the models topic (kafka.Topic sets it; the default is
// kafka.DefaultModelsTopic). ctx bounds the connecting, as in
// kafka.NewPublisher. Configuration errors wrap serving.ErrConfig.
// The caller must Close it.
func NewPublisher(ctx context.Context, cfg *kafka.Config, opts ...kafka.PublisherOption) (*Publisher, error) {
	p, err := kafka.NewPublisher(ctx, cfg, opts...)
	if err != nil {
		return nil, fmt.Errorf("trainkafka: publisher: %w", err)
	}
	return &Publisher{pub: p, cfg: cfg}, nil
}

// Publish writes d to the models topic; see kafka.Publisher.Publish.
func (p *Publisher) Publish(ctx context.Context, d serving.Descriptor) error {
	_, _, err := p.pub.Publish(ctx, d)
	return err
}

// LatestVersion returns the highest version of name in the models topic;
// see the package function [LatestVersion].
func (p *Publisher) LatestVersion(ctx context.Context, name string) (serving.ModelRef, error) {
	return LatestVersion(ctx, p.cfg, p.pub.Topic(), name)
}

// Close flushes and closes the producer.
func (p *Publisher) Close() error { return p.pub.Close() }
