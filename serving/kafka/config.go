package kafka

import (
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
)

// DefaultVersion is the Kafka protocol version the package's clients
// speak unless a Sarama option changes it: 2.8, sarama's own default,
// which has idempotent producers, headers and KIP-394 group joins, and
// which both real brokers since 2.8 and the kfake test broker accept.
var DefaultVersion = sarama.V2_8_0_0

// The default topic names.
const (
	DefaultModelsTopic     = "models"
	DefaultDataTopic       = "data"
	DefaultScoresTopic     = "scores"
	DefaultDeadLetterTopic = "scores.dlq"
)

// ErrConfig means a constructor was given an impossible configuration.
var ErrConfig = errors.New("kafka: invalid configuration")

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
}

// newConfig returns the sarama configuration shared by every client of
// the package. Producers are idempotent with acks=all and one request in
// flight per broker, which sarama requires for idempotence and which keeps
// the order of messages per partition. Consumers never commit on their
// own: the Source commits only what the Sink has acknowledged.
func newConfig(clientID string, tune func(*sarama.Config)) (*sarama.Config, error) {
	c := sarama.NewConfig()
	c.Version = DefaultVersion
	c.ClientID = clientID
	c.Metadata.Retry.Backoff = 100 * time.Millisecond

	c.Producer.Idempotent = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Net.MaxOpenRequests = 1
	c.Producer.Retry.Max = 10
	c.Producer.Retry.Backoff = 100 * time.Millisecond
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true

	c.Consumer.Return.Errors = true
	// The Source's reader waits for room in its window, which can take a
	// produce round trip; sarama's default of 100ms would make it drop
	// and re-subscribe the partition each time.
	c.Consumer.MaxProcessingTime = time.Second
	c.Consumer.Offsets.AutoCommit.Enable = false
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}

	if tune != nil {
		tune(c)
	}
	if err := c.Validate(); err != nil {
		return nil, configErr("sarama: %v", err)
	}
	return c, nil
}

func checkBrokers(brokers []string) error {
	if len(brokers) == 0 {
		return configErr("no brokers")
	}
	for _, b := range brokers {
		if b == "" {
			return configErr("empty broker address")
		}
	}
	return nil
}
