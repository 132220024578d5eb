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

// flaky is a registry.Storage whose next failNext writes fail.
type flaky struct {
	registry.Storage
	failNext *atomic.Int32
}

func (f flaky) Update(ctx context.Context, fn func(registry.Writer) error) error {
	if f.failNext.Add(-1) >= 0 {
		return errDiskFull
	}
	return f.Storage.Update(ctx, fn)
}

// TestTransientStoreFailure: the store refuses one write, the Put of v2,
// and takes the next ones again. v2 did not go live and was not stored,
// so the offset recorded must not move past it, neither with v2's own
// event nor with v3's after it: a restart must read v2 again. Before the
// fix the resume point moved past v2 and the restarted instance never
// saw it (the next run started at v3's offset, or after it).
func TestTransientStoreFailure(t *testing.T) {
	ctx := context.Background()
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	pub, err := kafka.NewPublisher(testConfig(t, c.Addrs()))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	publish := func(value float64, v uint64) {
		t.Helper()
		if _, _, err := pub.Publish(ctx, servingtest.Spec{Value: value}.Descriptor("fraud", v)); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "registry.db")
	var failNext atomic.Int32
	type run struct {
		store  *registry.Registry
		srv    *serving.Server
		sync   *kafkafeed.Sync
		events chan kafka.FeedEvent
		stop   func()
	}
	start := func() *run {
		t.Helper()
		st, err := bolt.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		r := &run{events: make(chan kafka.FeedEvent, 16)}
		if r.store, err = registry.New(flaky{st, &failNext}); err != nil {
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
	next := func(r *run) kafka.FeedEvent {
		t.Helper()
		select {
		case e := <-r.events:
			return e
		case <-time.After(30 * time.Second):
			t.Fatal("no feed event in 30s")
			return kafka.FeedEvent{}
		}
	}

	publish(1, 1)
	a := start()
	if e := next(a); e.Err != nil || e.Model.Version != 1 {
		t.Fatalf("v1: %+v", e)
	}
	failNext.Store(1) // the Put of v2 only
	publish(2, 2)
	if e := next(a); !errors.Is(e.Err, errDiskFull) || e.Model.Version != 2 {
		t.Fatalf("v2 while the store fails once: %+v, want its refusal caused by the store", e)
	}
	publish(3, 3)
	if e := next(a); e.Err != nil || e.Model.Version != 3 {
		t.Fatalf("v3 once the store writes again: %+v", e)
	}
	if offs, err := a.store.Offsets(ctx, kafka.DefaultModelsTopic); err != nil || offs[0] != 1 {
		t.Errorf("recorded offsets %v, %v; want partition 0 still at v2's offset (1), which no run has stored", offs, err)
	}
	a.stop()

	b := start()
	defer b.stop()
	// No history was recorded (no Follower), so nothing is restored: v2
	// is read again and goes live, then v3.
	if e := next(b); e.Offset != 1 || e.Model.Version != 2 || e.Err != nil {
		t.Fatalf("after the restart: %+v, want v2 read again at offset 1 and activated", e)
	}
	if e := next(b); e.Offset != 2 || e.Model.Version != 3 || e.Err != nil {
		t.Fatalf("after the restart: %+v, want v3 at offset 2", e)
	}
	if vs, err := b.store.List(ctx, "fraud"); err != nil || len(vs) != 3 {
		t.Errorf("stored %v, %v; want v1, v2 and v3", vs, err)
	}
}
