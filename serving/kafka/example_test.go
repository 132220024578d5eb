package kafka_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// ExampleModelFeed publishes two versions of a model, and a feed
// activates the newest in a Server, the way every scoring instance does
// at start-up.
func ExampleModelFeed() {
	cluster, err := kafkatest.Start(kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	if err != nil {
		panic(err)
	}
	defer cluster.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	pub, err := kafka.NewPublisher(cluster.Addrs())
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	for v, value := range []float64{0.25, 0.75} {
		d := servingtest.Spec{Value: value}.Descriptor("churn", uint64(v+1))
		if _, _, err := pub.Publish(ctx, d); err != nil {
			panic(err)
		}
	}

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, _ := serving.NewServer(serving.WithLogger(quiet))
	feed, err := kafka.NewModelFeed(cluster.Addrs(), srv, kafka.FeedLogger(quiet))
	if err != nil {
		panic(err)
	}
	go feed.Run(ctx)
	<-feed.CaughtUp()

	res, _ := srv.Model("churn").Score(ctx, serving.Record{Features: []float64{1}})
	fmt.Println(res.Provenance.Model, res.Value)
	fmt.Printf("%+v\n", feed.Stats())
	// Output:
	// churn@v2 0.75
	// {Read:2 Activated:2 Stale:0 Rejected:0 Malformed:0}
}
