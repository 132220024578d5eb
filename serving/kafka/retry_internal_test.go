package kafka

import (
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestLeaderRetry: the Sink's producer looks a new leader up for as long
// as RetryTimeout (sarama counts metadata retries from 0).
func TestLeaderRetry(t *testing.T) {
	for _, d := range []time.Duration{30 * time.Second, 2 * time.Second} {
		s := sarama.NewConfig()
		applyLeaderRetry(s, d)
		var sum time.Duration
		for n := 0; n < s.Metadata.Retry.Max; n++ {
			sum += s.Metadata.Retry.BackoffFunc(n, s.Metadata.Retry.Max)
		}
		if sum < d || sum > d+time.Second || s.Metadata.Timeout != d {
			t.Errorf("RetryTimeout %v: metadata backoffs add up to %v, timeout %v", d, sum, s.Metadata.Timeout)
		}
	}
}
