package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// trickle writes the records one at a time, gap apart, to the data
// topic, and returns the time the first one was written.
func trickle(t *testing.T, c *kafkatest.Cluster, values [][]byte, gap time.Duration) time.Time {
	t.Helper()
	start := time.Now()
	for i, v := range values {
		if i > 0 {
			time.Sleep(gap)
		}
		c.Produce(t, kafka.DefaultDataTopic, kafkatest.Message{Key: []byte(fmt.Sprint(i)), Value: v})
	}
	return start
}

// TestSourceBatchWindow: records that trickle in, one every 10 ms, are
// scored in batches when the Source waits BatchWindow for a batch to
// fill; without the window each would be scored on its own. Order, each
// record's own score and the dead letter of a record the codec refuses
// are as without batching.
func TestSourceBatchWindow(t *testing.T) {
	const n, poison = 48, 20
	// One scores partition: outputs come back in the order written.
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1), kafkatest.Topic(kafka.DefaultScoresTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	scores := collect(t, c, kafka.DefaultScoresTopic)
	dlq := collect(t, c, kafka.DefaultDeadLetterTopic)
	bc := &batchCounter{Scorer: srv.Model("m")}
	startSource(t, c, "window", bc, kafka.MaxBatch(8), kafka.BatchWindow(time.Second))

	values := make([][]byte, n)
	for i := range values {
		values[i] = fmt.Appendf(nil, "[%d,1,1]", 100+i)
	}
	values[poison] = []byte("[1,") // not JSON
	trickle(t, c, values, 10*time.Millisecond)

	next := 0
	for _, m := range scores.next(t, n-1) {
		var k int
		fmt.Sscan(string(m.Key), &k)
		if next == poison {
			next++
		}
		if k != next || decodeScore(t, m).Prediction.Value != float64(100+k) {
			t.Fatalf("score of record %d (%v) where record %d's was due", k, decodeScore(t, m).Prediction.Value, next)
		}
		next++
	}
	if m := dlq.next(t, 1)[0]; header(m, wire.HeaderDLQOffset) != fmt.Sprint(poison) || header(m, wire.HeaderDLQStage) != wire.StageDecode {
		t.Errorf("dead letter of offset %s, stage %s", header(m, wire.HeaderDLQOffset), header(m, wire.HeaderDLQStage))
	}
	calls, recs := bc.calls.Load(), bc.records.Load()
	t.Logf("%d ScoreBatch calls for %d records", calls, recs)
	// Without the window most records come alone, and a record alone is
	// scored with Score.
	if recs < (n-1)*3/4 || calls == 0 || recs/calls < 4 {
		t.Errorf("%d ScoreBatch calls for %d of %d records: the window did not gather the trickle into batches", calls, recs, n-1)
	}
	if recs > calls*8 {
		t.Errorf("%d records in %d calls: batches above MaxBatch(8)", recs, calls)
	}
}

// TestSourceBatchWindowEnds: records that come slower than a batch fills
// are scored once the window has passed, without waiting for MaxBatch
// records: three records 50 ms apart, with MaxBatch 64 and a window of
// 400 ms, are scored together in one batch of three.
func TestSourceBatchWindowEnds(t *testing.T) {
	const window = 400 * time.Millisecond
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	scores := collect(t, c, kafka.DefaultScoresTopic)
	bc := &batchCounter{Scorer: srv.Model("m")}
	startSource(t, c, "window-ends", bc, kafka.MaxBatch(64), kafka.BatchWindow(window))
	start := trickle(t, c, [][]byte{[]byte("[1,1,1]"), []byte("[2,1,1]"), []byte("[3,1,1]")}, 50*time.Millisecond)
	scores.next(t, 3)
	t.Logf("3 records scored %v after the first was written", time.Since(start).Round(time.Millisecond))
	if calls, recs := bc.calls.Load(), bc.records.Load(); calls != 1 || recs != 3 {
		t.Errorf("%d ScoreBatch calls for %d records, want one for all 3", calls, recs)
	}
}

func TestBatchWindowConfig(t *testing.T) {
	c := kafkatest.New(t)
	sink, err := kafka.NewSink(t.Context(), config(t, c.Addrs()))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	srv := newServer(t)
	if _, err := kafka.NewSource(config(t, c.Addrs()), "g", srv.Model("m"), sink, kafka.BatchWindow(-time.Millisecond), kafka.Topics(kafka.DefaultDataTopic)); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("BatchWindow(-1ms): %v, want ErrConfig", err)
	}
}
