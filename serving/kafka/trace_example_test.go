package kafka_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/IBM/sarama"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// A traced Source continues the trace of each input record: the score
// carries the input's trace ID in its traceparent header, and the spans
// of decoding, scoring and writing it join that trace. Here the spans go
// to an in-memory recorder; in production, give the Source the
// TracerProvider of your OpenTelemetry SDK set-up.
func ExampleTracerProvider() {
	cluster, err := kafkatest.Start(kafkatest.Topic(kafka.DefaultDataTopic, 1), kafkatest.Topic(kafka.DefaultScoresTopic, 1))
	if err != nil {
		panic(err)
	}
	defer cluster.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, _ := serving.NewServer(serving.WithLogger(quiet))
	srv.Activate(context.Background(), servingtest.Spec{Echo: true}.Descriptor("sum", 1))

	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	cfg, _ := kafka.NewConfig(cluster.Addrs(), kafka.Logger(quiet))
	sink, _ := kafka.NewSink(context.Background(), cfg)
	defer sink.Close()
	src, _ := kafka.NewSource(cfg, "traced", srv.Model("sum"), sink, kafka.TracerProvider(tp), kafka.Topics(kafka.DefaultDataTopic))

	// An input record from a traced producer.
	in, _ := sarama.NewSyncProducer(cluster.Addrs(), nil)
	defer in.Close()
	in.SendMessage(&sarama.ProducerMessage{
		Topic: kafka.DefaultDataTopic,
		Value: sarama.StringEncoder(`[1, 2]`),
		Headers: []sarama.RecordHeader{{
			Key:   []byte(wire.HeaderTraceParent),
			Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
		}},
	})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- src.Run(ctx) }()

	out, _ := sarama.NewConsumer(cluster.Addrs(), nil)
	defer out.Close()
	pc, _ := out.ConsumePartition(kafka.DefaultScoresTopic, 0, sarama.OffsetOldest)
	defer pc.Close()
	m := <-pc.Messages()
	for _, h := range m.Headers {
		if string(h.Key) == wire.HeaderTraceParent {
			fmt.Println("score's trace:", strings.Split(string(h.Value), "-")[1])
		}
	}
	stop()
	<-done
	tp.Shutdown(context.Background())
	var names []string
	for _, s := range spans.Ended() {
		names = append(names, s.Name()+" in "+s.SpanContext().TraceID().String())
	}
	slices.Sort(names)
	fmt.Println(strings.Join(names, "\n"))
	// Output:
	// score's trace: 4bf92f3577b34da6a3ce929d0e0e4736
	// decode in 4bf92f3577b34da6a3ce929d0e0e4736
	// process data in 4bf92f3577b34da6a3ce929d0e0e4736
	// score in 4bf92f3577b34da6a3ce929d0e0e4736
	// send scores in 4bf92f3577b34da6a3ce929d0e0e4736
}
