package kafka_test

import (
	"errors"
	"testing"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving/kafka"
)

// TestSinkConfig: a Sink refuses settings under which an acknowledged
// write could still be lost or reordered, since the Source commits
// offsets on the Sink's acknowledgement. Validation runs before any
// broker is dialled, so the address is never used.
func TestSinkConfig(t *testing.T) {
	for name, tune := range map[string]func(*sarama.Config){
		"acks=1":       func(c *sarama.Config) { c.Producer.Idempotent = false; c.Producer.RequiredAcks = sarama.WaitForLocal },
		"acks=0":       func(c *sarama.Config) { c.Producer.Idempotent = false; c.Producer.RequiredAcks = sarama.NoResponse },
		"reordering":   func(c *sarama.Config) { c.Producer.Idempotent = false; c.Net.MaxOpenRequests = 5 },
		"no successes": func(c *sarama.Config) { c.Producer.Return.Successes = false },
		"no errors":    func(c *sarama.Config) { c.Producer.Return.Errors = false },
	} {
		if _, err := kafka.NewSink([]string{"127.0.0.1:1"}, kafka.SinkSarama(tune)); !errors.Is(err, kafka.ErrConfig) {
			t.Errorf("%s: got %v, want ErrConfig", name, err)
		}
	}
	for name, opt := range map[string]kafka.SinkOption{
		"topic": kafka.SinkTopic(""),
		"dlq":   kafka.DeadLetterTopic(""),
	} {
		if _, err := kafka.NewSink([]string{"127.0.0.1:1"}, opt); !errors.Is(err, kafka.ErrConfig) {
			t.Errorf("%s: got %v, want ErrConfig", name, err)
		}
	}
	if _, err := kafka.NewSink(nil); !errors.Is(err, kafka.ErrConfig) {
		t.Errorf("no brokers: got %v, want ErrConfig", err)
	}
}
