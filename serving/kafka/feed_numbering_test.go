package kafka_test

import (
	"context"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestFeedNumbersAboveTheServersVersions: a Server made v1 to v3 live
// (not from the topic) and was rolled back to v1; a version-less message
// the feed then reads gets v4, never v2 or v3, which named other models
// here. Before, the feed numbered it from the live v1 and the topic: v2,
// which the Server then made live, a number given twice.
func TestFeedNumbersAboveTheServersVersions(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	ctx := context.Background()
	srv := newServer(t)
	for v := uint64(1); v <= 3; v++ {
		if _, err := srv.Activate(ctx, linearModel(t, "m", v, 2, float64(v))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := srv.Activate(ctx, linearModel(t, "m", 1, 2, 1), serving.AllowRollback()); err != nil {
		t.Fatal(err)
	}
	runFeed(t, c.Addrs(), srv)
	if _, _, err := publisher(t, c).Publish(ctx, linearModel(t, "m", 0, 2, 9)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the version-less model", func() bool { ref, _ := srv.Current("m"); return ref.Version != 1 })
	if ref, _ := srv.Current("m"); ref.Version != 4 {
		t.Fatalf("the version-less message went live as %v, want v4", ref)
	}
	if got := score(t, srv, "m", 5, 0).Value; got != 45 {
		t.Errorf("v4 scored %v, want 45", got)
	}
}

// TestFeedKnownVersions: a feed given the highest version of a name
// that the messages before its start carried numbers that name's next
// version-less message above it; another name starts at 1.
func TestFeedKnownVersions(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	ctx := context.Background()
	srv := newServer(t)
	runFeed(t, c.Addrs(), srv, kafka.KnownVersions(map[string]uint64{"k": 7, "zero": 0}))
	pub := publisher(t, c)
	for _, name := range []string{"k", "other"} {
		if _, _, err := pub.Publish(ctx, linearModel(t, name, 0, 2, 1)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "both models", func() bool { return len(srv.Models()) == 2 })
	if ref, _ := srv.Current("k"); ref.Version != 8 {
		t.Errorf("k went live as %v, want v8", ref)
	}
	if ref, _ := srv.Current("other"); ref.Version != 1 {
		t.Errorf("other went live as %v, want v1", ref)
	}
}

// TestFeedKnownVersionsCompose: KnownVersions given twice, as by a
// program beside a registry/kafkafeed Sync's FeedOptions, leaves the feed
// knowing the highest version either gives for each name. Before, the
// map given last replaced the other: k, known at v7 and then at v3, went
// live as v4, a number a message before the feed's start had given
// another model, and j, known at v5 only in the first map, as v1.
func TestFeedKnownVersionsCompose(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	ctx := context.Background()
	srv := newServer(t)
	runFeed(t, c.Addrs(), srv,
		kafka.KnownVersions(map[string]uint64{"k": 7, "j": 5}),
		kafka.KnownVersions(map[string]uint64{"k": 3, "i": 2}))
	pub := publisher(t, c)
	for _, name := range []string{"k", "j", "i"} {
		if _, _, err := pub.Publish(ctx, linearModel(t, name, 0, 2, 1)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the three models", func() bool { return len(srv.Models()) == 3 })
	for name, want := range map[string]uint64{"k": 8, "j": 6, "i": 3} {
		if ref, _ := srv.Current(name); ref.Version != want {
			t.Errorf("%s went live as %v, want v%d", name, ref, want)
		}
	}
}
