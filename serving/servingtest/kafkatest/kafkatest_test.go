package kafkatest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
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
		{nil}, // it panicked on calling the nil option
		// One topic with two partition counts: it started with one of them.
		{kafkatest.Topic("t", 1), kafkatest.Topic("t", 3)},
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

// TestProduceConsume: what Produce writes, Consume reads, with keys,
// values and headers, from every partition; a Consumer started after
// the writes sees them too.
func TestProduceConsume(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic("in", 3))
	early := c.Consume(t, "in")
	var msgs []kafkatest.Message
	for i := range 30 {
		msgs = append(msgs, kafkatest.Message{Key: []byte(fmt.Sprint("k", i)), Value: []byte(fmt.Sprint(i)),
			Headers: []wire.Header{{Key: []byte("n"), Value: []byte(fmt.Sprint(i))}}})
	}
	c.Produce(t, "in", msgs...)
	late := c.Consume(t, "in")
	for _, r := range []*kafkatest.Consumer{early, late} {
		got := r.Next(t, 30)
		seen := map[string]kafkatest.Message{}
		parts := map[int32]bool{}
		for _, m := range got {
			if n, ok := m.Header("n"); !ok || n != string(m.Value) || string(m.Key) != "k"+n {
				t.Fatalf("message %q=%q headers %v", m.Key, m.Value, m.Headers)
			}
			if prev, ok := seen[string(m.Value)]; ok {
				t.Errorf("message %s read twice: partition %d offsets %d and %d", m.Value, m.Partition, prev.Offset, m.Offset)
			}
			seen[string(m.Value)] = m
			parts[m.Partition] = true
		}
		if len(seen) != 30 || len(parts) < 2 {
			t.Errorf("%d distinct messages over %d partitions", len(seen), len(parts))
		}
	}
}

// exampleT stands in for the *testing.T of a real test in the example.
type exampleT struct{ cleanups []func() }

func (*exampleT) Helper()                           {}
func (*exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (e *exampleT) Cleanup(f func())                { e.cleanups = append(e.cleanups, f) }
func (e *exampleT) done() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
}

// Example_produceAndConsume is the body of a test that feeds the code
// under test a topic and reads what it wrote; t is the test's
// *testing.T.
func Example_produceAndConsume() {
	t := &exampleT{}
	defer t.done()

	c := kafkatest.New(t, kafkatest.Topic("payments", 2))
	out := c.Consume(t, "payments") // start reading before the writes
	c.Produce(t, "payments",
		kafkatest.Message{Key: []byte("card-1"), Value: []byte(`{"amount": 25}`)},
		kafkatest.Message{Key: []byte("card-1"), Value: []byte(`{"amount": 480}`),
			Headers: []wire.Header{{Key: []byte("source"), Value: []byte("pos")}}})
	for _, m := range out.Next(t, 2) {
		src, ok := m.Header("source")
		fmt.Printf("%s %s offset %d, source header %v %q\n", m.Key, m.Value, m.Offset, ok, src)
	}
	// Output:
	// card-1 {"amount": 25} offset 0, source header false ""
	// card-1 {"amount": 480} offset 1, source header true "pos"
}

// TestCommitted: Committed reads back what a consumer group committed,
// per partition, and leaves out partitions with no commit.
func TestCommitted(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic("in", 3))
	if got := c.Committed(t, "g", "in"); len(got) != 0 {
		t.Fatalf("no commit yet: %v", got)
	}
	var msgs []kafkatest.Message
	for i := range 20 {
		msgs = append(msgs, kafkatest.Message{Key: []byte(fmt.Sprint("k", i))})
	}
	c.Produce(t, "in", msgs...)
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	group, err := sarama.NewConsumerGroup(c.Addrs(), "g", cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &marker{want: 20, next: map[int32]int64{}, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-h.done
		cancel()
	}()
	for ctx.Err() == nil {
		if err := group.Consume(ctx, []string{"in"}, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := group.Close(); err != nil {
		t.Fatal(err)
	}
	got := c.Committed(t, "g", "in")
	if len(got) != len(h.next) || len(got) < 2 {
		t.Fatalf("committed %v, want %v", got, h.next)
	}
	for p, off := range h.next {
		if got[p] != off {
			t.Errorf("partition %d: committed %d, want %d", p, got[p], off)
		}
	}
}

// marker marks every message it reads and closes done after want.
type marker struct {
	mu   sync.Mutex
	want int
	next map[int32]int64
	done chan struct{}
}

func (*marker) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (*marker) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (m *marker) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		sess.MarkMessage(msg, "")
		m.mu.Lock()
		m.next[msg.Partition] = msg.Offset + 1
		if m.want--; m.want == 0 {
			close(m.done)
		}
		m.mu.Unlock()
	}
	return nil
}

// TestUnresponsive: the broker accepts a connection and answers nothing;
// when the test that made it ends, the connection and the listener close.
func TestUnresponsive(t *testing.T) {
	var conn net.Conn
	var addr string
	t.Run("silent", func(t *testing.T) {
		addr = kafkatest.Unresponsive(t)
		var err error
		conn, err = net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write([]byte{0, 0, 0, 1, 0}); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, err := conn.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read %d bytes, %v; want no answer (a deadline error)", n, err)
		}
	})
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	// Closed with our request unread, so a reset rather than io.EOF.
	if n, err := conn.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("after the test: read %d bytes, %v; want the connection closed", n, err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("after the test: the listener still accepts connections")
	}
}

// TestFailFetches: a consumer of a failed topic gets the error and loses
// the partition; a consumer of another topic reads on; after Stop the
// failed topic is read again.
func TestFailFetches(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic("lost", 1), kafkatest.Topic("kept", 1))
	c.Produce(t, "lost", kafkatest.Message{Value: []byte("a")})
	c.Produce(t, "kept", kafkatest.Message{Value: []byte("b")})
	fault := c.FailFetches(kerr.OffsetOutOfRange, "lost")

	cfg := sarama.NewConfig()
	cfg.Consumer.Return.Errors = true
	cons, err := sarama.NewConsumer(c.Addrs(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	lost, err := cons.ConsumePartition("lost", 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	defer lost.Close()
	select {
	case m := <-lost.Messages():
		t.Fatalf("read %q from a failed topic", m.Value)
	case err := <-lost.Errors():
		if !errors.Is(err, sarama.ErrOffsetOutOfRange) {
			t.Fatalf("error %v, want %v", err, sarama.ErrOffsetOutOfRange)
		}
	case <-time.After(time.Minute):
		t.Fatal("no error from a failed topic")
	}
	if fault.Failed() == 0 {
		t.Error("Failed() = 0 after a failed fetch")
	}
	for _, topic := range []string{"kept", "lost"} {
		if topic == "lost" {
			fault.Stop()
		}
		pc, err := cons.ConsumePartition(topic, 0, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-pc.Messages():
		case err := <-pc.Errors():
			t.Fatalf("%s: %v", topic, err)
		case <-time.After(time.Minute):
			t.Fatalf("%s: no message", topic)
		}
		pc.Close()
	}
}
