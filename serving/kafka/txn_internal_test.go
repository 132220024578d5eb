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

// TestSuspectParts: the suspects are cut in parts of doubling size from
// the first, each named by its last offset; other offsets are in none.
func TestSuspectParts(t *testing.T) {
	p := &pipe{suspect: 10, suspectTo: 20}
	want := map[int64]int64{9: -1, 10: 10, 11: 12, 12: 12, 13: 16, 16: 16, 17: 20, 20: 20, 21: -1}
	for off, last := range want {
		if got := p.part(off); got != last {
			t.Errorf("part(%d) of suspects 10-20 = %d, want %d", off, got, last)
		}
	}
	none := &pipe{suspect: 0, suspectTo: -1}
	if got := none.part(0); got != -1 {
		t.Errorf("part(0) with no suspects = %d, want -1", got)
	}
	// A range of n takes about log2(n) parts.
	big := &pipe{suspect: 0, suspectTo: 255}
	parts := map[int64]bool{}
	for off := range int64(256) {
		parts[big.part(off)] = true
	}
	if len(parts) != 9 {
		t.Errorf("256 suspects in %d parts, want 9", len(parts))
	}
}
