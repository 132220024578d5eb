package kafka_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// A Sink with wire.ScoreCompact writes the score's value without the
// provenance and the key, which the record carries in its headers and
// its key; wire.DecodeScore puts the whole Score back together.
func ExampleScoreEncoding() {
	cluster, err := kafkatest.Start(kafkatest.Topic(kafka.DefaultScoresTopic, 1))
	if err != nil {
		panic(err)
	}
	defer cluster.Close()
	cfg, err := kafka.NewConfig(cluster.Addrs(), kafka.Logger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		panic(err)
	}
	sink, err := kafka.NewSink(context.Background(), cfg, kafka.ScoreEncoding(wire.ScoreCompact))
	if err != nil {
		panic(err)
	}
	defer sink.Close()

	// The score of the input payments/2@99, as a Source hands it over.
	in := &sarama.ConsumerMessage{Topic: "payments", Partition: 2, Offset: 99, Key: []byte("card-1")}
	res := serving.Result{
		Prediction: serving.Prediction{Value: 0.93, Label: "fraud", Confidence: 0.93},
		Provenance: serving.Provenance{Model: serving.ModelRef{Name: "fraud", Version: 3, Format: "linear"}},
	}
	acked := make(chan error, 1)
	sink.WriteScore(in, res, func(err error) { acked <- err })
	if err := <-acked; err != nil {
		panic(err)
	}

	cons, err := sarama.NewConsumer(cluster.Addrs(), nil)
	if err != nil {
		panic(err)
	}
	defer cons.Close()
	pc, err := cons.ConsumePartition(kafka.DefaultScoresTopic, 0, sarama.OffsetOldest)
	if err != nil {
		panic(err)
	}
	defer pc.Close()
	m := <-pc.Messages()
	fmt.Printf("key %s, value %s\n", m.Key, m.Value)
	s, err := wire.DecodeScore(wire.Message{Key: m.Key, Value: m.Value, Headers: kafka.Headers(m)})
	if err != nil {
		panic(err)
	}
	fmt.Printf("decoded: %s scored %s %v for input %s at %s/%d@%d\n", s.Provenance.Model, s.Label, s.Value, s.InputKey(), s.Topic, s.Partition, s.Offset)
	// Output:
	// key card-1, value {"prediction":{"value":0.93,"label":"fraud","confidence":0.93},"topic":"payments","partition":2,"offset":99}
	// decoded: fraud@v3 scored fraud 0.93 for input card-1 at payments/2@99
}
