package trainkafka_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/training"
	"github.com/modelstream/modelstream/training/trainkafka"
)

// commitFails fails the trainer's n-th Commit without committing, as a
// process killed between saving a checkpoint and committing its offsets
// would. Like crashAfter's, its Commit refuses to commit while no
// checkpoint exists at ckpt.
type commitFails struct {
	*trainkafka.Source
	n    int
	ckpt string
}

func (c *commitFails) Commit(ctx context.Context) error {
	if err := checkpointSaved(c.ckpt); err != nil {
		return err
	}
	if c.n--; c.n == 0 {
		return errCrash
	}
	return c.Source.Commit(ctx)
}

// A trainer that stopped after its checkpoint was saved but before the
// offsets it covers were committed is redelivered, on restart, records
// its checkpoint already learned: it learned them twice (the resumed
// learner differed from the uninterrupted one, having counted 300
// records twice and never reached the last 300). The checkpoint now
// keeps the source's position, and the restored source skips what it
// holds.
func TestRestartBetweenCheckpointAndCommitOverKafka(t *testing.T) {
	cluster := kafkatest.New(t, kafkatest.Topic("training", 1))
	brokers := cluster.Addrs()
	produce(t, brokers, "training", 2000)
	dir := t.TempDir()
	nopPub := training.PublisherFunc(func(context.Context, serving.Descriptor) error { return nil })

	run := func(group, path string, failCommit int) (*training.Learner, trainkafka.Stats, error) {
		n := left(t, brokers, group, "training")
		src, err := trainkafka.NewSource(t.Context(), testConfig(t, brokers), group, trainkafka.Topics("training"))
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		s := &commitFails{src, failCommit, path} // 0: no commit fails
		l, _ := training.NewLearner(training.Linear, 2)
		tr, err := training.NewTrainer("line", l, s, nopPub, training.WithCheckpoint(path, 300), training.WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		err = runUntilEnd(t, tr, src, n)
		return l, src.Stats(), err
	}
	ref, _, err := run("ref", filepath.Join(dir, "ref"), 0)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "gap")
	// Commits 1 to 3 follow the checkpoints at 300, 600 and 900 records;
	// the fourth, after the checkpoint at 1200, fails.
	if _, _, err := run("gap", path, 4); !errors.Is(err, errCrash) {
		t.Fatalf("first run: %v, want the failed commit", err)
	}
	got, st, err := run("gap", path, 0)
	if err != nil {
		t.Fatal(err)
	}
	// 301: the 300 samples learned between the last commit and the
	// checkpoint, and the poison record among them.
	if st.Replayed != 301 {
		t.Errorf("restarted source stats %+v: want the 301 records between the last commit and the checkpoint skipped", st)
	}
	if got.Metrics() != ref.Metrics() {
		t.Fatalf("resumed metrics %+v, uninterrupted %+v", got.Metrics(), ref.Metrics())
	}
	for _, x := range [][]float64{{1, 2}, {-5, 0.3}, {30, -2}} {
		a, _ := got.Predict(x)
		b, _ := ref.Predict(x)
		if math.Float64bits(a.Value) != math.Float64bits(b.Value) {
			t.Errorf("at %v: resumed %v, uninterrupted %v", x, a.Value, b.Value)
		}
	}
}

// joiner is a second member of a consumer group that takes whatever it
// is assigned and consumes nothing, so that its joining and leaving
// rebalance the group.
type joiner struct{ setup chan struct{} }

func (j joiner) Setup(sarama.ConsumerGroupSession) error {
	select {
	case j.setup <- struct{}{}:
	default:
	}
	return nil
}
func (joiner) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (joiner) ConsumeClaim(sess sarama.ConsumerGroupSession, _ sarama.ConsumerGroupClaim) error {
	<-sess.Context().Done()
	return nil
}

// After a rebalance the group delivers a partition again from its last
// commit, and a trainer commits only when its state is durable: the
// records it had learned since were handed to it a second time (the
// values read repeated 0 to 49). Next now skips them.
func TestRebalanceDoesNotRelearnOverKafka(t *testing.T) {
	cluster := kafkatest.New(t, kafkatest.Topic("training", 1))
	brokers := cluster.Addrs()
	cfg := sarama.NewConfig()
	cfg.Version = kafka.DefaultVersion
	cfg.Producer.Return.Successes = true
	p, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "training", Value: sarama.StringEncoder(fmt.Sprintf("%d,%d", i, i))}); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()

	src, err := trainkafka.NewSource(t.Context(), testConfig(t, brokers), "g", trainkafka.Topics("training"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	seen := map[float64]int{}
	next := func() {
		t.Helper()
		s, err := src.Next(ctx)
		if err != nil {
			t.Fatalf("Next after %d values: %v", len(seen), err)
		}
		seen[s.Target]++
		if seen[s.Target] > 1 {
			t.Fatalf("value %v handed to the trainer twice", s.Target)
		}
	}
	for range 50 {
		next()
	}

	// A second member joins, then leaves: two rebalances, with no commit.
	jcfg, err := testConfig(t, brokers).SaramaConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := sarama.NewConsumerGroup(brokers, "g", jcfg)
	if err != nil {
		t.Fatal(err)
	}
	j := joiner{setup: make(chan struct{}, 1)}
	jctx, jstop := context.WithCancel(ctx)
	jdone := make(chan struct{})
	go func() {
		defer close(jdone)
		for jctx.Err() == nil {
			g.Consume(jctx, []string{"training"}, j)
		}
	}()
	select {
	case <-j.setup:
	case <-ctx.Done():
		t.Fatal("the second member never joined")
	}
	jstop()
	<-jdone
	g.Close()

	for range 50 {
		next()
	}
	for i := range 100 {
		if seen[float64(i)] != 1 {
			t.Fatalf("value %d seen %d times", i, seen[float64(i)])
		}
	}
	if st := src.Stats(); st.Replayed == 0 {
		t.Errorf("stats %+v: the rebalance redelivered nothing; the test did not test", st)
	}
}

// left returns how many records of partition 0 of topic the consumer
// group has not committed: what a Source of the group hands out (as
// samples, skipped or replayed records) before it reaches the end.
func left(t *testing.T, brokers []string, group, topic string) int64 {
	t.Helper()
	sc, err := testConfig(t, brokers).SaramaConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	client, err := sarama.NewClient(brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	end, err := client.GetOffset(topic, 0, sarama.OffsetNewest)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	committed := int64(0)
	res, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0}})
	switch {
	case errors.Is(err, sarama.ErrGroupIDNotFound):
		// A group that never committed.
	case err != nil:
		t.Fatal(err)
	default:
		if b := res.GetBlock(topic, 0); b != nil && b.Offset >= 0 {
			committed = b.Offset
		}
	}
	return end - committed
}

// runUntilEnd runs tr until src has handed out the n records left
// before it (see left), then stops it, and returns Run's error. The
// stop is decided by counts, not by the number of records learned, so
// a trainer that lost or relearned records stops all the same, and the
// test fails at once on the learner's state instead of waiting for a
// count it never reaches; a minute bounds a source that never gets
// there.
func runUntilEnd(t *testing.T, tr *training.Trainer, src *trainkafka.Source, n int64) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			if st := src.Stats(); st.Delivered+st.Skipped+st.Replayed >= n {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	err := tr.Run(ctx)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("the source did not hand out the %d records left within a minute: %+v", n, src.Stats())
	}
	return err
}
