package kafka_test

import (
	"context"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/modelstream/modelstream/serving/kafka"
)

// BenchmarkPipelineTracing measures tracing on the whole pipeline: the
// same Source -> JSON -> linear model -> Sink run as BenchmarkPipeline,
// with no tracer provider (the default), with the OpenTelemetry SDK
// sampling nothing, and with the SDK recording every record's spans
// (without an exporter). The runs take turns in each iteration, in
// rotating order, so a shared machine's load falls on all alike; the
// metrics report each one's records/s and the ratios of the totals, and
// the process's CPU time per record over each whole run (group join and
// leave and the embedded broker included), which the load of a shared
// machine disturbs much less than its wall time.
// The inputs carry no trace context, so each traced record starts a
// trace.
func BenchmarkPipelineTracing(b *testing.B) {
	_, _, fill := pipelineInput()
	srv := newServer(b)
	if _, err := srv.Activate(context.Background(), linearModel(b, "m", 1, 8, 1)); err != nil {
		b.Fatal(err)
	}
	never := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	always := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	defer never.Shutdown(context.Background())
	defer always.Shutdown(context.Background())
	variants := []struct {
		opts []kafka.SourceOption
		took time.Duration
		cpu  int64
	}{
		{opts: nil},
		{opts: []kafka.SourceOption{kafka.TracerProvider(never)}},
		{opts: []kafka.SourceOption{kafka.TracerProvider(always)}},
	}
	for i := 0; b.Loop(); i++ {
		for k := range variants {
			v := &variants[(i+k)%len(variants)]
			b.StopTimer()
			c := fill(b)
			b.StartTimer()
			cpu0 := kafka.ProcessCPU()
			v.took += modelstreamPipeline(b, c, srv.Model("m"), v.opts...)
			v.cpu += kafka.ProcessCPU() - cpu0
			c.Close()
		}
	}
	n := float64(benchRecords * b.N)
	off, out, rec := variants[0].took, variants[1].took, variants[2].took
	b.ReportMetric(n/off.Seconds(), "off-rec/s")
	b.ReportMetric(n/out.Seconds(), "sampled-out-rec/s")
	b.ReportMetric(n/rec.Seconds(), "recording-rec/s")
	b.ReportMetric(off.Seconds()/out.Seconds(), "sampled-out-vs-off")
	b.ReportMetric(off.Seconds()/rec.Seconds(), "recording-vs-off")
	for i, name := range []string{"off", "sampled-out", "recording"} {
		b.ReportMetric(float64(variants[i].cpu)/n, name+"-cpu-ns/rec")
	}
}
