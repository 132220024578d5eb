package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// BenchmarkFeedCatchUp times a ModelFeed replaying a models topic of
// 2,000 small linear models (50 names, 40 versions each, interleaved)
// until CaughtUp: the cost per message of reading, numbering, loading
// and activating, and of the hand-over to each name's worker.
func BenchmarkFeedCatchUp(b *testing.B) {
	const names, versions = 50, 40
	c := kafkatest.New(b, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	msgs := make([]kafkatest.Message, 0, names*versions)
	for v := range versions {
		for n := range names {
			m, err := wire.EncodeModel(linearModel(b, fmt.Sprintf("m%02d", n), uint64(v+1), 4, float64(v)), 0)
			if err != nil {
				b.Fatal(err)
			}
			msgs = append(msgs, kafkatest.Message{Key: m.Key, Value: m.Value, Headers: m.Headers})
		}
	}
	c.Produce(b, kafka.DefaultModelsTopic, msgs...)
	cfg := config(b, c.Addrs())
	b.ResetTimer()
	cpu := kafka.ProcessCPU()
	for b.Loop() {
		srv := newServer(b)
		f, err := kafka.NewModelFeed(cfg, srv)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- f.Run(ctx) }()
		select {
		case <-f.CaughtUp():
		case err := <-done:
			b.Fatalf("feed stopped: %v", err)
		case <-time.After(time.Minute):
			b.Fatal("no catch-up in a minute")
		}
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		if st := f.Stats(); st.Activated != names*versions {
			b.Fatalf("stats %+v", st)
		}
		srv.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*names*versions), "ns/msg")
	b.ReportMetric(float64(kafka.ProcessCPU()-cpu)/float64(b.N*names*versions), "cpu-ns/msg")
}
