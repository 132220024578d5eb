package kafka

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// BenchmarkTxnProducer measures what a claim costs under ExactlyOnce
// beyond the rebalance itself: starting the partition's transactional
// producer (a metadata request, a FindCoordinator, an InitProducerId
// that fences the previous owner) and closing it at the claim's end,
// one partition at a time, on the embedded broker.
func BenchmarkTxnProducer(b *testing.B) {
	c := kafkatest.New(b, kafkatest.Topic("in", 8), kafkatest.Topic(DefaultScoresTopic, 8))
	cfg, err := NewConfig(c.Addrs(), Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	sink, err := NewSink(b.Context(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	scorer := serving.ScorerFunc(func(context.Context, serving.Record) (serving.Result, error) { return serving.Result{}, nil })
	src, err := NewSource(cfg, "bench-txn", scorer, sink, Topics("in"), ExactlyOnce())
	if err != nil {
		b.Fatal(err)
	}
	var start, stop time.Duration
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		t, err := src.newTxnProducer(topicPartition{"in", int32(i % 8)})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		t.close()
		start += t1.Sub(t0)
		stop += time.Since(t1)
	}
	b.ReportMetric(float64(start.Microseconds())/float64(b.N), "start-µs/claim")
	b.ReportMetric(float64(stop.Microseconds())/float64(b.N), "close-µs/claim")
}
