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
// firstBackoff, doubling, up to maxBackoff, or to the RetryTimeout over
// capRetries when that is longer.
const (
	firstBackoff = 100 * time.Millisecond
	maxBackoff   = time.Second
	capRetries   = 32
)

// RetryTimeout sets the longest outage every client built from the
// Config rides out, overriding the default of 30 seconds: a broker
// failover, a leader election or a coordinator move that ends within d
// costs some latency, not an error. Within it, a write is retried in
// order, with a backoff growing from 100 ms to 1 s, or to d/32 when that
// is longer: a write is retried 33 times over the default 30 s, 39 times
// over ten minutes, 46 over a day. A write still
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

// retries returns how many retries, with backoffFor(d)(n) before retry
// n, wait at least d in all. Since the longest backoff is at least
// d/capRetries, it is at most capRetries plus the doublings up to that
// backoff: 33 for the default RetryTimeout, 39 for ten minutes, 46 for a
// day. It counts down what is left of d rather than summing the
// backoffs, which would overflow for a d near the largest Duration.
func retries(d time.Duration) int {
	b := backoffFor(d)
	n := 0
	for left := d; left > 0; {
		n++
		left -= b(n, 0)
	}
	return n
}

// backoffFor returns sarama's Retry.BackoffFunc for a RetryTimeout of d:
// the wait before retry n (counted from 1), from firstBackoff, doubling,
// up to maxBackoff or d/capRetries, whichever is longer. The longer cap
// for a long RetryTimeout bounds the number of retries, which each cost
// a metadata refresh and a new connection when sarama reads a write's
// failure as a broken connection, and which a transactional producer in
// error makes without backoff (see failedFast).
func backoffFor(d time.Duration) func(n, max int) time.Duration {
	most := max(maxBackoff, d/capRetries)
	return func(n, _ int) time.Duration {
		if n < 1 {
			n = 1
		}
		b := firstBackoff
		for i := 1; i < n && b < most; i++ {
			b *= 2
		}
		return min(b, most)
	}
}

// applyRetry maps a RetryTimeout of d onto the producer settings of s.
func applyRetry(s *sarama.Config, d time.Duration) {
	s.Producer.Retry.Max, s.Producer.Retry.BackoffFunc = retries(d), backoffFor(d)
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
	b := backoffFor(d)
	s.Metadata.Retry.BackoffFunc = func(n, max int) time.Duration { return b(n+1, max) }
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
