package kafka

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/internal/logs"
	"github.com/modelstream/modelstream/serving"
)

// DefaultVersion is the Kafka protocol version the package's clients
// speak unless [Sarama] changes it: 2.8, sarama's own default, which has
// idempotent producers, headers and KIP-394 group joins, and which both
// real brokers since 2.8 and the kfake test broker accept.
var DefaultVersion = sarama.V2_8_0_0

// The default topic names. DefaultDataTopic is no default, as a Source
// reads only the topics named with [Topics]; it is the data topic of the
// package's examples and tests.
const (
	DefaultModelsTopic     = "models"
	DefaultDataTopic       = "data"
	DefaultScoresTopic     = "scores"
	DefaultDeadLetterTopic = "scores.dlq"
)

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: kafka: "+format, append([]any{serving.ErrConfig}, args...)...)
}

// Config is the Kafka connection settings that every client of this
// package ([ModelFeed], [Publisher], [Source], [Sink]) and the Kafka
// adapters of other packages (training/trainkafka, governance/govkafka)
// share: the bootstrap brokers, TLS, SASL, the client ID, the logger
// and any further sarama settings. Build one with [NewConfig] and pass
// it to each constructor; each client opens its own connections from it.
//
// A Config is immutable and safe for concurrent use.
type Config struct {
	brokers  []string
	clientID string
	tls      *tls.Config
	sasl     *sasl
	logger   *slog.Logger
	tune     func(*sarama.Config)
	retry    time.Duration // see RetryTimeout
}

type sasl struct{ user, password string }

// Option configures a [Config].
type Option interface{ applyConfig(*Config) }

type configOption func(*Config)

func (f configOption) applyConfig(c *Config) { f(c) }

// ClientID sets the client ID every client sends to the brokers (for
// their logs and quotas), overriding the default of "modelstream".
func ClientID(id string) Option { return configOption(func(c *Config) { c.clientID = id }) }

// TLS makes every client connect over TLS with cfg, overriding the
// default of plain TCP. The Config keeps cfg; do not change it after.
func TLS(cfg *tls.Config) Option { return configOption(func(c *Config) { c.tls = cfg }) }

// SASL makes every client authenticate with SASL/PLAIN as user,
// overriding the default of no authentication. Use it together with
// [TLS]: PLAIN sends the password as is. For SCRAM or OAUTHBEARER, set
// sarama's Net.SASL fields with [Sarama].
func SASL(user, password string) Option {
	return configOption(func(c *Config) { c.sasl = &sasl{user, password} })
}

// Logger sets the logger of every client built from the Config. The
// default is slog.Default(), as it is when NewConfig is called, passing
// Warn and above only: routine lines (a stale model version skipped,
// records left for the next run at shutdown) are logged at Info, and
// only for a logger given here.
func Logger(l *slog.Logger) Option { return configOption(func(c *Config) { c.logger = l }) }

// Sarama lets fn adjust every sarama configuration made from the Config,
// after the package's and the client's defaults and the other options
// are applied; the default is no adjustment. fn is called once per
// client, on a fresh configuration. Each client refuses, with an error
// wrapping serving.ErrConfig, settings that would break its promises:
// the Sink, for example, needs acks from every in-sync replica.
func Sarama(fn func(*sarama.Config)) Option { return configOption(func(c *Config) { c.tune = fn }) }

// NewConfig returns the settings for clients of the cluster whose
// bootstrap brokers ("host:port") are given. It dials nothing. An empty
// broker list, an empty address or client ID, or a nil logger is an
// error wrapping serving.ErrConfig, and so is a sarama configuration
// that does not validate.
func NewConfig(brokers []string, opts ...Option) (*Config, error) {
	c := &Config{brokers: slices.Clone(brokers), clientID: "modelstream", logger: logs.Default(), retry: defaultRetryTimeout}
	for _, o := range opts {
		o.applyConfig(c)
	}
	switch {
	case len(brokers) == 0:
		return nil, configErr("NewConfig: no brokers")
	case slices.Contains(brokers, ""):
		return nil, configErr("NewConfig: empty broker address")
	case c.clientID == "":
		return nil, configErr("ClientID: empty")
	case c.logger == nil:
		return nil, configErr("Logger(nil)")
	case c.sasl != nil && c.sasl.user == "":
		return nil, configErr("SASL: empty user")
	case c.retry <= 0:
		return nil, configErr("RetryTimeout(%v): must be positive", c.retry)
	}
	if _, err := c.SaramaConfig(nil); err != nil {
		return nil, err
	}
	return c, nil
}

// Brokers returns the bootstrap brokers.
func (c *Config) Brokers() []string { return slices.Clone(c.brokers) }

// Logger returns the logger.
func (c *Config) Logger() *slog.Logger { return c.logger }

// SaramaConfig returns a fresh sarama configuration for one client:
// the package's defaults (below), then client, then the Config's TLS,
// SASL and client ID, then its [Sarama] function, validated. Adapters
// in other packages build their sarama clients with it; client may be
// nil. A configuration that does not validate is an error wrapping
// serving.ErrConfig.
//
// The package's defaults: protocol [DefaultVersion]; idempotent
// producers with acks from all in-sync replicas and one request in
// flight per broker, which sarama requires for idempotence and which
// keeps the order of messages per partition; no automatic offset
// commits, and a new consumer group starts at the oldest offset; retries
// and backoffs that ride out an outage of [RetryTimeout].
func (c *Config) SaramaConfig(client func(*sarama.Config)) (*sarama.Config, error) {
	s := sarama.NewConfig()
	s.Version = DefaultVersion
	s.ClientID = c.clientID
	s.Metadata.Retry.Backoff = 100 * time.Millisecond
	applyRetry(s, c.retry)

	s.Producer.Idempotent = true
	s.Producer.RequiredAcks = sarama.WaitForAll
	s.Net.MaxOpenRequests = 1
	s.Producer.Return.Successes = true
	s.Producer.Return.Errors = true

	s.Consumer.Return.Errors = true
	// The Source's reader waits for room in its window, which can take a
	// produce round trip; sarama's default of 100ms would make it drop
	// and re-subscribe the partition each time.
	s.Consumer.MaxProcessingTime = time.Second
	s.Consumer.Offsets.AutoCommit.Enable = false
	s.Consumer.Offsets.Initial = sarama.OffsetOldest
	s.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}

	if client != nil {
		client(s)
	}
	if c.tls != nil {
		s.Net.TLS.Enable = true
		s.Net.TLS.Config = c.tls
	}
	if c.sasl != nil {
		s.Net.SASL.Enable = true
		s.Net.SASL.Mechanism = sarama.SASLTypePlaintext
		s.Net.SASL.User = c.sasl.user
		s.Net.SASL.Password = c.sasl.password
	}
	if c.tune != nil {
		c.tune(s)
	}
	if err := s.Validate(); err != nil {
		return nil, configErr("sarama: %v", err)
	}
	return s, nil
}
