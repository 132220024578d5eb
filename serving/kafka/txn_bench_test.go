package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving/kafka"
)

// BenchmarkExactlyOnce measures records per second through the embedded
// broker (one broker, 4 partitions, a fresh cluster per run, the inputs
// and model of BenchmarkPipeline) for:
//
//   - at-least-once: the default Source (Window 512);
//   - exactly-once: the same with kafka.ExactlyOnce(), which commits a
//     transaction per partition every half window (256 records) or
//     CommitInterval;
//   - at-least-once-window2048 and exactly-once-window2048: both with
//     Window(2048), so that transactions are four times larger (the
//     window also bounds the at-least-once Source's unacknowledged
//     writes, so it is compared at the same window).
//
// All three commit every 100ms, so that the last partial transaction
// does not wait out the default second. The clock runs from the first
// record consumed to the last one scored: acknowledged and marked under
// at-least-once, committed (visible to read_committed readers) under
// exactly-once. The runs take turns within each iteration, so that the
// load of a shared machine falls on all alike; the metrics give each
// one's records/s and the ratios of the totals.
func BenchmarkExactlyOnce(b *testing.B) {
	_, _, fill := pipelineInput()
	srv := newServer(b)
	if _, err := srv.Activate(context.Background(), linearModel(b, "m", 1, 8, 1)); err != nil {
		b.Fatal(err)
	}
	interval := kafka.CommitInterval(100 * time.Millisecond)
	var alo, eos, aloWide, eosWide time.Duration
	for b.Loop() {
		b.StopTimer()
		c := fill(b)
		b.StartTimer()
		alo += modelstreamPipeline(b, c, srv.Model("m"), interval)
		c.Close()

		b.StopTimer()
		c = fill(b)
		b.StartTimer()
		eos += modelstreamPipeline(b, c, srv.Model("m"), interval, kafka.ExactlyOnce())
		c.Close()

		b.StopTimer()
		c = fill(b)
		b.StartTimer()
		aloWide += modelstreamPipeline(b, c, srv.Model("m"), interval, kafka.Window(2048))
		c.Close()

		b.StopTimer()
		c = fill(b)
		b.StartTimer()
		eosWide += modelstreamPipeline(b, c, srv.Model("m"), interval, kafka.ExactlyOnce(), kafka.Window(2048))
		c.Close()
	}
	n := float64(benchRecords * b.N)
	b.ReportMetric(n/alo.Seconds(), "at-least-once-rec/s")
	b.ReportMetric(n/eos.Seconds(), "exactly-once-rec/s")
	b.ReportMetric(n/aloWide.Seconds(), "at-least-once-window2048-rec/s")
	b.ReportMetric(n/eosWide.Seconds(), "exactly-once-window2048-rec/s")
	b.ReportMetric(alo.Seconds()/eos.Seconds(), "eos-ratio")
	b.ReportMetric(aloWide.Seconds()/eosWide.Seconds(), "eos-ratio-window2048")
}
