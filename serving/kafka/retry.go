package kafka

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/IBM/sarama"
)

// defaultRetryTimeout is the default of RetryTimeout: long enough for a
// controller to notice a dead broker (its session timeout, 18 s by
// default since Kafka 2.5) and elect new leaders, with room to spare.
const defaultRetryTimeout = 30 * time.Second

// The backoff between two attempts of a request grows from
// firstBackoff, doubling, up to maxBackoff.
const (
	firstBackoff = 100 * time.Millisecond
	maxBackoff   = time.Second
)

// RetryTimeout sets the longest outage every client built from the
// Config rides out, overriding the default of 30 seconds: a broker
// failover, a leader election or a coordinator move that ends within d
// costs some latency, not an error. Within it, a write is retried in
// order, with a backoff growing from 100 ms to 1 s. A write still
// refused after d stops [Source.Run] with an error wrapping
// [ErrUnavailable] (under [ExactlyOnce], it aborts the transaction
// instead, and the partitions are read again). A Source that lost its consumer group session, and a
// [ModelFeed], never give up: they hold no write, keep the live models
// serving, and catch up once the cluster is back.
//
// d bounds the retries from below: a write fails once its backoffs add
// up to d, and each attempt also takes its round trip, which is longer
// when a broker does not answer at all (sarama's Net timeouts, 30 s by
// default, bound a single attempt). d must be positive.
//
// It sets sarama's Producer.Retry.Max and BackoffFunc, and for the
// producer of a [Sink] also Metadata.Retry.Max, BackoffFunc and
// Metadata.Timeout, so that the lookup of a new leader waits out an
// election; [Sarama] may still change them.
func RetryTimeout(d time.Duration) Option {
	return configOption(func(c *Config) { c.retry = d })
}

// ErrUnavailable is wrapped by the error [Source.Run] returns when Kafka
// stayed unavailable for longer than [RetryTimeout]: a write of a score
// or a dead letter failed with a retriable error (no leader, a broker
// that cannot be reached, too few in-sync replicas) after its retries.
// The error wraps the cause too. No offset is committed past the record whose
// write failed, so the next owner of the partition reads it again.
var ErrUnavailable = errors.New("kafka: unavailable for longer than RetryTimeout")

// retries returns how many retries, with backoff(n) before retry n,
// wait at least d in all.
func retries(d time.Duration) int {
	n := 0
	for sum := time.Duration(0); sum < d; {
		n++
		sum += backoff(n, 0)
	}
	return n
}

// backoff is sarama's Retry.BackoffFunc: the wait before retry n
// (counted from 1).
func backoff(n, _ int) time.Duration {
	if n < 1 {
		n = 1
	}
	if n > 8 {
		return maxBackoff
	}
	return min(firstBackoff<<(n-1), maxBackoff)
}

// applyRetry maps a RetryTimeout of d onto the producer settings of s.
func applyRetry(s *sarama.Config, d time.Duration) {
	s.Producer.Retry.Max, s.Producer.Retry.BackoffFunc = retries(d), backoff
	s.Producer.Retry.Backoff = firstBackoff
}

// applyLeaderRetry maps a RetryTimeout of d onto the metadata settings
// of the Sink's producer, so that looking up a partition's new leader
// waits out an election: sarama's producer gives up a write at once
// when the lookup fails. Other clients keep sarama's few metadata
// retries, so that they fail fast on a topic that does not exist or a
// cluster that is gone, and stop promptly.
func applyLeaderRetry(s *sarama.Config, d time.Duration) {
	// sarama counts metadata retries from 0.
	s.Metadata.Retry.Max = retries(d)
	s.Metadata.Retry.BackoffFunc = func(n, max int) time.Duration { return backoff(n+1, max) }
	s.Metadata.Timeout = d
}

// retriable reports whether a write failed because Kafka was
// unavailable, not because it refused the record.
func retriable(err error) bool {
	var kerr sarama.KError
	if errors.As(err, &kerr) {
		switch kerr {
		case sarama.ErrNotLeaderForPartition, sarama.ErrLeaderNotAvailable, sarama.ErrRequestTimedOut,
			sarama.ErrNotEnoughReplicas, sarama.ErrNotEnoughReplicasAfterAppend, sarama.ErrKafkaStorageError,
			sarama.ErrBrokerNotAvailable, sarama.ErrReplicaNotAvailable, sarama.ErrNetworkException,
			sarama.ErrUnknownTopicOrPartition, sarama.ErrFencedLeaderEpoch, sarama.ErrUnknownLeaderEpoch,
			sarama.ErrNotController, sarama.ErrConsumerCoordinatorNotAvailable, sarama.ErrNotCoordinatorForConsumer:
			return true
		}
		return false
	}
	var nerr net.Error
	return errors.Is(err, sarama.ErrOutOfBrokers) || errors.Is(err, sarama.ErrNotConnected) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &nerr) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// writeFailed is the error that stops a Source when the write of the
// output of offset off of tp failed for good.
func writeFailed(tp topicPartition, off int64, err error) error {
	if retriable(err) {
		return fmt.Errorf("%w: kafka: source: %s/%d offset %d: %w", ErrUnavailable, tp.Topic, tp.Partition, off, err)
	}
	return fmt.Errorf("kafka: source: %s/%d offset %d: %w", tp.Topic, tp.Partition, off, err)
}
