package kafkafeed_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelstream/modelstream/registry"
	"github.com/modelstream/modelstream/registry/kafkafeed"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestObserverPanicContained: an Observer that panics on every event
// keeps neither the Sync from recording the feed's progress (the models
// stored, their activations, the resume point) nor the Observers after
// it (an audit, say) from hearing of every event. Before, the panic
// unwound out of Observe to the feed, which recovered it, and the
// Observers after the panicking one never heard of any event (0 of 2).
func TestObserverPanicContained(t *testing.T) {
	ctx := context.Background()
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	publish := publisher(t, c)
	store, err := registry.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	follower := registry.Follow(store, quiet)
	heard := make(chan kafka.FeedEvent, 4)
	var panics atomic.Int64
	sync, err := kafkafeed.New(store, kafkafeed.Logger(quiet),
		kafkafeed.Observer(func(kafka.FeedEvent) { panics.Add(1); panic("observer bug") }),
		kafkafeed.Observer(func(e kafka.FeedEvent) { heard <- e }))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serving.NewServer(serving.WithLogger(quiet), serving.WithHooks(follower), serving.WithAdmission(sync))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	opts, err := sync.FeedOptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	feed, err := kafka.NewModelFeed(testConfig(t, c.Addrs()), srv, opts...)
	if err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- feed.Run(fctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	publish(1, 1)
	publish(2, 2)
	waitLive(t, srv, 2)
	// The feed calls the Observers after the activation's hooks, on the
	// partition's goroutine: wait for the second event to be heard.
	for v := uint64(1); v <= 2; v++ {
		select {
		case e := <-heard:
			if e.Outcome != kafka.Activated || e.Model.Version != v {
				t.Fatalf("heard %+v, want fraud@v%d activated", e, v)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("the Observer after the panicking one never heard of v%d (%d panics)", v, panics.Load())
		}
	}
	if vs, err := store.List(ctx, "fraud"); err != nil || len(vs) != 2 {
		t.Errorf("stored %v, %v; want v1 and v2", vs, err)
	}
	if offs, err := store.Offsets(ctx, kafka.DefaultModelsTopic); err != nil || offs[0] != 2 {
		t.Errorf("recorded offsets %v, %v; want partition 0 at 2, after v2", offs, err)
	}
	if h, err := store.History(ctx, "fraud"); err != nil || len(h) != 2 {
		t.Errorf("history %v, %v; want both activations", h, err)
	}
}

// TestFeedObserverBesideFeedOptions: a program's own kafka.Observer,
// given before or after the Sync's FeedOptions, is called beside the
// Sync's, which still records the resume point. Before, the feed kept
// the last Observer given only: the one after the FeedOptions replaced
// the Sync's, which then recorded no offset, so that a restart read the
// whole topic again ("recorded offsets map[]; want partition 0 at 2"),
// and the Sync's replaced the one before them, which heard of nothing.
func TestFeedObserverBesideFeedOptions(t *testing.T) {
	ctx := context.Background()
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	publish := publisher(t, c)
	publish(1, 1)
	publish(2, 2)
	store, err := registry.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	sync, err := kafkafeed.New(store, kafkafeed.Logger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serving.NewServer(serving.WithLogger(quiet), serving.WithAdmission(sync))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	opts, err := sync.FeedOptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var before, after atomic.Int64
	opts = append([]kafka.FeedOption{kafka.Observer(func(kafka.FeedEvent) { before.Add(1) })}, opts...)
	opts = append(opts, kafka.Observer(func(kafka.FeedEvent) { after.Add(1) }))
	feed, err := kafka.NewModelFeed(testConfig(t, c.Addrs()), srv, opts...)
	if err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- feed.Run(fctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-feed.CaughtUp():
	case err := <-done:
		done <- nil
		t.Fatalf("feed ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("feed did not catch up in 30s")
	}
	if offs, err := store.Offsets(ctx, kafka.DefaultModelsTopic); err != nil || offs[0] != 2 {
		t.Errorf("recorded offsets %v, %v; want partition 0 at 2", offs, err)
	}
	if b, a := before.Load(), after.Load(); b != 2 || a != 2 {
		t.Errorf("the Observer before the FeedOptions heard %d events, the one after %d; want 2 each", b, a)
	}
}

// TestFeedStartOffsetsBesideFeedOptions: a program's own
// kafka.StartOffsets that disagrees with the resume point the Sync's
// FeedOptions read from the store is refused with serving.ErrConfig,
// before or after them; one that agrees is accepted. Before, the one
// given last replaced the other in silence: the program's made the feed
// start where the store had not left off, and the Sync then recorded
// offsets of messages whose models it had never stored, or the Sync's
// undid the program's.
func TestFeedStartOffsetsBesideFeedOptions(t *testing.T) {
	ctx := context.Background()
	store, err := registry.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SetOffsets(ctx, kafka.DefaultModelsTopic, map[int32]int64{0: 2}); err != nil {
		t.Fatal(err)
	}
	sync, err := kafkafeed.New(store, kafkafeed.Logger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serving.NewServer(serving.WithLogger(quiet), serving.WithAdmission(sync))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	opts, err := sync.FeedOptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, []string{"x:1"})
	mine := kafka.StartOffsets(map[int32]int64{0: 0})
	if _, err := kafka.NewModelFeed(cfg, srv, append(slices.Clone(opts), mine)...); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("StartOffsets after the FeedOptions: %v, want ErrConfig", err)
	}
	if _, err := kafka.NewModelFeed(cfg, srv, append([]kafka.FeedOption{mine}, opts...)...); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("StartOffsets before the FeedOptions: %v, want ErrConfig", err)
	}
	same := kafka.StartOffsets(map[int32]int64{0: 2})
	if _, err := kafka.NewModelFeed(cfg, srv, append(slices.Clone(opts), same)...); err != nil {
		t.Errorf("StartOffsets that agree: %v", err)
	}
}
