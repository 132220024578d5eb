package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/IBM/sarama"
)

// TopicError means a topic that a client writes to is missing and could
// not be created, a topic that a [Source] reads is missing, or either
// could not be checked at all. The clients check their output topics
// when they are made, and a Source its input topics when it starts to
// Run, so that a deployment without them, or with a misspelt name, fails
// at start, with the topic's name, rather than at the first score or
// dead letter, or by waiting forever on a topic that never gets a
// record.
type TopicError struct {
	Topic string
	Err   error
	read  bool // a topic a Source reads: it is never created
}

// Error names the topic and the cause.
func (e *TopicError) Error() string {
	if e.read {
		return fmt.Sprintf("kafka: topic %q to read could not be checked, or does not exist (a Source does not create the topics it reads): %v", e.Topic, e.Err)
	}
	return fmt.Sprintf("kafka: topic %q could not be checked, or is missing and could not be created: %v", e.Topic, e.Err)
}

// Unwrap returns the cause.
func (e *TopicError) Unwrap() error { return e.Err }

// EnsureTopics checks that the topics exist, and creates those that do
// not, with the brokers' default partition count and replication factor
// (num.partitions, default.replication.factor). A [Sink] ensures its
// scores and dead-letter topics, and a [Publisher] its models topic, when
// they are made; adapters ensure theirs. An existing topic is left as it
// is. A topic that is missing and cannot be created (the cluster forbids
// it, or this principal lacks the ACL) is a *TopicError, as is one whose
// metadata cannot be read. When ctx is done first, EnsureTopics returns
// ctx.Err(); a creation already asked for may still happen.
func (c *Config) EnsureTopics(ctx context.Context, topics ...string) error {
	return c.ensureTopics(ctx, -1, topics...)
}

// ensureTopics is EnsureTopics with the partition count of created
// topics: -1 for the brokers' default.
func (c *Config) ensureTopics(ctx context.Context, partitions int32, topics ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	sc, err := c.SaramaConfig(func(s *sarama.Config) { s.Metadata.AllowAutoTopicCreation = false })
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- ensure(c.brokers, sc, partitions, topics) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func ensure(brokers []string, sc *sarama.Config, partitions int32, topics []string) error {
	client, err := sarama.NewClient(brokers, sc)
	if err != nil {
		return &TopicError{Topic: topics[0], Err: err}
	}
	defer client.Close()
	var missing []string
	for _, t := range topics {
		_, err := client.Partitions(t)
		switch {
		case errors.Is(err, sarama.ErrUnknownTopicOrPartition):
			missing = append(missing, t)
		case err != nil:
			return &TopicError{Topic: t, Err: err}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		return &TopicError{Topic: missing[0], Err: err}
	}
	// Closing the admin would close the client, which the deferred
	// Close above does.
	for _, t := range missing {
		err := admin.CreateTopic(t, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: -1}, false)
		var te *sarama.TopicError
		if err != nil && !(errors.As(err, &te) && te.Err == sarama.ErrTopicAlreadyExists) {
			return &TopicError{Topic: t, Err: err}
		}
	}
	return nil
}

// CheckTopics checks that every one of topics exists, and creates none:
// the metadata requests it makes do not ask the cluster to create a topic
// on first use. A topic that is missing, or whose metadata cannot be
// read, is a *TopicError; a reader's misspelt topic fails at start rather
// than waiting on a topic that will never have records. A [Source] checks
// its topics at the start of Run; adapters that read check theirs when
// they are made. When ctx is done first, CheckTopics returns ctx.Err().
func (c *Config) CheckTopics(ctx context.Context, topics ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(topics) == 0 {
		return nil
	}
	sc, err := c.SaramaConfig(func(s *sarama.Config) { s.Metadata.AllowAutoTopicCreation = false })
	if err != nil {
		return err
	}
	return checkRead(ctx, c.brokers, sc, topics)
}

// checkRead returns a *TopicError for the first of topics that does not
// exist, or that cannot be checked, and creates none: sc must not allow
// automatic topic creation, or the metadata request would create a
// misspelt topic on a cluster that creates topics on first use. When ctx
// is done first, it returns ctx.Err().
func checkRead(ctx context.Context, brokers []string, sc *sarama.Config, topics []string) error {
	done := make(chan error, 1)
	go func() {
		client, err := sarama.NewClient(brokers, sc)
		if err != nil {
			done <- &TopicError{Topic: topics[0], Err: err, read: true}
			return
		}
		defer client.Close()
		for _, t := range topics {
			if _, err := client.Partitions(t); err != nil {
				done <- &TopicError{Topic: t, Err: err, read: true}
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
