package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/metrics"
)

// BenchmarkPipelineHooks measures the cost of the Prometheus hooks on the
// whole pipeline: the same Source -> JSON -> linear model -> Sink run as
// BenchmarkPipeline, once with no hooks and once with a metrics.Metrics
// hooked into both the Server (per-version latency histogram and counts)
// and the Source (dead letters, commits, lag). The two runs take turns in
// each iteration, in alternating order, so a shared machine's load falls
// on both alike; the metrics report each one's records/s and the ratio of
// the totals.
func BenchmarkPipelineHooks(b *testing.B) {
	_, _, fill := pipelineInput()
	model := linearModel(b, "m", 1, 8, 1)
	plain := newServer(b)
	m, err := metrics.New()
	if err != nil {
		b.Fatal(err)
	}
	prometheus.NewRegistry().MustRegister(m)
	hooked, err := serving.NewServer(serving.WithLogger(quiet), serving.WithHooks(m))
	if err != nil {
		b.Fatal(err)
	}
	defer hooked.Close()
	for _, s := range []*serving.Server{plain, hooked} {
		if _, err := s.Activate(context.Background(), model); err != nil {
			b.Fatal(err)
		}
	}
	var off, on time.Duration
	runOff := func() {
		b.StopTimer()
		c := fill(b)
		b.StartTimer()
		off += modelstreamPipeline(b, c, plain.Model("m"))
		c.Close()
	}
	runOn := func() {
		b.StopTimer()
		c := fill(b)
		b.StartTimer()
		on += modelstreamPipeline(b, c, hooked.Model("m"), kafka.Hooks(m))
		c.Close()
	}
	// The order alternates, because the first run of an iteration is
	// measurably slower on this machine whichever it is.
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			runOff()
			runOn()
		} else {
			runOn()
			runOff()
		}
	}
	n := float64(benchRecords * b.N)
	b.ReportMetric(n/off.Seconds(), "hooks-off-rec/s")
	b.ReportMetric(n/on.Seconds(), "hooks-on-rec/s")
	b.ReportMetric(off.Seconds()/on.Seconds(), "ratio-on-vs-off")
}
