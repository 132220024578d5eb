package kafkafeed_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelstream/modelstream/registry"
	"github.com/modelstream/modelstream/registry/bolt"
	"github.com/modelstream/modelstream/registry/kafkafeed"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

var errDiskFull = errors.New("injected: disk full")

// failing is a registry.Storage whose writes fail while fail says so.
type failing struct {
	registry.Storage
	fail func() bool
}

func (f failing) Update(ctx context.Context, fn func(registry.Writer) error) error {
	if f.fail() {
		return errDiskFull
	}
	return f.Storage.Update(ctx, fn)
}

// feedRun is one run of an instance whose ModelFeed resumes from a bolt
// registry behind failing: the store, the Server restored from it, the
// Sync, and the feed's events.
type feedRun struct {
	store  *registry.Registry
	srv    *serving.Server
	sync   *kafkafeed.Sync
	events chan kafka.FeedEvent
	stop   func()
}

// startFeedRun opens the registry at path (writes failing while fail
// says so), restores it into a new Server, and runs a ModelFeed on c
// resumed from its offsets, until stop.
func startFeedRun(t *testing.T, c *kafkatest.Cluster, path string, fail func() bool) *feedRun {
	t.Helper()
	ctx := context.Background()
	st, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r := &feedRun{events: make(chan kafka.FeedEvent, 16)}
	if r.store, err = registry.New(failing{st, fail}); err != nil {
		t.Fatal(err)
	}
	if r.sync, err = kafkafeed.New(r.store, kafkafeed.Logger(quiet), kafkafeed.Observer(func(e kafka.FeedEvent) { r.events <- e })); err != nil {
		t.Fatal(err)
	}
	if r.srv, err = serving.NewServer(serving.WithLogger(quiet), serving.WithAdmission(r.sync)); err != nil {
		t.Fatal(err)
	}
	if _, err := registry.Restore(ctx, r.store, r.srv); err != nil {
		t.Fatal(err)
	}
	opts, err := r.sync.FeedOptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	feed, err := kafka.NewModelFeed(testConfig(t, c.Addrs()), r.srv, opts...)
	if err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- feed.Run(fctx) }()
	r.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		r.srv.Close()
		r.store.Close()
	}
	return r
}

// next returns the run's next feed event.
func (r *feedRun) next(t *testing.T) kafka.FeedEvent {
	t.Helper()
	select {
	case e := <-r.events:
		return e
	case <-time.After(30 * time.Second):
		t.Fatal("no feed event in 30s")
		return kafka.FeedEvent{}
	}
}

// publisher returns a function that publishes a fake model of value as
// fraud@v on c's models topic.
func publisher(t *testing.T, c *kafkatest.Cluster) func(value float64, v uint64) {
	t.Helper()
	pub, err := kafka.NewPublisher(t.Context(), testConfig(t, c.Addrs()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	return func(value float64, v uint64) {
		t.Helper()
		if _, _, err := pub.Publish(context.Background(), servingtest.Spec{Value: value}.Descriptor("fraud", v)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStoreFailure: while the store cannot write, a model read from the
// topic is refused (it does not go live, it is not stored, the Sync
// counts the failure with its cause) and its offset is not recorded, so
// the next run reads it again; once the store writes again, that run
// stores and serves it.
func TestStoreFailure(t *testing.T) {
	ctx := context.Background()
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	publish := publisher(t, c)
	path := filepath.Join(t.TempDir(), "registry.db")
	var fail atomic.Bool
	start := func() *feedRun { return startFeedRun(t, c, path, fail.Load) }

	publish(1, 1)
	a := start()
	if e := a.next(t); e.Err != nil || e.Model.Version != 1 {
		t.Fatalf("v1: %+v", e)
	}
	waitLive(t, a.srv, 1)

	fail.Store(true)
	publish(2, 2)
	e := a.next(t)
	if e.Err == nil || !errors.Is(e.Err, errDiskFull) || e.Model.Version != 2 {
		t.Fatalf("v2 while the store fails: %+v, want its refusal caused by the store", e)
	}
	if ref, _ := a.srv.Current("fraud"); ref.Version != 1 {
		t.Errorf("live is %v while the store fails, want fraud@v1", ref)
	}
	// The offset of v2 is not even written: its partition's resume point
	// is held before v2 (see TestTransientStoreFailure).
	if n, last := a.sync.Failures(); n != 1 || !errors.Is(last, errDiskFull) {
		t.Errorf("Failures() = %d, %v; want the failed store of v2", n, last)
	}
	if a.sync.Stored() != 1 {
		t.Errorf("Stored() = %d, want 1", a.sync.Stored())
	}
	fail.Store(false)
	if vs, err := a.store.List(ctx, "fraud"); err != nil || len(vs) != 1 {
		t.Errorf("stored %v, %v; want v1 only", vs, err)
	}
	if offs, err := a.store.Offsets(ctx, kafka.DefaultModelsTopic); err != nil || offs[0] != 1 {
		t.Errorf("recorded offsets %v, %v; want partition 0 still after v1 (1)", offs, err)
	}
	a.stop()

	b := start()
	defer b.stop()
	if e := b.next(t); e.Err != nil || e.Model.Version != 2 || e.Offset != 1 {
		t.Fatalf("after the restart: %+v, want v2 read again at offset 1 and activated", e)
	}
	waitLive(t, b.srv, 2)
	if vs, err := b.store.List(ctx, "fraud"); err != nil || len(vs) != 2 {
		t.Errorf("stored %v, %v; want v1 and v2", vs, err)
	}
}
