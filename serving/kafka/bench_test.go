package kafka_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// benchRecords is how many records each benchmark iteration moves.
const benchRecords = 100_000

// BenchmarkPipeline measures records per second through the embedded
// broker (one broker, 4 partitions, a fresh cluster per run) for:
//
//   - raw: a plain sarama consumer group that produces every record
//     unchanged, with the idempotent acks=all producer settings the Sink
//     uses but no compression, marking each record as soon as it is
//     handed to the producer and auto-committing: the baseline the issue
//     asks for;
//   - raw-lz4: the same with LZ4 compression, the Sink's default;
//   - raw-scoresized: the LZ4 pass-through, but each output has the byte
//     size and headers of a modelstream score, which isolates the
//     pipeline's own cost from the cost of writing bigger records (kfake
//     runs the whole broker on one goroutine, so bytes cost time);
//   - modelstream: Source -> JSON codec -> linear model (8 features) ->
//     Sink -> mark for commit after ack, output order kept per partition;
//   - modelstream-maxbatch64: the same with kafka.MaxBatch(64): ScoreBatch
//     over up to 64 waiting records instead of one Score call each.
//
// The clock runs from the first record consumed to the last output
// acknowledged (for modelstream: acknowledged and its offset marked for
// the next commit), so joining and leaving the group, about half a
// second each with sarama whatever the load, are not counted. The runs
// take turns within each iteration, so that the load of a shared machine
// falls on all alike. The metrics give each one's records/s and the
// ratios of the totals.
func BenchmarkPipeline(b *testing.B) {
	keys, _, fill := pipelineInput()
	model := linearModel(b, "m", 1, 8, 1)
	// Representative score records, for raw-scoresized: one per input,
	// as different from each other as real scores are.
	ref := model.Ref()
	ref.ID = serving.ContentID(model.Bytes)
	prov := serving.Provenance{Model: ref}
	samples := make([][]byte, benchRecords)
	for i := range samples {
		v, err := json.Marshal(wire.Score{Prediction: serving.Prediction{Value: float64(i) * 1.000123}, Provenance: prov, Key: keys[i], Topic: "in", Partition: int32(i % 4), Offset: int64(i / 4)})
		if err != nil {
			b.Fatal(err)
		}
		samples[i] = v
	}
	var sampleHeaders []sarama.RecordHeader
	for _, h := range wire.ProvenanceHeaders(prov) {
		sampleHeaders = append(sampleHeaders, sarama.RecordHeader(h))
	}

	srv := newServer(b)
	if _, err := srv.Activate(context.Background(), model); err != nil {
		b.Fatal(err)
	}
	var raw, rawLZ4, sized, ms, ms64 time.Duration
	for b.Loop() {
		b.StopTimer()
		c := fill(b)
		b.StartTimer()
		raw += rawPassThrough(b, c, nil, nil, sarama.CompressionNone)
		c.Close()

		b.StopTimer()
		c = fill(b)
		b.StartTimer()
		rawLZ4 += rawPassThrough(b, c, nil, nil, sarama.CompressionLZ4)
		c.Close()

		b.StopTimer()
		c = fill(b)
		b.StartTimer()
		sized += rawPassThrough(b, c, samples, sampleHeaders, sarama.CompressionLZ4)
		c.Close()

		b.StopTimer()
		c = fill(b)
		b.StartTimer()
		ms += modelstreamPipeline(b, c, srv.Model("m"))
		c.Close()

		b.StopTimer()
		c = fill(b)
		b.StartTimer()
		ms64 += modelstreamPipeline(b, c, srv.Model("m"), kafka.MaxBatch(64))
		c.Close()
	}
	n := float64(benchRecords * b.N)
	b.ReportMetric(n/raw.Seconds(), "raw-rec/s")
	b.ReportMetric(n/rawLZ4.Seconds(), "raw-lz4-rec/s")
	b.ReportMetric(n/sized.Seconds(), "raw-scoresized-rec/s")
	b.ReportMetric(n/ms.Seconds(), "modelstream-rec/s")
	b.ReportMetric(n/ms64.Seconds(), "modelstream-maxbatch64-rec/s")
	b.ReportMetric(raw.Seconds()/ms64.Seconds(), "maxbatch64-ratio-vs-raw")
	b.ReportMetric(raw.Seconds()/ms.Seconds(), "ratio-vs-raw")
	b.ReportMetric(rawLZ4.Seconds()/ms.Seconds(), "ratio-vs-raw-lz4")
	b.ReportMetric(sized.Seconds()/ms.Seconds(), "ratio-vs-scoresized")
}

// pipelineInput returns the benchmarks' input records (benchRecords JSON
// arrays of 8 features, keyed over 1000 keys) and a function that starts
// a fresh one-broker cluster holding them in topic "in".
func pipelineInput() (keys []string, vals [][]byte, fill func(*testing.B) *kafkatest.Cluster) {
	vals = make([][]byte, benchRecords)
	keys = make([]string, benchRecords)
	for i := range vals {
		keys[i] = "k" + strconv.Itoa(i%1000)
		vals[i] = fmt.Appendf(nil, "[%d, 0.5, 1.25, -3, 4e-2, 5, 6.5, 7]", i)
	}
	fill = func(b *testing.B) *kafkatest.Cluster {
		c, err := kafkatest.Start(kafkatest.AutoPartitions(4))
		if err != nil {
			b.Fatal(err)
		}
		produce(b, c, "in", keys, vals)
		return c
	}
	return keys, vals, fill
}

// modelstreamPipeline runs Source -> Sink from "in" to "out" and returns
// the time from the first record consumed to the last one acknowledged
// and marked.
func modelstreamPipeline(b *testing.B, c *kafkatest.Cluster, scorer serving.Scorer, opts ...kafka.SourceOption) time.Duration {
	sink, err := kafka.NewSink(config(b, c.Addrs()), kafka.Topic("out"))
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	opts = append([]kafka.SourceOption{kafka.Topics("in")}, opts...)
	src, err := kafka.NewSource(config(b, c.Addrs()), "bench", scorer, sink, opts...)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	for src.Stats().Consumed == 0 {
		time.Sleep(time.Millisecond)
	}
	t0 := time.Now()
	for src.Stats().Scored < benchRecords {
		time.Sleep(time.Millisecond)
	}
	took := time.Since(t0)
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if st := src.Stats(); st.DeadLettered != 0 || st.Scored != benchRecords {
		b.Fatalf("stats %+v", st)
	}
	return took
}

type passThrough struct {
	prod     sarama.AsyncProducer
	values   [][]byte
	headers  []sarama.RecordHeader
	consumed *atomic.Int64
}

func (passThrough) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (passThrough) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (p passThrough) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		p.consumed.Add(1)
		v := m.Value
		if p.values != nil {
			v = p.values[m.Offset%int64(len(p.values))]
		}
		p.prod.Input() <- &sarama.ProducerMessage{Topic: "out", Key: sarama.ByteEncoder(m.Key), Value: sarama.ByteEncoder(v), Headers: p.headers}
		sess.MarkMessage(m, "")
	}
	return nil
}

// rawPassThrough copies "in" to "out" with plain sarama, replacing the
// values (picked by offset) and headers when given, and returns the time from the first
// record consumed to the last one acknowledged.
func rawPassThrough(b *testing.B, c *kafkatest.Cluster, values [][]byte, headers []sarama.RecordHeader, codec sarama.CompressionCodec) time.Duration {
	cfg := sarama.NewConfig()
	cfg.Version = kafka.DefaultVersion
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Return.Successes = true
	cfg.Producer.Compression = codec
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	prod, err := sarama.NewAsyncProducer(c.Addrs(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	var acked, consumed atomic.Int64
	go func() {
		for range prod.Successes() {
			acked.Add(1)
		}
	}()
	go func() {
		for err := range prod.Errors() {
			b.Error(err)
		}
	}()
	group, err := sarama.NewConsumerGroup(c.Addrs(), "raw", cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			group.Consume(ctx, []string{"in"}, passThrough{prod: prod, values: values, headers: headers, consumed: &consumed})
		}
	}()
	for consumed.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	t0 := time.Now()
	for acked.Load() < benchRecords {
		time.Sleep(time.Millisecond)
	}
	took := time.Since(t0)
	cancel()
	<-done
	group.Close()
	prod.Close()
	return took
}
