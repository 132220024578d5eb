package kafkatest_test

import (
	"fmt"
	"net"
	"testing"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// Example starts a three-broker cluster, writes a message with sarama
// and reads it back.
func Example() {
	c, err := kafkatest.Start(kafkatest.NumBrokers(3), kafkatest.Topic("greetings", 2))
	if err != nil {
		panic(err)
	}
	defer c.Close()

	cfg := sarama.NewConfig()
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	p, err := sarama.NewSyncProducer(c.Addrs(), cfg)
	if err != nil {
		panic(err)
	}
	defer p.Close()
	part, off, err := p.SendMessage(&sarama.ProducerMessage{Topic: "greetings", Partition: 1, Value: sarama.StringEncoder("hello")})
	if err != nil {
		panic(err)
	}

	cons, err := sarama.NewConsumer(c.Addrs(), sarama.NewConfig())
	if err != nil {
		panic(err)
	}
	defer cons.Close()
	pc, err := cons.ConsumePartition("greetings", part, off)
	if err != nil {
		panic(err)
	}
	defer pc.Close()
	m := <-pc.Messages()
	fmt.Println(len(c.Addrs()), "brokers;", string(m.Value), "at", m.Partition, m.Offset)
	// Output: 3 brokers; hello at 1 0
}

func TestFixedPortAndAutoCreate(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	c := kafkatest.New(t, kafkatest.Ports(port), kafkatest.AutoPartitions(3))
	if got, want := c.Addrs()[0], fmt.Sprintf("127.0.0.1:%d", port); got != want {
		t.Fatalf("addr %s, want %s", got, want)
	}
	client, err := sarama.NewClient(c.Addrs(), sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	parts, err := client.Partitions("created-on-use")
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 3 {
		t.Errorf("%d partitions, want 3", len(parts))
	}
	c.Close()
	c.Close() // idempotent
}

func TestStartErrors(t *testing.T) {
	for _, opts := range [][]kafkatest.Option{
		{kafkatest.NumBrokers(0)},
		{kafkatest.NumBrokers(2), kafkatest.Ports(1)},
		{kafkatest.Topic("", 1)},
		{kafkatest.Topic("t", 0)},
		{kafkatest.AutoPartitions(0)},
	} {
		if c, err := kafkatest.Start(opts...); err == nil {
			c.Close()
			t.Errorf("Start accepted %d bad options", len(opts))
		}
	}
}

func TestNoAutoCreate(t *testing.T) {
	c := kafkatest.New(t, kafkatest.NoAutoCreate())
	cfg := sarama.NewConfig()
	cfg.Metadata.Retry.Max = 0
	client, err := sarama.NewClient(c.Addrs(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.Partitions("absent"); err == nil {
		t.Error("topic created although auto-creation is off")
	}
}
