package trainkafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/wire"
	"github.com/modelstream/modelstream/training"
)

// LatestVersion reads the models topic on brokers and returns the
// highest version published under name, with its content ID: the
// sha256 header, or the hash of the bytes when the header is absent. It
// returns the zero ModelRef and a nil error when the topic does not
// exist or holds no version of name. tune, when not nil, adjusts the
// sarama configuration (TLS, SASL) after the defaults are set.
//
// It reads every partition from its oldest offset up to the high-water
// mark it finds when called, outside any consumer group, so it sees what
// a ModelFeed replaying the topic sees. A message of name that decodes
// (wire.DecodeModel) counts even if a feed would reject the model it
// holds: its number is taken either way. A message without a version
// header counts as the version before it plus one, as a ModelFeed
// assigns it; that agrees with the feeds when all versions of name sit
// in one partition, as the Publisher's keying by name ensures. Messages
// that do not decode are skipped, as the feeds skip them.
//
// It does not create the topic. A broker error, or ctx ending before
// every partition is read, is returned: a caller cannot then know the
// latest version.
func LatestVersion(ctx context.Context, brokers []string, topic, name string, tune func(*sarama.Config)) (serving.ModelRef, error) {
	switch {
	case len(brokers) == 0:
		return serving.ModelRef{}, fmt.Errorf("%w: no brokers", kafka.ErrConfig)
	case topic == "":
		return serving.ModelRef{}, fmt.Errorf("%w: empty models topic", kafka.ErrConfig)
	case name == "":
		return serving.ModelRef{}, fmt.Errorf("%w: empty model name", kafka.ErrConfig)
	}
	cfg := sarama.NewConfig()
	cfg.Version = kafka.DefaultVersion
	cfg.ClientID = "modelstream-trainer"
	cfg.Metadata.AllowAutoTopicCreation = false
	cfg.Metadata.Retry.Backoff = 100 * time.Millisecond
	cfg.Consumer.Return.Errors = true
	// The reader stops at the high-water mark, so the data it asks for
	// is there already; a long fetch wait only delays the next partition.
	cfg.Consumer.MaxWaitTime = 50 * time.Millisecond
	if tune != nil {
		tune(cfg)
	}
	if err := cfg.Validate(); err != nil {
		return serving.ModelRef{}, fmt.Errorf("%w: sarama: %v", kafka.ErrConfig, err)
	}
	fail := func(err error) (serving.ModelRef, error) {
		return serving.ModelRef{}, fmt.Errorf("trainkafka: latest version of %q in %q: %w", name, topic, err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		return fail(err)
	}
	defer client.Close()
	parts, err := client.Partitions(topic)
	if errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		return serving.ModelRef{}, nil // nothing was ever published there
	}
	if err != nil {
		return fail(err)
	}
	cons, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return fail(err)
	}
	defer cons.Close()
	var latest serving.ModelRef
	for _, p := range parts {
		if err := latestInPartition(ctx, client, cons, topic, p, name, &latest); err != nil {
			return fail(err)
		}
	}
	return latest, nil
}

// latestInPartition raises *latest to the newest version of name in one
// partition, read from its oldest offset to its current high-water mark.
func latestInPartition(ctx context.Context, client sarama.Client, cons sarama.Consumer, topic string, p int32, name string, latest *serving.ModelRef) error {
	oldest, err := client.GetOffset(topic, p, sarama.OffsetOldest)
	if err != nil {
		return fmt.Errorf("partition %d: oldest offset: %w", p, err)
	}
	hwm, err := client.GetOffset(topic, p, sarama.OffsetNewest)
	if err != nil {
		return fmt.Errorf("partition %d: high-water mark: %w", p, err)
	}
	if hwm <= oldest {
		return nil
	}
	pc, err := cons.ConsumePartition(topic, p, oldest)
	if err != nil {
		return fmt.Errorf("partition %d: consume from %d: %w", p, oldest, err)
	}
	defer pc.AsyncClose()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case cerr := <-pc.Errors():
			return fmt.Errorf("partition %d: %w", p, cerr)
		case msg := <-pc.Messages():
			if string(msg.Key) == name {
				consider(msg, latest)
			}
			if msg.Offset+1 >= hwm {
				return nil
			}
		}
	}
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

// PublisherOption configures a ModelPublisher.
type PublisherOption func(*publisherOptions)

type publisherOptions struct {
	topic string
	tune  func(*sarama.Config)
}

// PublishTopic sets the models topic, overriding the default of
// kafka.DefaultModelsTopic.
func PublishTopic(t string) PublisherOption { return func(o *publisherOptions) { o.topic = t } }

// PublishSarama lets fn adjust the sarama configuration of both the
// producer and the client that looks up the latest version, after the
// defaults are set.
func PublishSarama(fn func(*sarama.Config)) PublisherOption {
	return func(o *publisherOptions) { o.tune = fn }
}

// ModelPublisher publishes a trainer's versions to the models topic
// through a serving/kafka Publisher, and implements
// training.VersionLookup with [LatestVersion] on the same topic, so that
// a Trainer numbers its versions after those already there: a trainer
// restarted without its checkpoint publishes v4 after v3 rather than a
// second v1 that every ModelFeed would skip as stale.
//
// A ModelPublisher is safe for concurrent use.
type ModelPublisher struct {
	pub     *kafka.Publisher
	brokers []string
	o       publisherOptions
}

var (
	_ training.Publisher     = (*ModelPublisher)(nil)
	_ training.VersionLookup = (*ModelPublisher)(nil)
)

// NewPublisher connects a producer to brokers and returns a
// ModelPublisher for the models topic. Configuration errors wrap
// kafka.ErrConfig. The caller must Close it.
func NewPublisher(brokers []string, opts ...PublisherOption) (*ModelPublisher, error) {
	o := publisherOptions{topic: kafka.DefaultModelsTopic}
	for _, opt := range opts {
		opt(&o)
	}
	kopts := []kafka.PublisherOption{kafka.PublishTopic(o.topic)}
	if o.tune != nil {
		kopts = append(kopts, kafka.PublishSarama(o.tune))
	}
	p, err := kafka.NewPublisher(brokers, kopts...)
	if err != nil {
		return nil, fmt.Errorf("trainkafka: publisher: %w", err)
	}
	return &ModelPublisher{pub: p, brokers: append([]string(nil), brokers...), o: o}, nil
}

// Publish writes d to the models topic; see kafka.Publisher.Publish.
func (p *ModelPublisher) Publish(ctx context.Context, d serving.Descriptor) error {
	_, _, err := p.pub.Publish(ctx, d)
	return err
}

// LatestVersion returns the highest version of name in the models topic;
// see the package function [LatestVersion].
func (p *ModelPublisher) LatestVersion(ctx context.Context, name string) (serving.ModelRef, error) {
	return LatestVersion(ctx, p.brokers, p.o.topic, name, p.o.tune)
}

// Close flushes and closes the producer.
func (p *ModelPublisher) Close() error { return p.pub.Close() }
