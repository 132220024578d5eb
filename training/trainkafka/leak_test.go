package trainkafka_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/training/trainkafka"
)

// sourceGoroutines counts the goroutines running the Source's own code
// or sarama's.
func sourceGoroutines() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "trainkafka.") || strings.Contains(g, "IBM/sarama.") {
			n++
		}
	}
	return n
}

// Close stops every goroutine the Source started, while a record waits
// undelivered in ConsumeClaim for a Next that never comes.
func TestSourceCloseLeavesNoGoroutines(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic("training", 2))
	brokers := c.Addrs()
	cfg := sarama.NewConfig()
	cfg.Producer.Return.Successes = true
	prod, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: "training", Partition: int32(i % 2), Value: sarama.StringEncoder("1,2,3")}); err != nil {
			t.Fatal(err)
		}
	}
	prod.Close()
	before := sourceGoroutines()
	src, err := trainkafka.NewSource(t.Context(), testConfig(t, brokers), "leak", trainkafka.Topics("training"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := src.Next(ctx); err != nil { // joined, and more records wait
		t.Fatal(err)
	}
	if during := sourceGoroutines(); during <= before {
		t.Fatalf("%d source goroutines while consuming, %d before: the count sees nothing", during, before)
	}
	closed := make(chan error, 1)
	go func() { closed <- src.Close() }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := sourceGoroutines()
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d source goroutines left after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
