package kafka

import (
	"math"
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

// TestRetriesBounded: the producer's retries wait out RetryTimeout, and
// overshoot it by one backoff at most, in a bounded number of retries
// whatever RetryTimeout: a transactional producer in error makes them
// without backoff (see failedFast), each with a metadata refresh and a
// new connection. With the backoff capped at 1 s, a RetryTimeout of ten
// minutes took 603 retries, and a day 86403.
func TestRetriesBounded(t *testing.T) {
	for _, d := range []time.Duration{time.Millisecond, 2 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, time.Hour, 24 * time.Hour, 30 * 24 * time.Hour} {
		s := sarama.NewConfig()
		applyRetry(s, d)
		var sum, last time.Duration
		for n := 1; n <= s.Producer.Retry.Max; n++ {
			last = s.Producer.Retry.BackoffFunc(n, s.Producer.Retry.Max)
			sum += last
		}
		t.Logf("RetryTimeout %v: %d retries, backoffs add up to %v, the last %v", d, s.Producer.Retry.Max, sum, last)
		if sum < d || sum-last >= d {
			t.Errorf("RetryTimeout %v: %d retries whose backoffs add up to %v (the last %v)", d, s.Producer.Retry.Max, sum, last)
		}
		if s.Producer.Retry.Max > 64 {
			t.Errorf("RetryTimeout %v: %d retries, want at most 64", d, s.Producer.Retry.Max)
		}
	}
}

// TestRetryTimeoutAsLongAsItGets: a RetryTimeout near the largest
// Duration, as a caller who means "retry for ever" may write, still
// makes a configuration, with a bounded count of retries whose backoffs
// add up to it. Summing the backoffs overflowed past math.MaxInt64,
// wrapped negative and stayed below d, so NewConfig never returned.
func TestRetryTimeoutAsLongAsItGets(t *testing.T) {
	for _, d := range []time.Duration{math.MaxInt64, math.MaxInt64 - 1, math.MaxInt64 / 32 * 31} {
		done := make(chan *Config, 1)
		go func() {
			c, err := NewConfig([]string{"127.0.0.1:1"}, RetryTimeout(d))
			if err != nil {
				t.Errorf("RetryTimeout(%v): %v", d, err)
			}
			done <- c
		}()
		select {
		case c := <-done:
			if c == nil {
				continue
			}
			s, err := c.SaramaConfig(nil)
			if err != nil {
				t.Fatal(err)
			}
			left := d // what the backoffs must still wait out; a sum would overflow
			for n := 1; n <= s.Producer.Retry.Max; n++ {
				left -= s.Producer.Retry.BackoffFunc(n, s.Producer.Retry.Max)
			}
			if left > 0 || s.Producer.Retry.Max > 64 {
				t.Errorf("RetryTimeout(%v): %d retries leave %v of it not waited out", d, s.Producer.Retry.Max, left)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("NewConfig with RetryTimeout(%v) did not return within 10s", d)
		}
	}
}
