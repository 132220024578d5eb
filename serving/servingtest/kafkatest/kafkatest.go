package kafkatest

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/IBM/sarama"

	"github.com/twmb/franz-go/pkg/kfake"
)

// defaultPartitions is the partition count of topics that are created on
// first use rather than seeded with [Topic].
const defaultPartitions = 4

// Option configures a Cluster.
type Option func(*config)

type config struct {
	brokers    int
	ports      []int
	topics     []topic
	partitions int
	autoCreate bool
}

type topic struct {
	name       string
	partitions int32
}

// NumBrokers sets how many brokers the cluster runs, overriding the
// default of 1. Partition leadership is spread over the brokers, so a
// client talks to all of them.
func NumBrokers(n int) Option { return func(c *config) { c.brokers = n } }

// Ports sets the TCP ports the brokers listen on, one per broker, on
// 127.0.0.1, overriding the default of a free port chosen by the system.
// The number of ports must equal the number of brokers.
func Ports(ports ...int) Option { return func(c *config) { c.ports = slices.Clone(ports) } }

// Topic creates a topic with the given number of partitions when the
// cluster starts. It may be given several times; one topic given twice
// with two partition counts fails Start.
func Topic(name string, partitions int32) Option {
	return func(c *config) { c.topics = append(c.topics, topic{name, partitions}) }
}

// AutoPartitions sets the partition count of topics created on first use,
// overriding the default of 4.
func AutoPartitions(n int) Option { return func(c *config) { c.partitions = n } }

// NoAutoCreate makes the cluster refuse to create topics on first use,
// overriding the default of creating them.
func NoAutoCreate() Option { return func(c *config) { c.autoCreate = false } }

// Cluster is a running in-process Kafka cluster. Its methods are safe for
// concurrent use.
type Cluster struct {
	kc    *kfake.Cluster
	addrs []string

	mu   sync.Mutex
	prod sarama.SyncProducer // for Produce, made on first use
}

// Start starts a cluster. The caller must call Close.
func Start(opts ...Option) (*Cluster, error) {
	cfg := config{brokers: 1, partitions: defaultPartitions, autoCreate: true}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("kafkatest: nil Option")
		}
		o(&cfg)
	}
	if cfg.brokers < 1 {
		return nil, fmt.Errorf("kafkatest: NumBrokers(%d): must be at least 1", cfg.brokers)
	}
	if len(cfg.ports) > 0 && len(cfg.ports) != cfg.brokers {
		return nil, fmt.Errorf("kafkatest: %d ports for %d brokers", len(cfg.ports), cfg.brokers)
	}
	if cfg.partitions < 1 {
		return nil, fmt.Errorf("kafkatest: AutoPartitions(%d): must be at least 1", cfg.partitions)
	}
	kopts := []kfake.Opt{kfake.NumBrokers(cfg.brokers), kfake.DefaultNumPartitions(cfg.partitions)}
	if len(cfg.ports) > 0 {
		kopts = append(kopts, kfake.Ports(cfg.ports...))
	}
	if cfg.autoCreate {
		kopts = append(kopts, kfake.AllowAutoTopicCreation())
	}
	seeded := map[string]int32{}
	for _, t := range cfg.topics {
		if t.name == "" || t.partitions < 1 {
			return nil, fmt.Errorf("kafkatest: Topic(%q, %d): needs a name and at least one partition", t.name, t.partitions)
		}
		if n, ok := seeded[t.name]; ok && n != t.partitions {
			return nil, fmt.Errorf("kafkatest: Topic(%q, %d) and Topic(%q, %d): one topic, two partition counts", t.name, n, t.name, t.partitions)
		}
		seeded[t.name] = t.partitions
		kopts = append(kopts, kfake.SeedTopics(t.partitions, t.name))
	}
	kc, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: start: %w", err)
	}
	return &Cluster{kc: kc, addrs: kc.ListenAddrs()}, nil
}

// T is the part of *testing.T and *testing.B that [New] needs.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// New starts a cluster for a test and closes it when the test ends. It
// fails the test if the cluster cannot start.
func New(t T, opts ...Option) *Cluster {
	t.Helper()
	c, err := Start(opts...)
	if err != nil {
		t.Fatalf("%v", err)
		return nil
	}
	t.Cleanup(c.Close)
	return c
}

// Addrs returns the brokers' host:port addresses, the bootstrap list for
// a client.
func (c *Cluster) Addrs() []string { return slices.Clone(c.addrs) }

// Close stops the brokers and drops all data. It is idempotent.
func (c *Cluster) Close() {
	c.closeProducer()
	c.kc.Close()
}

// Fake returns the underlying kfake cluster, for fault injection with
// its Control methods.
func (c *Cluster) Fake() *kfake.Cluster { return c.kc }
