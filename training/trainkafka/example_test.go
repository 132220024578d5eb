package trainkafka_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/training"
	"github.com/modelstream/modelstream/training/trainkafka"
)

// A Source decodes each record with a Decoder; CSV takes the target
// from one column and the features from the others.
func ExampleCSV() {
	dec := trainkafka.CSV{Comma: ';', Label: -1}
	s, err := dec.Decode(nil, []byte("7.4;0.7;0;1.9;5"))
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Features, s.Target)
	// Output:
	// [7.4 0.7 0 1.9] 5
}

// LatestVersion reads the models topic for the newest version of a
// name; a Trainer whose publisher is a trainkafka.Publisher does this when it
// starts, and numbers its own versions after it.
func ExampleLatestVersion() {
	cluster, err := kafkatest.Start(kafkatest.Topic("models", 1))
	if err != nil {
		panic(err)
	}
	defer cluster.Close()
	cfg, err := kafka.NewConfig(cluster.Addrs())
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	pub, err := trainkafka.NewPublisher(ctx, cfg)
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	l, _ := training.NewLearner(training.Linear, 1)
	for v := uint64(1); v <= 2; v++ {
		l.Learn(training.Sample{Features: []float64{float64(v)}, Target: 1})
		d, _ := l.Snapshot("churn", "")
		d.Version = v
		if err := pub.Publish(ctx, d); err != nil {
			panic(err)
		}
	}
	ref, err := trainkafka.LatestVersion(ctx, cfg, "models", "churn")
	if err != nil {
		panic(err)
	}
	fmt.Println(ref, "- a restarted trainer publishes version", ref.Version+1)
	// Output:
	// churn@v2 - a restarted trainer publishes version 3
}

// JSON reads named features and a named target from an object.
func ExampleJSON() {
	dec := trainkafka.JSON{Features: []string{"alcohol", "ph"}, Label: "quality"}
	s, err := dec.Decode(nil, []byte(`{"ph": 3.5, "quality": 5, "alcohol": 9.4, "note": "ignored"}`))
	fmt.Println(s.Features, s.Target, err)
	// Output: [9.4 3.5] 5 <nil>
}

// A Source reads labelled records as a consumer group of its own and
// hands them to a Trainer; here they are read by hand.
func ExampleNewSource() {
	cluster, err := kafkatest.Start(kafkatest.Topic("training", 1))
	if err != nil {
		panic(err)
	}
	defer cluster.Close()
	p, _ := sarama.NewSyncProducer(cluster.Addrs(), nil)
	for _, v := range []string{"1.5,0", "bad,row", "2.5,1"} {
		p.SendMessage(&sarama.ProducerMessage{Topic: "training", Value: sarama.StringEncoder(v)})
	}
	p.Close()

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg, _ := kafka.NewConfig(cluster.Addrs(), kafka.Logger(quiet))
	ctx := context.Background()
	src, err := trainkafka.NewSource(ctx, cfg, "trainer", trainkafka.Topics("training"), trainkafka.SampleDecoder(trainkafka.CSV{Label: -1}))
	if err != nil {
		panic(err)
	}
	defer src.Close()
	for range 2 {
		s, _ := src.Next(ctx) // the bad row is skipped
		fmt.Println(s.Features, s.Target)
	}
	fmt.Println(src.Commit(ctx), src.Stats().Skipped, "skipped")
	// Output:
	// [1.5] 0
	// [2.5] 1
	// <nil> 1 skipped
}
