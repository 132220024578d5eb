package kafka_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// hangingWeb is a model server that answers no request until released:
// a Location that hangs. It counts the requests it holds.
type hangingWeb struct {
	*httptest.Server
	release  chan struct{}
	held     atomic.Int64 // requests being held now
	most     atomic.Int64 // the most held at once
	requests atomic.Int64
	once     sync.Once
}

func newHangingWeb(t *testing.T) *hangingWeb {
	h := &hangingWeb{release: make(chan struct{})}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.requests.Add(1)
		n := h.held.Add(1)
		defer h.held.Add(-1)
		for m := h.most.Load(); n > m && !h.most.CompareAndSwap(m, n); m = h.most.Load() {
		}
		select {
		case <-h.release:
			http.Error(w, "gone", http.StatusServiceUnavailable)
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() {
		h.Release()
		h.Close()
	})
	return h
}

// Release makes every held and later request fail with 503.
func (h *hangingWeb) Release() { h.once.Do(func() { close(h.release) }) }

// descriptor returns a model message of name whose Location hangs. It
// carries a SHA256, so that the Server fetches it without AllowUnpinned.
func (h *hangingWeb) descriptor(name string, version uint64) serving.Descriptor {
	d := servingtest.Spec{Value: 7}.Descriptor(name, version)
	d.Location, d.Bytes = h.URL+"/models/"+name, nil
	return d
}

// hangingServer returns a Server that may fetch from web, with a fetch
// timeout far longer than any test: a fetch ends when web releases it or
// the feed stops.
func hangingServer(t *testing.T, web *hangingWeb) *serving.Server {
	return newServer(t, serving.WithLoadOptions(serving.LoadOptions{AllowLocations: []string{web.URL + "/models/"}, FetchTimeout: time.Hour}))
}

// TestFeedHangingLocationLeavesOtherPartitionsLive: a model whose
// Location never answers holds neither the other partitions of the
// models topic nor the models published after it there. (A guard: each
// partition had its own goroutine already.)
func TestFeedHangingLocationLeavesOtherPartitionsLive(t *testing.T) {
	web := newHangingWeb(t)
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 2))
	pub := publisher(t, c)
	ctx := context.Background()
	srv := hangingServer(t, web)
	startFeed(t, c.Addrs(), srv)
	slowPart, _, err := pub.Publish(ctx, web.descriptor("slow", 1))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the fetch of the hanging Location", func() bool { return web.held.Load() == 1 })
	other := ""
	for i := 0; other == ""; i++ {
		name := fmt.Sprintf("other%d", i)
		p, _, err := pub.Publish(ctx, servingtest.Spec{Value: 2}.Descriptor(name, 1))
		if err != nil {
			t.Fatal(err)
		}
		if p != slowPart {
			other = name
		}
	}
	waitFor(t, other+" live on the other partition", func() bool { _, ok := srv.Current(other); return ok })
	if web.held.Load() != 1 {
		t.Fatal("the hanging fetch ended before the other partition's model went live: the test proves nothing")
	}
}

// TestFeedHangingLocationLeavesOtherNamesLive: while the fetch of one
// name's model hangs, models of other names published after it on the
// SAME partition go live, and so does a later version of a name whose
// earlier version was fetched and loaded. CaughtUp waits for the hanging
// message all the same, and the observer hears of every message in
// offset order. Before, the partition handled one message at a time, and
// the others waited for the fetch's timeout (30 s by default). A
// version-less message still waits for every earlier message of its
// partition (see TestFeedRestartBehindHangingMessage).
func TestFeedHangingLocationLeavesOtherNamesLive(t *testing.T) {
	web := newHangingWeb(t)
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	pub := publisher(t, c)
	ctx := context.Background()
	for _, d := range []serving.Descriptor{
		servingtest.Spec{Value: 1}.Descriptor("b", 1),
		web.descriptor("slow", 1),
		servingtest.Spec{Value: 2}.Descriptor("a", 1),
		servingtest.Spec{Value: 3}.Descriptor("b", 2),
		servingtest.Spec{Value: 4}.Descriptor("slow", 2), // waits for slow@v1
		servingtest.Spec{Value: 5}.Descriptor("a", 2),
		servingtest.Spec{Value: 6}.Descriptor("a", 0), // version-less: waits for offsets 0-5, numbered 3
	} {
		if _, _, err := pub.Publish(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	srv := hangingServer(t, web)
	var mu sync.Mutex
	var events []kafka.FeedEvent
	feed, _ := startFeed(t, c.Addrs(), srv, kafka.Observer(func(e kafka.FeedEvent) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}))
	waitFor(t, "the fetch of the hanging Location", func() bool { return web.held.Load() == 1 })
	waitFor(t, "a@v2 and b@v2 live", func() bool {
		a, _ := srv.Current("a")
		b, _ := srv.Current("b")
		return a.Version == 2 && b.Version == 2
	})
	if web.held.Load() != 1 {
		t.Fatal("the hanging fetch ended before the other names went live: the test proves nothing")
	}
	if got := score(t, srv, "a", 0).Value; got != 5 {
		t.Errorf("a@v2 scored %v, want 5", got)
	}
	if st := feed.Stats(); st.Read != 6 {
		t.Errorf("%d messages read while offset 1 was in flight, want 6: the version-less one waits for it", st.Read)
	}
	if _, ok := srv.Current("slow"); ok {
		t.Error("slow is live while its first version is still being fetched")
	}
	select {
	case <-feed.CaughtUp():
		t.Error("CaughtUp closed while the hanging message was still being handled")
	default:
	}
	mu.Lock()
	if len(events) != 1 || events[0].Offset != 0 {
		t.Errorf("observer heard %+v while offset 1 was in flight, want offset 0 only", events)
	}
	mu.Unlock()

	web.Release()
	select {
	case <-feed.CaughtUp():
	case <-time.After(time.Minute):
		t.Fatal("the feed did not catch up in a minute once the fetch failed")
	}
	if ref, _ := srv.Current("slow"); ref.Version != 2 {
		t.Errorf("slow live as %v, want v2 after v1 failed to fetch", ref)
	}
	if ref, _ := srv.Current("a"); ref.Version != 3 || score(t, srv, "a", 0).Value != 6 {
		t.Errorf("a live as %v, want the version-less message as a@v3", ref)
	}
	want := []kafka.Outcome{kafka.Activated, kafka.Rejected, kafka.Activated, kafka.Activated, kafka.Activated, kafka.Activated, kafka.Activated}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != len(want) {
		t.Fatalf("%d events, want %d", len(events), len(want))
	}
	for i, e := range events {
		if e.Offset != int64(i) || e.Outcome != want[i] {
			t.Errorf("event %d: offset %d %v (%v), want offset %d %v", i, e.Offset, e.Outcome, e.Err, i, want[i])
		}
	}
	if st := feed.Stats(); st.Read != 7 || st.Activated != 6 || st.Rejected != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestFeedStopsPromptlyMidFetch: cancelling Run while a fetch hangs
// returns within seconds, not at the fetch's timeout (an hour here). The
// interrupted message is not reported, nor is the model of another name
// read after it, though that went live: a registry's resume point stays
// before the interrupted message, which a restart reads again.
func TestFeedStopsPromptlyMidFetch(t *testing.T) {
	web := newHangingWeb(t)
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	pub := publisher(t, c)
	for _, d := range []serving.Descriptor{web.descriptor("slow", 1), servingtest.Spec{Value: 1}.Descriptor("after", 1)} {
		if _, _, err := pub.Publish(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	srv := hangingServer(t, web)
	var observed atomic.Int64
	_, stop := startFeed(t, c.Addrs(), srv, kafka.Observer(func(kafka.FeedEvent) { observed.Add(1) }))
	waitFor(t, "the fetch of the hanging Location", func() bool { return web.held.Load() == 1 })
	waitFor(t, "the model after it live", func() bool { _, ok := srv.Current("after"); return ok })
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return within 20 s of its cancellation while a fetch hung")
	}
	if n := observed.Load(); n != 0 {
		t.Errorf("%d events after the shutdown interrupted the first message, want none", n)
	}
	if _, ok := srv.Current("slow"); ok {
		t.Error("the interrupted model is live")
	}
}

// TestFeedBoundsHangingFetches: a flood of messages of distinct names
// whose Locations all hang holds at most kafka.MaxFeedFetches fetches,
// at most kafka.MaxFeedHeld messages read, and a bounded number of
// goroutines, however many messages; once the Locations fail, every
// message is handled and the feed catches up.
func TestFeedBoundsHangingFetches(t *testing.T) {
	if testing.Short() {
		t.Skip("1,100 messages")
	}
	const n = kafka.MaxFeedHeld + 76
	web := newHangingWeb(t)
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	msgs := make([]kafkatest.Message, n)
	for i := range msgs {
		m, err := wire.EncodeModel(web.descriptor(fmt.Sprintf("flood%04d", i), 1), 0)
		if err != nil {
			t.Fatal(err)
		}
		msgs[i] = kafkatest.Message{Key: m.Key, Value: m.Value, Headers: m.Headers}
	}
	c.Produce(t, kafka.DefaultModelsTopic, msgs...)
	srv := hangingServer(t, web)
	base := runtime.NumGoroutine()
	feed, _ := startFeed(t, c.Addrs(), srv)
	waitFor(t, "the first fetches", func() bool { return web.held.Load() > 0 })
	// Let the feed read on, as far as it will.
	var goroutines int
	for range 20 {
		goroutines = max(goroutines, runtime.NumGoroutine()-base)
		time.Sleep(100 * time.Millisecond)
	}
	read := feed.Stats().Read
	t.Logf("%d hanging messages: %d fetches at most at once, %d messages read, %d goroutines more", n, web.most.Load(), read, goroutines)
	if read > kafka.MaxFeedHeld {
		t.Errorf("%d messages read while the fetches hang, want at most %d", read, kafka.MaxFeedHeld)
	}
	if m := web.most.Load(); m > kafka.MaxFeedFetches {
		t.Errorf("%d fetches at once, want at most %d", m, kafka.MaxFeedFetches)
	}
	if goroutines > 4*kafka.MaxFeedFetches+60 {
		t.Errorf("%d goroutines more with %d messages hanging", goroutines, n)
	}
	web.Release()
	select {
	case <-feed.CaughtUp():
	case <-time.After(time.Minute):
		t.Fatal("the feed did not catch up in a minute once the fetches failed")
	}
	if st := feed.Stats(); st.Read != n || st.Rejected != n {
		t.Errorf("stats %+v, want %d read and rejected", st, n)
	}
	if m := web.most.Load(); m > kafka.MaxFeedFetches {
		t.Errorf("%d fetches at once, want at most %d", m, kafka.MaxFeedFetches)
	}
	if web.requests.Load() != n {
		t.Errorf("%d fetches for %d messages", web.requests.Load(), n)
	}
}
