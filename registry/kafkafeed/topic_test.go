package kafkafeed_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/registry"
	"github.com/modelstream/modelstream/registry/kafkafeed"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestFeedTopicMustMatchSync: a program that names its models topic with
// kafka.Topic but not with this package's Topic gets a feed whose topic
// is not the one the Sync records offsets for. Before, the option given
// last won in silence: before FeedOptions, the feed read "models"
// instead of the topic the program named; after, the feed read it but
// the Sync recorded none of its offsets. NewModelFeed refuses both
// orders with serving.ErrConfig naming the two topics, and accepts the
// same topic given twice.
func TestFeedTopicMustMatchSync(t *testing.T) {
	ctx := context.Background()
	c := kafkatest.New(t, kafkatest.Topic("fraud-models", 1))
	cfg, err := kafka.NewConfig(c.Addrs(), kafka.Logger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	store, err := registry.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	srv, err := serving.NewServer(serving.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sync, err := kafkafeed.New(store, kafkafeed.Logger(quiet)) // no Topic: "models"
	if err != nil {
		t.Fatal(err)
	}
	synced, err := sync.FeedOptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mine := kafka.Topic("fraud-models")
	for how, opts := range map[string][]kafka.FeedOption{
		"program's Topic first": append([]kafka.FeedOption{mine}, synced...),
		"program's Topic last":  append(append([]kafka.FeedOption{}, synced...), mine),
	} {
		_, err := kafka.NewModelFeed(cfg, srv, opts...)
		if !errors.Is(err, serving.ErrConfig) || !strings.Contains(fmt.Sprint(err), `"fraud-models"`) || !strings.Contains(fmt.Sprint(err), `"models"`) {
			t.Errorf("%s: NewModelFeed = %v; want serving.ErrConfig naming both topics", how, err)
		}
	}

	matched, err := kafkafeed.New(store, kafkafeed.Logger(quiet), kafkafeed.Topic("fraud-models"))
	if err != nil {
		t.Fatal(err)
	}
	synced, err = matched.FeedOptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kafka.NewModelFeed(cfg, srv, append([]kafka.FeedOption{mine}, synced...)...); err != nil {
		t.Fatalf("the same topic given twice: %v", err)
	}
}
