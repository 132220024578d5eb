package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// BenchmarkExactlyOnce measures records per second through the embedded
// broker (one broker, 4 partitions, a fresh cluster per run, the inputs
// and model of BenchmarkPipeline) for:
//
//   - alo: the default, at-least-once Source (Window 512);
//   - eos: the same with kafka.ExactlyOnce(), which commits a
//     transaction per partition every half window (256 records) or
//     CommitInterval;
//   - alo-window2048 and eos-window2048: both with Window(2048), so that
//     transactions are four times larger (the window also bounds the
//     at-least-once Source's unacknowledged writes, so the modes are
//     compared at the same window).
//
// All commit every 100ms, so that the last partial transaction does not
// wait out the default second. The clock runs from the first record
// consumed to the last one scored: acknowledged and marked under
// at-least-once, committed (visible to read_committed readers) under
// exactly-once. The variants take turns within each iteration, in an
// order that rotates. Each reports its records/s; eos-ratio and
// eos-ratio-window2048 are the exactly-once variants' throughput over
// at-least-once's at the same window, by wall time and (-cpu-ratio) by
// the process's CPU time per record (broker included), which a loaded
// machine disturbs less.
func BenchmarkExactlyOnce(b *testing.B) {
	_, _, fill := pipelineInput()
	srv := newServer(b)
	if _, err := srv.Activate(context.Background(), linearModel(b, "m", 1, 8, 1)); err != nil {
		b.Fatal(err)
	}
	interval := kafka.CommitInterval(100 * time.Millisecond)
	vs := []struct {
		name string
		opts []kafka.SourceOption
	}{
		{"alo", []kafka.SourceOption{interval}},
		{"eos", []kafka.SourceOption{interval, kafka.ExactlyOnce()}},
		{"alo-window2048", []kafka.SourceOption{interval, kafka.Window(2048)}},
		{"eos-window2048", []kafka.SourceOption{interval, kafka.ExactlyOnce(), kafka.Window(2048)}},
	}
	wall := make([]time.Duration, len(vs))
	cpu := make([]time.Duration, len(vs))
	for i := 0; b.Loop(); i++ {
		for k := range vs {
			j := (i + k) % len(vs)
			b.StopTimer()
			c := fill(b)
			b.StartTimer()
			m := runPipeline(b, c, srv.Model("m"), nil, nil, vs[j].opts...)
			c.Close()
			wall[j] += m.wall
			cpu[j] += m.cpu
		}
	}
	n := float64(benchRecords * b.N)
	for j, v := range vs {
		b.ReportMetric(n/wall[j].Seconds(), v.name+"-rec/s")
	}
	for _, pair := range [][2]int{{0, 1}, {2, 3}} {
		alo, eos := pair[0], pair[1]
		suffix := map[int]string{1: "", 3: "-window2048"}[eos]
		b.ReportMetric(wall[alo].Seconds()/wall[eos].Seconds(), "eos-ratio"+suffix)
		if cpu[alo] > 0 && cpu[eos] > 0 {
			b.ReportMetric(cpu[alo].Seconds()/cpu[eos].Seconds(), "eos-cpu-ratio"+suffix)
		}
	}
}

// BenchmarkRebalance measures what a rebalance costs each delivery mode
// on the embedded broker (8 data partitions, a fresh cluster per run):
// a Source holds every partition, a second one joins the group, and
// the clock runs
//
//   - settle-ms: from the second Source's start until the two hold all
//     the partitions between them, the second some (sarama's eager
//     rebalance: every claim ends, both members join and sync again);
//   - resume-ms: from then until 64 records written at that moment are
//     answered (scored and acknowledged at least once; committed under
//     exactly-once, which first starts a transactional producer per new
//     claim, CommitInterval 10ms).
//
// The modes take turns within each iteration, in an order that rotates.
func BenchmarkRebalance(b *testing.B) {
	srv := newServer(b)
	if _, err := srv.Activate(context.Background(), linearModel(b, "m", 1, 3, 1)); err != nil {
		b.Fatal(err)
	}
	modes := []string{"alo", "eos"}
	settle := make([]time.Duration, len(modes))
	resume := make([]time.Duration, len(modes))
	keys, vals := records(0, 64)
	for i := 0; b.Loop(); i++ {
		for k := range modes {
			j := (i + k) % len(modes)
			b.StopTimer()
			c, err := kafkatest.Start(kafkatest.Topic(kafka.DefaultDataTopic, 8))
			if err != nil {
				b.Fatal(err)
			}
			opts := []kafka.SourceOption{kafka.CommitInterval(10 * time.Millisecond)}
			if modes[j] == "eos" {
				opts = append(opts, kafka.ExactlyOnce())
			}
			start := func() *running {
				sink, err := kafka.NewSink(b.Context(), config(b, c.Addrs()))
				if err != nil {
					b.Fatal(err)
				}
				src, err := kafka.NewSource(config(b, c.Addrs(), kafka.Sarama(testTuning)), "rebalance", srv.Model("m"), sink, append([]kafka.SourceOption{kafka.Topics(kafka.DefaultDataTopic)}, opts...)...)
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				r := &running{src: src, sink: sink, cancel: cancel, done: make(chan error, 1)}
				go func() { r.done <- src.Run(ctx) }()
				return r
			}
			first := start()
			waitFor(b, "the first Source to claim every partition", func() bool { return first.src.Stats().Claims == 8 })
			b.StartTimer()
			t0 := time.Now()
			second := start()
			waitFor(b, "the partitions shared", func() bool {
				a, s := first.src.Stats().Claims, second.src.Stats().Claims
				return s > 0 && a+s == 8
			})
			t1 := time.Now()
			produce(b, c, kafka.DefaultDataTopic, keys, vals)
			waitFor(b, "the records answered", func() bool {
				return first.src.Stats().Scored+second.src.Stats().Scored == uint64(len(keys))
			})
			settle[j] += t1.Sub(t0)
			resume[j] += time.Since(t1)
			b.StopTimer()
			first.stop(b)
			second.stop(b)
			c.Close()
			b.StartTimer()
		}
	}
	for j, m := range modes {
		b.ReportMetric(float64(settle[j].Milliseconds())/float64(b.N), m+"-settle-ms")
		b.ReportMetric(float64(resume[j].Milliseconds())/float64(b.N), m+"-resume-ms")
	}
}
