package kafka_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// ExampleExactlyOnce scores a data topic in Kafka transactions: the
// scores, the dead letter and the consumed offsets commit together, and
// a consumer of the scores that reads with read_committed sees each
// input's output once.
func ExampleExactlyOnce() {
	cluster, err := kafkatest.Start(kafkatest.Topic(kafka.DefaultDataTopic, 1), kafkatest.Topic(kafka.DefaultScoresTopic, 1))
	if err != nil {
		panic(err)
	}
	defer cluster.Close()
	brokers := cluster.Addrs()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	srv, _ := serving.NewServer(serving.WithLogger(quiet))
	if _, err := srv.Activate(ctx, servingtest.Spec{Echo: true}.Descriptor("sum", 1)); err != nil {
		panic(err)
	}
	in, _ := sarama.NewSyncProducer(brokers, nil)
	defer in.Close()
	for _, v := range []string{`[1, 2, 3]`, `[1, "two"]`, `[0.5, 0.25]`} {
		in.SendMessage(&sarama.ProducerMessage{Topic: kafka.DefaultDataTopic, Value: sarama.StringEncoder(v)})
	}

	cfg, err := kafka.NewConfig(brokers, kafka.Logger(quiet))
	if err != nil {
		panic(err)
	}
	sink, err := kafka.NewSink(ctx, cfg)
	if err != nil {
		panic(err)
	}
	defer sink.Close()
	src, err := kafka.NewSource(cfg, "example-eos", srv.Model("sum"), sink, kafka.ExactlyOnce(), kafka.Topics(kafka.DefaultDataTopic))
	if err != nil {
		panic(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- src.Run(runCtx) }()

	// Read the scores as a downstream consumer should: read_committed.
	rc := sarama.NewConfig()
	rc.Version = kafka.DefaultVersion
	rc.Consumer.IsolationLevel = sarama.ReadCommitted
	out, _ := sarama.NewConsumer(brokers, rc)
	defer out.Close()
	pc, _ := out.ConsumePartition(kafka.DefaultScoresTopic, 0, sarama.OffsetOldest)
	defer pc.Close()
	for range 2 {
		m := <-pc.Messages()
		s, _ := wire.DecodeScore(wire.Message{Key: m.Key, Value: m.Value, Headers: kafka.Headers(m)})
		fmt.Printf("offset %d: %v\n", s.Offset, s.Prediction.Value)
	}
	stop() // commits the open transaction, leaves the group
	err = <-done
	st := src.Stats()
	fmt.Println(err, st.Scored, "scored,", st.DeadLettered, "dead letter, in", st.Commits, "transaction")
	// Output:
	// offset 0: 6
	// offset 2: 0.75
	// <nil> 2 scored, 1 dead letter, in 1 transaction
}
