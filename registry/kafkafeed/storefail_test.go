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

// failing is a registry.Storage whose writes fail while fail is set.
type failing struct {
	registry.Storage
	fail *atomic.Bool
}

func (f failing) Update(ctx context.Context, fn func(registry.Writer) error) error {
	if f.fail.Load() {
		return errDiskFull
	}
	return f.Storage.Update(ctx, fn)
}

// TestStoreFailure: while the store cannot write, a model read from the
// topic is refused (it does not go live, it is not stored, the Sync
// counts the failure with its cause) and its offset is not recorded, so
// the next run reads it again; once the store writes again, that run
// stores and serves it.
func TestStoreFailure(t *testing.T) {
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
	var fail atomic.Bool

	type run struct {
		store  *registry.Registry
		srv    *serving.Server
		sync   *kafkafeed.Sync
		feed   *kafka.ModelFeed
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
		if r.store, err = registry.New(failing{st, &fail}); err != nil {
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
		if r.feed, err = kafka.NewModelFeed(testConfig(t, c.Addrs()), r.srv, opts...); err != nil {
			t.Fatal(err)
		}
		fctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- r.feed.Run(fctx) }()
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
	waitLive(t, a.srv, 1)

	fail.Store(true)
	publish(2, 2)
	e := next(a)
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
	if e := next(b); e.Err != nil || e.Model.Version != 2 || e.Offset != 1 {
		t.Fatalf("after the restart: %+v, want v2 read again at offset 1 and activated", e)
	}
	waitLive(t, b.srv, 2)
	if vs, err := b.store.List(ctx, "fraud"); err != nil || len(vs) != 2 {
		t.Errorf("stored %v, %v; want v1 and v2", vs, err)
	}
}
