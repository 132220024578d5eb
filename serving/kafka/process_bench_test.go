package kafka

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/linear"
	"github.com/modelstream/modelstream/serving/wire"
)

// BenchmarkProcess measures a scoring worker's work on one batch of 172
// records (the mean batch of BenchmarkPipeline): decoding JSON arrays of
// 8 features, scoring them with a linear model behind a Server, and
// encoding their scores, as wire.ScoreJSON or wire.ScoreCompact, with the
// features decoded over those of the previous batch, as a worker does; then,
// as the Source's marker does once Kafka has acknowledged them, giving
// the scores' records back for the next batch. It reports the process's
// CPU time per record beside wall time, which a shared machine inflates.
func BenchmarkProcess(b *testing.B) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := serving.NewServer(serving.WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	w := make([]float64, 8)
	w[0] = 1
	doc := linear.Document{Kind: linear.KindLinear, Features: 8, Weights: [][]float64{w}, Bias: []float64{0}}
	model, err := doc.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := srv.Activate(context.Background(), serving.Descriptor{Name: "m", Version: 1, Format: linear.FormatName, Bytes: model, Created: time.Now()}); err != nil {
		b.Fatal(err)
	}
	msgs := make([]*sarama.ConsumerMessage, 172)
	for i := range msgs {
		msgs[i] = &sarama.ConsumerMessage{Topic: "in", Partition: 1, Offset: int64(1000 + i), Key: []byte("k" + strconv.Itoa(i)), Value: fmt.Appendf(nil, "[%d, 0.5, 1.25, -3, 4e-2, 5, 6.5, 7]", i), Timestamp: time.Now()}
	}
	for _, enc := range []wire.ScoreEncoding{wire.ScoreJSON, wire.ScoreCompact} {
		b.Run(map[wire.ScoreEncoding]string{wire.ScoreJSON: "json", wire.ScoreCompact: "compact"}[enc], func(b *testing.B) {
			sink := &Sink{o: sinkOptions{topic: "out", dlq: "dlq", enc: enc}, max: 1 << 20}
			s := &Source{o: sourceOptions{codec: JSON{}, maxBatch: 1}, scorer: srv.Model("m"), sink: sink, log: quiet}
			b.ReportAllocs()
			var fs floatSlab // a worker's, reused from batch to batch
			cpu := processCPU()
			for b.Loop() {
				bt := &batch{items: make([]item, len(msgs)), scored: make(chan struct{}), acked: make(chan struct{})}
				for i := range msgs {
					bt.items[i].msg = msgs[i]
				}
				s.process(context.Background(), bt, &fs)
				sink.recycle(bt.slab)
			}
			if cpu > 0 {
				b.ReportMetric(float64(processCPU()-cpu)/float64(b.N*len(msgs)), "cpu-ns/rec")
			}
		})
	}
}
