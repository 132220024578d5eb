package kafkafeed_test

import (
	"context"
	"fmt"

	"github.com/modelstream/modelstream/registry"
	"github.com/modelstream/modelstream/registry/kafkafeed"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// A feed connected to a store stores every model it reads and records
// where to resume.
func Example() {
	cluster, err := kafkatest.Start(kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	if err != nil {
		panic(err)
	}
	defer cluster.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, _ := kafka.NewConfig(cluster.Addrs(), kafka.Logger(quiet))
	pub, _ := kafka.NewPublisher(ctx, cfg)
	defer pub.Close()
	for v := uint64(1); v <= 2; v++ {
		if _, _, err := pub.Publish(ctx, servingtest.Spec{Value: float64(v)}.Descriptor("churn", v)); err != nil {
			panic(err)
		}
	}

	store, _ := registry.NewMemory() // registry.New(bolt.Open(path)) in production
	sync, _ := kafkafeed.New(store, kafkafeed.Logger(quiet))
	follower := registry.Follow(store, quiet)
	srv, _ := serving.NewServer(serving.WithLogger(quiet), serving.WithHooks(follower),
		serving.WithAdmission(sync)) // after any governance.Verifier
	defer srv.Close()
	opts, _ := sync.FeedOptions(ctx)
	feed, _ := kafka.NewModelFeed(cfg, srv, opts...)
	go feed.Run(ctx)
	<-feed.CaughtUp()

	vs, _ := store.List(ctx, "churn")
	offs, _ := store.Offsets(ctx, kafka.DefaultModelsTopic)
	live, _ := srv.Current("churn")
	fmt.Println("stored:", len(vs), "versions; resume at offset", offs[0], "; live:", live)
	// Output:
	// stored: 2 versions; resume at offset 2 ; live: churn@v2
}
