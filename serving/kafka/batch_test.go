package kafka_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// batchCounter passes batches to a Server's BatchScorer, counting them,
// and panics on a batch, or a record, whose first value is 13.
type batchCounter struct {
	serving.Scorer
	calls, records atomic.Int64
}

func (b *batchCounter) Score(ctx context.Context, r serving.Record) (serving.Result, error) {
	if len(r.Features) > 0 && r.Features[0] == 13 {
		panic("unlucky record")
	}
	return b.Scorer.Score(ctx, r)
}

func (b *batchCounter) ScoreBatch(ctx context.Context, rs []serving.Record, out []serving.Result, errs []error) {
	b.calls.Add(1)
	b.records.Add(int64(len(rs)))
	for _, r := range rs {
		if len(r.Features) > 0 && r.Features[0] == 13 {
			panic("unlucky batch")
		}
	}
	b.Scorer.(serving.BatchScorer).ScoreBatch(ctx, rs, out, errs)
}

// TestSourceMicroBatches: records already waiting on a partition are
// scored in batches, and inside a batch a record the model refuses, a
// record whose scoring panics and a record the codec refuses are each the
// only one dead-lettered; every other record is scored, each with its own result.
func TestSourceMicroBatches(t *testing.T) {
	const n = 300
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, n)
	values := make([][]byte, n)
	poison := map[int]string{40: wire.StageScore, 41: wire.StageScore, 150: wire.StageDecode}
	for i := range n {
		keys[i] = fmt.Sprint(i)
		values[i] = fmt.Appendf(nil, "[%d,1,1]", 100+i)
	}
	values[40] = []byte("[1,1]")    // the model wants 3 features
	values[41] = []byte("[13,1,1]") // scoring panics
	values[150] = []byte("[1,")     // not JSON
	produce(t, c, kafka.DefaultDataTopic, keys, values)

	scores := collect(t, c, kafka.DefaultScoresTopic)
	dlq := collect(t, c, kafka.DefaultDeadLetterTopic)
	bc := &batchCounter{Scorer: srv.Model("m")}
	startSource(t, c, "batches", bc, kafka.MaxBatch(16))

	seen := map[int]bool{}
	for _, m := range scores.next(t, n-len(poison)) {
		var k int
		fmt.Sscan(string(m.Key), &k)
		if v := decodeScore(t, m).Prediction.Value; v != float64(100+k) || poison[k] != "" || seen[k] {
			t.Errorf("score of record %d: %v, want %d once", k, v, 100+k)
		}
		seen[k] = true
	}
	dead := dlq.next(t, len(poison))
	for _, m := range dead {
		var off int
		fmt.Sscan(header(m, wire.HeaderDLQOffset), &off)
		if poison[off] == "" || header(m, wire.HeaderDLQStage) != poison[off] {
			t.Errorf("dead letter at offset %d stage %q reason %q", off, header(m, wire.HeaderDLQStage), header(m, wire.HeaderDLQReason))
		}
		if off == 41 && !strings.Contains(header(m, wire.HeaderDLQReason), "unlucky record") {
			t.Errorf("panic reason %q", header(m, wire.HeaderDLQReason))
		}
	}
	if extra := dlq.quietFor(200e6); len(extra) != 0 {
		t.Errorf("%d more dead letters", len(extra))
	}
	calls, recs := bc.calls.Load(), bc.records.Load()
	t.Logf("%d ScoreBatch calls for %d records", calls, recs)
	if calls == 0 || recs/calls < 2 {
		t.Errorf("%d ScoreBatch calls for %d records: no batching", calls, recs)
	}
}
