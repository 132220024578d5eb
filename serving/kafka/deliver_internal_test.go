package kafka

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/IBM/sarama/mocks"
)

// TestDeliverCallsFuncAcksOneAtATime: deliver reads successes and
// errors in two goroutines, yet calls the acknowledgements that are
// functions one at a time, as the Sink documents. The producer is
// sarama's mock, which returns successes and errors on buffered
// channels as fast as they are asked for: the real one cannot be made
// to fail every other write.
func TestDeliverCallsFuncAcksOneAtATime(t *testing.T) {
	cfg := mocks.NewTestConfig()
	cfg.Producer.Return.Successes = true
	p := mocks.NewAsyncProducer(t, cfg)
	const n = 400
	var busy, overlaps, oks, fails atomic.Int32
	ack := func(err error) {
		if busy.Add(1) > 1 {
			overlaps.Add(1)
		}
		time.Sleep(50 * time.Microsecond) // room for another call to overlap
		busy.Add(-1)
		if err != nil {
			fails.Add(1)
		} else {
			oks.Add(1)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		deliver(p)
	}()
	refused := errors.New("refused")
	for i := range n {
		if i%2 == 0 {
			p.ExpectInputAndSucceed()
		} else {
			p.ExpectInputAndFail(refused)
		}
		p.Input() <- &sarama.ProducerMessage{Topic: "t", Metadata: ack}
	}
	p.AsyncClose()
	<-done
	if oks.Load() != n/2 || fails.Load() != n/2 {
		t.Fatalf("%d successes and %d failures acknowledged, want %d each", oks.Load(), fails.Load(), n/2)
	}
	if o := overlaps.Load(); o > 0 {
		t.Errorf("%d acknowledgements were called while another ran", o)
	}
}
