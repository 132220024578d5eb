package kafkafeed_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
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

// TestResumePointStaysBeforeAHangingFetch: the feed makes a model of
// another name live while the fetch of an earlier message hangs; the
// stored resume point must not pass the hanging message, so that an
// instance stopped meanwhile reads it again after its restart, and
// serves it once its Location answers.
func TestResumePointStaysBeforeAHangingFetch(t *testing.T) {
	spec := servingtest.Spec{Value: 7}.Descriptor("slow", 1)
	var answer atomic.Bool // false: hang until the request ends
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if answer.Load() {
			w.Write(spec.Bytes)
			return
		}
		<-r.Context().Done()
	}))
	t.Cleanup(web.Close) // after the feeds' stops, registered later
	slow := spec
	slow.Location, slow.Bytes = web.URL+"/models/slow", nil

	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	ctx := context.Background()
	pub, err := kafka.NewPublisher(ctx, testConfig(t, c.Addrs()))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	for _, d := range []serving.Descriptor{slow, servingtest.Spec{Value: 2}.Descriptor("other", 1)} {
		if _, _, err := pub.Publish(ctx, d); err != nil {
			t.Fatal(err)
		}
	}

	path := filepath.Join(t.TempDir(), "registry.db")
	run := func() (*registry.Registry, *serving.Server, *kafka.ModelFeed, func()) {
		st, err := bolt.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		store, err := registry.New(st)
		if err != nil {
			t.Fatal(err)
		}
		ksync, err := kafkafeed.New(store, kafkafeed.Logger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		srv, err := serving.NewServer(serving.WithLogger(quiet), serving.WithAdmission(ksync),
			serving.WithLoadOptions(serving.LoadOptions{AllowLocations: []string{web.URL + "/models/"}, FetchTimeout: time.Hour}))
		if err != nil {
			t.Fatal(err)
		}
		opts, err := ksync.FeedOptions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		feed, err := kafka.NewModelFeed(testConfig(t, c.Addrs()), srv, opts...)
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- feed.Run(rctx) }()
		var once sync.Once
		stop := func() {
			once.Do(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("feed: %v", err)
				}
				srv.Close()
				store.Close()
			})
		}
		t.Cleanup(stop)
		return store, srv, feed, stop
	}

	store, srv, _, stop := run()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor("the other model live", func() bool { _, ok := srv.Current("other"); return ok })
	// The other model's event comes after its activation: watch the
	// resume point for a while.
	for range 50 {
		offs, err := store.Offsets(ctx, kafka.DefaultModelsTopic)
		if err != nil {
			t.Fatal(err)
		}
		if off, ok := offs[0]; ok && off > 0 {
			t.Fatalf("resume point %d while offset 0 is still being fetched, want none or 0", off)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()

	answer.Store(true)
	store, srv, feed, _ := run()
	select {
	case <-feed.CaughtUp():
	case <-time.After(30 * time.Second):
		t.Fatal("the restarted feed did not catch up in 30s")
	}
	if ref, ok := srv.Current("slow"); !ok || ref.Version != 1 {
		t.Errorf("after the restart slow is %v, want v1, read again", ref)
	}
	if offs, err := store.Offsets(ctx, kafka.DefaultModelsTopic); err != nil || offs[0] != 2 {
		t.Errorf("resume point %v (%v) after catching up, want 2", offs, err)
	}
}
