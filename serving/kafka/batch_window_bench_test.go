package kafka_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// gpuLike is a BatchScorer whose calls cost perCall plus perRow per
// record, in wall time, as a model on an accelerator or behind a runtime
// call does; it records how long each record waited, from its Kafka
// timestamp to its scoring.
type gpuLike struct {
	perCall, perRow time.Duration
	calls, records  atomic.Int64
	mu              sync.Mutex
	waits           []time.Duration
}

func (g *gpuLike) Score(ctx context.Context, r serving.Record) (serving.Result, error) {
	out := make([]serving.Result, 1)
	errs := make([]error, 1)
	g.ScoreBatch(ctx, []serving.Record{r}, out, errs)
	return out[0], errs[0]
}

func (g *gpuLike) ScoreBatch(_ context.Context, rs []serving.Record, out []serving.Result, errs []error) {
	now := time.Now()
	g.mu.Lock()
	for _, r := range rs {
		g.waits = append(g.waits, now.Sub(r.Time))
	}
	g.mu.Unlock()
	g.calls.Add(1)
	g.records.Add(int64(len(rs)))
	time.Sleep(g.perCall + time.Duration(len(rs))*g.perRow)
	for i, r := range rs {
		out[i] = serving.Result{Prediction: serving.Prediction{Value: r.Features[0]}}
		errs[i] = nil
	}
}

// BenchmarkBatchWindow measures what BatchWindow trades: records arrive
// one at a time, at most one per millisecond, on one partition, to a
// model that costs 1 ms per call plus 10 µs per record (costly: an
// accelerator's shape) or 20 µs plus 1 µs (cheap).
// For each window it reports the records per ScoreBatch call, the wait of
// a record from its Kafka timestamp to its scoring (median and 99th
// percentile, ms), and the model's capacity at that batch size
// (records/s it could score: batch / (1 ms + batch × 10 µs) per worker),
// which is the throughput batching buys.
//
//	go test ./serving/kafka -run '^$' -bench BatchWindow -benchtime 1x -count 3
func BenchmarkBatchWindow(b *testing.B) {
	const n = 1500
	for _, m := range []struct {
		name            string
		perCall, perRow time.Duration
	}{{"costly", time.Millisecond, 10 * time.Microsecond}, {"cheap", 20 * time.Microsecond, time.Microsecond}} {
		for _, w := range []time.Duration{0, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 50 * time.Millisecond} {
			b.Run(fmt.Sprintf("model=%s/window=%v", m.name, w), func(b *testing.B) {
				benchWindow(b, n, w, m.perCall, m.perRow)
			})
		}
	}
}

func benchWindow(b *testing.B, n int, w, perCall, perRow time.Duration) {
	for range b.N {
		c := kafkatest.New(b, kafkatest.Topic(kafka.DefaultDataTopic, 1), kafkatest.Topic(kafka.DefaultScoresTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
		g := &gpuLike{perCall: perCall, perRow: perRow}
		r := startSource(b, c, "bw", g, kafka.MaxBatch(64), kafka.BatchWindow(w), kafka.Workers(1))
		tick := time.NewTicker(time.Millisecond)
		for i := range n {
			<-tick.C
			c.Produce(b, kafka.DefaultDataTopic, kafkatest.Message{Key: []byte("k"), Value: fmt.Appendf(nil, "[%d,1,1]", i)})
		}
		tick.Stop()
		waitFor(b, "every record scored", func() bool { return g.records.Load() >= int64(n) })
		r.stop(b)
		calls, recs := g.calls.Load(), g.records.Load()
		per := float64(recs) / float64(calls)
		g.mu.Lock()
		ws := slices.Clone(g.waits)
		g.mu.Unlock()
		slices.Sort(ws)
		b.ReportMetric(per, "rec/call")
		b.ReportMetric(float64(ws[len(ws)/2])/1e6, "p50-ms")
		b.ReportMetric(float64(ws[len(ws)*99/100])/1e6, "p99-ms")
		b.ReportMetric(per/(float64(g.perCall)+per*float64(g.perRow))*1e9, "capacity-rec/s")
	}
}
