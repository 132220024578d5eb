package kafka

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/IBM/sarama"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/linear"
	"github.com/modelstream/modelstream/serving/wire"
)

// BenchmarkTracing measures what tracing adds to a Source's work per
// record, without a broker, where nothing else hides it: the worker's
// process (decode a JSON array of 8 numbers, score it with a linear model
// in a serving.Server, encode the score) and the writer's hand-off to
// the Sink, for batches of 64 records that each carry a traceparent
// header. The Sink is closed, so each write is acknowledged at once, in
// the writer's goroutine, and no producer takes part. Variants:
//
//   - off: no TracerProvider, the default;
//   - noop: trace/noop's provider;
//   - sampled-out: the SDK with a sampler that samples nothing;
//   - recording: the SDK sampling everything, with no exporter.
//
// ns/record is the wall time per record, cpu-ns/record the process's
// CPU time per record (garbage collection included), which the load of
// a shared machine disturbs less. To compare "off" with the code
// before tracing existed, build the package's test binary at that commit
// with this benchmark's "off" case (s.sink.send in place of s.write, no
// b.read), and run both binaries in turns.
func BenchmarkTracing(b *testing.B) {
	for _, v := range []struct {
		name string
		tp   func() trace.TracerProvider
	}{
		{"off", func() trace.TracerProvider { return nil }},
		{"noop", func() trace.TracerProvider { return noop.NewTracerProvider() }},
		{"sampled-out", func() trace.TracerProvider {
			return sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
		}},
		{"recording", func() trace.TracerProvider {
			return sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
		}},
	} {
		b.Run(v.name, func(b *testing.B) { benchSource(b, v.tp()) })
	}
}

// benchSource runs batches of 64 records through s.process and the
// writer's hand-off.
func benchSource(b *testing.B, tp trace.TracerProvider) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := serving.NewServer(serving.WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	w := make([]float64, 8)
	w[0] = 1
	d := linear.Document{Kind: linear.KindLinear, Features: 8, Weights: [][]float64{w}, Bias: []float64{0}}
	doc, err := d.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := srv.Activate(context.Background(), serving.Descriptor{Name: "m", Version: 1, Format: linear.FormatName, Bytes: doc}); err != nil {
		b.Fatal(err)
	}
	cfg, err := NewConfig([]string{"127.0.0.1:9"}, Logger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	sink := &Sink{o: sinkOptions{topic: "out", dlq: "dlq"}, max: 1_000_000, shut: true}
	opts := []SourceOption{Topics(DefaultDataTopic)}
	if tp != nil {
		opts = append(opts, TracerProvider(tp))
	}
	s, err := NewSource(cfg, "bench", srv.Model("m"), sink, opts...)
	if err != nil {
		b.Fatal(err)
	}

	const n = 64
	msgs := make([]*sarama.ConsumerMessage, n)
	for i := range msgs {
		msgs[i] = &sarama.ConsumerMessage{
			Topic: "in", Partition: 1, Offset: int64(i), Key: fmt.Appendf(nil, "k%d", i),
			Value:   fmt.Appendf(nil, "[%d, 0.5, 1.25, -3, 4e-2, 5, 6.5, 7]", i),
			Headers: []*sarama.RecordHeader{{Key: []byte(wire.HeaderTraceParent), Value: fmt.Appendf(nil, "00-%032x-00f067aa0ba902b7-01", i+1)}},
		}
	}
	items := make([]item, n)
	ctx := context.Background()
	var fs floatSlab // a worker's, reused from batch to batch
	cpu0 := processCPU()
	for b.Loop() {
		for i := range items {
			items[i] = item{msg: msgs[i]}
		}
		bt := &batch{items: items, scored: make(chan struct{}), acked: make(chan struct{})}
		if s.o.tracer != nil {
			bt.read = time.Now().UnixNano()
		}
		s.process(ctx, bt, &fs)
		s.send(bt)
		<-bt.acked
	}
	if items[n-1].err != nil || items[n-1].out == nil {
		b.Fatalf("last record: err %v, output %v", items[n-1].err, items[n-1].out)
	}
	cpu := processCPU() - cpu0
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
	b.ReportMetric(float64(cpu)/float64(b.N*n), "cpu-ns/record")
}
