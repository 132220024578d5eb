package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/internal/demo"
	"github.com/modelstream/modelstream/serving/kafka"
)

// The producer once waited for the scoring only. On a loaded machine the
// feedback reader fell behind (at load 20: 22624 truths joined when
// 80000 transactions were scored, 39262 written and unread), so a truth
// reached the Controller tens of thousands of transactions after its
// transaction, and a good rollout ran out of transactions undecided
// ("good candidate: no decision after 150000 transactions"). The
// producer now also stays at most cfg.ahead truths ahead of the join;
// here the scoring keeps up and the join never moves, as with a reader
// that stopped.
func TestProducerWaitsForTheJoin(t *testing.T) {
	const data, fb = "wait.transactions", "wait.feedback"
	cl, err := demo.Connect("", "", demo.Topic{Name: data, Partitions: 4}, demo.Topic{Name: fb, Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	cfg := defaultConfig()
	cfg.maxRecords = 20000
	cfg.stuck = 300 * time.Millisecond
	at := progress{
		scored: func() int64 { return 1 << 40 },
		joined: func() int64 { return 0 },
	}
	perr := produce(context.Background(), cl.Brokers, cfg, data, fb, at, make(chan struct{}))
	if !errors.Is(perr, errStopped) {
		t.Errorf("produce: %v, want %v", perr, errStopped)
	}
	sc := sarama.NewConfig()
	sc.Version = kafka.DefaultVersion
	client, err := sarama.NewClient(cl.Brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var truths int64
	for p := range int32(2) {
		n, err := client.GetOffset(fb, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		truths += n
	}
	// The producer checks before each batch of 500 transactions, each
	// with at most one truth.
	if limit := int64(cfg.ahead + 500); truths > limit {
		t.Errorf("%d truths written with none joined, want at most %d", truths, limit)
	}
	t.Logf("%d truths written with none joined: %v", truths, perr)
}
