package kafkatest_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestNoGoroutineLeft: everything New, Produce, Consume, Committed,
// Unresponsive and FailFetches start stops when the test that asked for
// it ends, a Consumer whose messages were never read included.
func TestNoGoroutineLeft(t *testing.T) {
	before := goroutines()
	t.Run("use", func(t *testing.T) {
		c := kafkatest.New(t, kafkatest.NumBrokers(2), kafkatest.Topic("t", 3))
		read, _ := c.Consume(t, "t"), c.Consume(t, "t")
		msgs := make([]kafkatest.Message, 100)
		for i := range msgs {
			msgs[i] = kafkatest.Message{Key: []byte{byte(i)}, Value: []byte("v")}
		}
		c.Produce(t, "t", msgs...)
		read.Next(t, len(msgs))
		c.Committed(t, "g", "t")
		kafkatest.Unresponsive(t)
		c.FailFetches(nil, "none").Stop()
	})
	// Goroutines that were told to stop may take a moment to return.
	var left []string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		left = left[:0]
		for id, stack := range goroutines() {
			if _, ok := before[id]; !ok && !strings.Contains(stack, "go-metrics.(*meterArbiter)") { // sarama's, process-wide
				left = append(left, stack)
			}
		}
		if len(left) == 0 {
			return
		}
	}
	t.Fatalf("%d goroutines left:\n%s", len(left), strings.Join(left, "\n\n"))
}

// goroutines returns the stack of every goroutine, by its header line's
// "goroutine N".
func goroutines() map[string]string {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	out := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		id, _, _ := strings.Cut(g, " [")
		out[id] = g
	}
	return out
}
