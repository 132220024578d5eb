package trainkafka_test

import (
	"context"
	"fmt"

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
	pub, err := trainkafka.NewPublisher(cfg)
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	l, _ := training.NewLearner(training.Linear, 1)
	for v := uint64(1); v <= 2; v++ {
		l.Learn(training.Sample{Features: []float64{float64(v)}, Target: 1})
		d, _ := l.Snapshot("churn", "")
		d.Version = v
		if err := pub.Publish(context.Background(), d); err != nil {
			panic(err)
		}
	}
	ref, err := trainkafka.LatestVersion(context.Background(), cfg, "models", "churn")
	if err != nil {
		panic(err)
	}
	fmt.Println(ref, "- a restarted trainer publishes version", ref.Version+1)
	// Output:
	// churn@v2 - a restarted trainer publishes version 3
}
