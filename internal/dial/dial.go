// Package dial lets a constructor that connects to a cluster honour its
// context when the client library's own constructor takes none (sarama's
// NewAsyncProducer, NewSyncProducer and NewConsumerGroup block until the
// brokers answer or their retries run out).
package dial

import (
	"context"
	"io"
)

// Open runs open until it returns or ctx is done, whichever is first. If
// ctx is done first, Open returns ctx.Err() at once and closes what open
// returns when it does, so that an abandoned connection is not leaked.
func Open[T io.Closer](ctx context.Context, open func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := open()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.err == nil {
				r.v.Close()
			}
		}()
		return zero, ctx.Err()
	}
}
