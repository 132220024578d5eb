package kafkalog_test

import (
	"context"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/internal/kafkalog"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// txnProducer returns a transactional producer on brokers.
func txnProducer(t *testing.T, brokers []string, id string) sarama.SyncProducer {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Transaction.ID = id
	p, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func send(t *testing.T, p sarama.SyncProducer, value string, end func() error) {
	t.Helper()
	if err := p.BeginTxn(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "t", Partition: 0, Value: sarama.StringEncoder(value)}); err != nil {
		t.Fatal(err)
	}
	if end != nil {
		if err := end(); err != nil {
			t.Fatal(err)
		}
	}
}

func read(t *testing.T, brokers []string, isolation sarama.IsolationLevel, to int64) ([]string, error) {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.Consumer.IsolationLevel = isolation
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []string
	err = kafkalog.Read(ctx, client, cfg, "t", 0, 0, to, func(m *sarama.ConsumerMessage) {
		got = append(got, string(m.Value))
	})
	return got, err
}

// TestReadCommittedStopsAtOpenTransaction: a read-committed consumer is
// delivered nothing past the last stable offset, the first offset of a
// transaction still open, until it ends; its end offset is the LSO, not
// the high-water mark. Read, asked to read to the high-water mark,
// fetched from the LSO again and again, got no records, and failed with
// "no progress": trainkafka.LatestVersion failed for as long as a
// transactional trainer had a transaction open on the models topic.
// Read now stops at the LSO, after delivering the committed records
// before it; reading uncommitted records still reads to the end.
func TestReadCommittedStopsAtOpenTransaction(t *testing.T) {
	cluster := kafkatest.New(t, kafkatest.Topic("t", 1))
	brokers := cluster.Addrs()
	p := txnProducer(t, brokers, "trainer")
	send(t, p, "v1", p.CommitTxn)
	send(t, p, "v2", p.AbortTxn)
	send(t, p, "v3", nil) // left open
	// v1, its commit marker, v2, its abort marker, v3: the high-water mark is 5.
	const hwm = 5

	got, err := read(t, brokers, sarama.ReadCommitted, hwm)
	if err != nil || len(got) != 1 || got[0] != "v1" {
		t.Errorf("read committed to the high-water mark = %q, %v; want [v1], nil", got, err)
	}
	got, err = read(t, brokers, sarama.ReadUncommitted, hwm)
	if err != nil || len(got) != 3 {
		t.Errorf("read uncommitted = %q, %v; want [v1 v2 v3], nil", got, err)
	}
	if err := p.CommitTxn(); err != nil {
		t.Fatal(err)
	}
	got, err = read(t, brokers, sarama.ReadCommitted, hwm)
	if err != nil || len(got) != 2 || got[1] != "v3" {
		t.Errorf("read committed after the commit = %q, %v; want [v1 v3], nil", got, err)
	}
}
