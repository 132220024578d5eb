// Package demo holds what the example programs share: starting the
// embedded broker or connecting to a real one, creating topics, the
// sample fraud model, and a readable rendering of score records. It is
// internal: the examples are its only users.
package demo

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/linear"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// Topic is a topic an example needs, with the partition count it wants
// when the example creates it.
type Topic struct {
	Name       string
	Partitions int32
}

// Cluster is where an example runs: the embedded broker, or a real
// cluster given by -brokers.
type Cluster struct {
	// Brokers is the bootstrap list.
	Brokers []string
	// Embedded is the in-process cluster, nil for a real one.
	Embedded *kafkatest.Cluster
}

// Connect returns the real cluster at brokers (a comma-separated list)
// when it is set, and otherwise starts an embedded broker, on listen
// (host:port, host 127.0.0.1 or localhost) when that is set. The topics
// are created if missing.
func Connect(brokers, listen string, topics ...Topic) (*Cluster, error) {
	return ConnectN(brokers, listen, 1, topics...)
}

// ConnectN is Connect with an embedded cluster of n brokers.
func ConnectN(brokers, listen string, n int, topics ...Topic) (*Cluster, error) {
	if brokers != "" {
		if listen != "" {
			return nil, errors.New("-brokers and -listen exclude each other: -listen starts the embedded broker")
		}
		c := &Cluster{Brokers: strings.Split(brokers, ",")}
		if err := c.createTopics(topics); err != nil {
			return nil, err
		}
		return c, nil
	}
	opts := []kafkatest.Option{kafkatest.NumBrokers(n)}
	for _, t := range topics {
		opts = append(opts, kafkatest.Topic(t.Name, t.Partitions))
	}
	if listen != "" {
		host, port, err := net.SplitHostPort(listen)
		if err != nil {
			return nil, fmt.Errorf("-listen %q: %w", listen, err)
		}
		if host != "127.0.0.1" && host != "localhost" {
			return nil, fmt.Errorf("-listen %q: the embedded broker listens on 127.0.0.1 only", listen)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p <= 0 || p > 65535 {
			return nil, fmt.Errorf("-listen %q: bad port", listen)
		}
		opts = append(opts, kafkatest.Ports(p))
	}
	e, err := kafkatest.Start(opts...)
	if err != nil {
		return nil, err
	}
	return &Cluster{Brokers: e.Addrs(), Embedded: e}, nil
}

// Close stops the embedded broker, if any.
func (c *Cluster) Close() {
	if c.Embedded != nil {
		c.Embedded.Close()
	}
}

// Where describes the cluster for humans.
func (c *Cluster) Where() string {
	if c.Embedded != nil {
		if len(c.Brokers) > 1 {
			return fmt.Sprintf("embedded %d-broker cluster at %s", len(c.Brokers), strings.Join(c.Brokers, ","))
		}
		return "embedded broker at " + strings.Join(c.Brokers, ",")
	}
	return "Kafka cluster at " + strings.Join(c.Brokers, ",")
}

func (c *Cluster) createTopics(topics []Topic) error {
	cfg := sarama.NewConfig()
	cfg.Version = kafka.DefaultVersion
	admin, err := sarama.NewClusterAdmin(c.Brokers, cfg)
	if err != nil {
		return fmt.Errorf("connect to %v: %w", c.Brokers, err)
	}
	defer admin.Close()
	for _, t := range topics {
		err := admin.CreateTopic(t.Name, &sarama.TopicDetail{NumPartitions: t.Partitions, ReplicationFactor: -1}, false)
		var te *sarama.TopicError
		if err != nil && !(errors.As(err, &te) && te.Err == sarama.ErrTopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", t.Name, err)
		}
	}
	return nil
}

// FraudFeatures are the features of the sample fraud model, in order.
var FraudFeatures = []string{"amount", "hour", "new_device"}

// FraudModel returns version v of the sample fraud model: a logistic
// regression over FraudFeatures. Version 1 cares mostly about the amount;
// version 2, "retrained", also weighs night hours and new devices, so the
// scores visibly shift when it goes live.
func FraudModel(v uint64) serving.Descriptor {
	doc := linear.Document{
		Kind: linear.KindLogistic, Features: 3, FeatureNames: FraudFeatures,
		Mean: []float64{120, 12, 0.2}, Scale: []float64{80, 6, 0.4},
		Weights: [][]float64{{1.2, 0.1, 0.3}}, Bias: []float64{-2.5},
		Classes: []string{"ok", "fraud"},
	}
	if v >= 2 {
		doc.Weights = [][]float64{{1.6, -0.9, 1.4}}
		doc.Bias = []float64{-2.2}
	}
	b, err := doc.Marshal()
	if err != nil {
		panic(err)
	}
	return serving.Descriptor{
		Name: "fraud", Format: linear.FormatName, Version: v, Bytes: b,
		Description: fmt.Sprintf("sample fraud model v%d", v), Created: time.Now().UTC(),
		Labels: map[string]string{"features": strings.Join(FraudFeatures, ",")},
	}
}

// FormatScore renders a score record in one readable line. A score
// written as Avro (serving/kafka/confluent's AvroScores) is shown by its
// key, its schema ID and the provenance in its headers: its prediction
// needs the schema, from a Schema Registry the examples do not have.
func FormatScore(m *sarama.ConsumerMessage) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%d@%d", m.Topic, m.Partition, m.Offset)
	hdr := map[string]string{}
	for _, h := range m.Headers {
		hdr[string(h.Key)] = string(h.Value)
	}
	if r := hdr[wire.HeaderDLQReason]; r != "" {
		fmt.Fprintf(&b, "  DEAD LETTER from %s/%s@%s (%s): %s  value=%q", hdr[wire.HeaderDLQTopic], hdr[wire.HeaderDLQPartition], hdr[wire.HeaderDLQOffset], hdr[wire.HeaderDLQStage], r, m.Value)
		return b.String()
	}
	if v := m.Value; len(v) >= 5 && v[0] == 0 { // a Schema Registry frame
		fmt.Fprintf(&b, "  key=%-8s (Avro, schema %d)", m.Key, binary.BigEndian.Uint32(v[1:5]))
		if p, err := wire.ProvenanceOf(kafka.Headers(m), nil); err == nil {
			writeProvenance(&b, p)
		}
		return b.String()
	}
	s, err := wire.DecodeScore(wire.Message{Key: m.Key, Value: m.Value, Headers: kafka.Headers(m)})
	if err != nil {
		fmt.Fprintf(&b, "  (not a score: %v) %q", err, m.Value)
		return b.String()
	}
	fmt.Fprintf(&b, "  key=%-8s %-7.4f", s.Key, s.Prediction.Value)
	if s.Prediction.Label != "" {
		fmt.Fprintf(&b, " %-6s", s.Prediction.Label)
	}
	writeProvenance(&b, s.Provenance)
	fmt.Fprintf(&b, "  from %s/%d@%d", s.Topic, s.Partition, s.Offset)
	return b.String()
}

// writeProvenance renders the model that scored, and the combinator that
// decided, if any.
func writeProvenance(b *strings.Builder, p serving.Provenance) {
	id := p.Model.ID
	if len(id) > 12 {
		id = id[:12]
	}
	fmt.Fprintf(b, "  by %s (id %s)", p.Model, id)
	if d := p.Decision; d != nil {
		fmt.Fprintf(b, " via %s", d.Combinator)
	}
}
