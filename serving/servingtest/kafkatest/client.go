package kafkatest

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving/wire"
)

// Message is a record to produce, or one consumed.
type Message struct {
	// Key and Value are the record's key and value; either may be nil.
	Key, Value []byte
	// Headers are the record's headers, in the wire package's form (see
	// package serving/wire for the ones modelstream reads and writes).
	Headers []wire.Header
	// Partition and Offset locate a consumed record; Produce ignores
	// them and partitions by key.
	Partition int32
	Offset    int64
}

// wait is how long Consumer.Next waits for each message before it fails
// the test: a hang, not a slow machine.
const wait = time.Minute

// Produce writes msgs to topic, partitioned by a hash of their keys (as
// serving/kafka's Publisher does), and returns once the cluster has them
// all. It fails the test if it cannot.
func (c *Cluster) Produce(t T, topic string, msgs ...Message) {
	t.Helper()
	p, err := c.producer()
	if err != nil {
		t.Fatalf("kafkatest: produce to %s: %v", topic, err)
		return
	}
	batch := make([]*sarama.ProducerMessage, len(msgs))
	for i, m := range msgs {
		pm := &sarama.ProducerMessage{Topic: topic, Value: sarama.ByteEncoder(m.Value)}
		if m.Key != nil {
			pm.Key = sarama.ByteEncoder(m.Key)
		}
		for _, h := range m.Headers {
			pm.Headers = append(pm.Headers, sarama.RecordHeader(h))
		}
		batch[i] = pm
	}
	if err := p.SendMessages(batch); err != nil {
		t.Fatalf("kafkatest: produce to %s: %v", topic, err)
	}
}

func (c *Cluster) producer() (sarama.SyncProducer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prod != nil {
		return c.prod, nil
	}
	cfg := sarama.NewConfig()
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	// Idempotent, so that a write sarama retries after the broker took
	// it is not in the log twice: Produce writes each message once.
	cfg.Version = sarama.V2_8_0_0
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1
	p, err := sarama.NewSyncProducer(c.addrs, cfg)
	if err != nil {
		return nil, err
	}
	c.prod = p
	return p, nil
}

// Consumer reads every partition of one topic from its oldest offset,
// in the background, from [Cluster.Consume] until the test ends. Its
// methods are safe for concurrent use.
type Consumer struct {
	topic string
	msgs  chan Message
}

// Consume starts reading every partition of topic from its oldest
// offset, so that messages written before and after the call are all
// seen, and stops when the test ends. Start it before the code under
// test writes. It fails the test if the topic cannot be read.
func (c *Cluster) Consume(t T, topic string) *Consumer {
	t.Helper()
	client, err := sarama.NewClient(c.addrs, sarama.NewConfig())
	if err != nil {
		t.Fatalf("kafkatest: consume %s: %v", topic, err)
		return nil
	}
	fail := func(err error) *Consumer {
		client.Close()
		t.Fatalf("kafkatest: consume %s: %v", topic, err)
		return nil
	}
	cons, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return fail(err)
	}
	parts, err := client.Partitions(topic)
	if err != nil {
		return fail(err)
	}
	r := &Consumer{topic: topic, msgs: make(chan Message, 1<<16)}
	var pcs []sarama.PartitionConsumer
	var wg sync.WaitGroup
	for _, p := range parts {
		pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			for _, pc := range pcs {
				pc.AsyncClose()
			}
			return fail(err)
		}
		pcs = append(pcs, pc)
		wg.Go(func() {
			for m := range pc.Messages() {
				msg := Message{Key: m.Key, Value: m.Value, Partition: m.Partition, Offset: m.Offset}
				for _, h := range m.Headers {
					if h != nil {
						msg.Headers = append(msg.Headers, wire.Header(*h))
					}
				}
				r.msgs <- msg
			}
		})
	}
	t.Cleanup(func() {
		for _, pc := range pcs {
			pc.AsyncClose()
		}
		go func() {
			for range r.msgs { // unblock readers stuck on a full channel
			}
		}()
		wg.Wait()
		close(r.msgs)
		cons.Close()
		client.Close()
	})
	return r
}

// Next returns the next n messages in the order they arrived (offset
// order within each partition). It fails the test if a minute passes
// without a message.
func (r *Consumer) Next(t T, n int) []Message {
	t.Helper()
	out := make([]Message, 0, n)
	for len(out) < n {
		select {
		case m := <-r.msgs:
			out = append(out, m)
		case <-time.After(wait):
			t.Fatalf("kafkatest: %s: got %d of %d messages, then none for %v", r.topic, len(out), n, wait)
			return out
		}
	}
	return out
}

// Header returns the value of the last header of m named key, and
// whether there is one.
func (m Message) Header(key string) (string, bool) {
	for i := len(m.Headers) - 1; i >= 0; i-- {
		if string(m.Headers[i].Key) == key {
			return string(m.Headers[i].Value), true
		}
	}
	return "", false
}

func (c *Cluster) closeProducer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prod == nil {
		return nil
	}
	err := c.prod.Close()
	c.prod = nil
	if err != nil {
		return fmt.Errorf("kafkatest: close producer: %w", err)
	}
	return nil
}

// Committed returns the offsets group has committed on the partitions of
// topic, read from the cluster as a consumer would on joining (an
// OffsetFetch to the group's coordinator): partition → the next offset
// to read. A partition with no commit is absent. It fails the test if
// the offsets cannot be read.
func (c *Cluster) Committed(t T, group, topic string) map[int32]int64 {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	admin, err := sarama.NewClusterAdmin(c.addrs, cfg)
	if err != nil {
		t.Fatalf("kafkatest: committed offsets of %s: %v", group, err)
		return nil
	}
	defer admin.Close()
	client, err := sarama.NewClient(c.addrs, cfg)
	if err != nil {
		t.Fatalf("kafkatest: committed offsets of %s: %v", group, err)
		return nil
	}
	defer client.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatalf("kafkatest: committed offsets of %s on %s: %v", group, topic, err)
		return nil
	}
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: parts})
	if errors.Is(err, sarama.ErrGroupIDNotFound) { // kfake's answer for a group with no commit yet
		return map[int32]int64{}
	}
	if err != nil {
		t.Fatalf("kafkatest: committed offsets of %s on %s: %v", group, topic, err)
		return nil
	}
	out := map[int32]int64{}
	for p, b := range resp.Blocks[topic] {
		if b.Err != sarama.ErrNoError {
			t.Fatalf("kafkatest: committed offset of %s on %s/%d: %v", group, topic, p, b.Err)
			return nil
		}
		if b.Offset >= 0 {
			out[p] = b.Offset
		}
	}
	return out
}
