package kafka_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// activations records the models of one name that go live, in order.
type activations struct {
	name string
	mu   sync.Mutex
	ids  []string // content IDs
}

func (a *activations) OnModelEvent(e serving.ModelEvent) {
	if e.Kind == serving.EventActivated && e.Model.Name == a.name {
		a.mu.Lock()
		a.ids = append(a.ids, e.Model.ID)
		a.mu.Unlock()
	}
}

func (a *activations) list() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.ids...)
}

// TestFeedRestartBehindHangingMessage: a feed stopped while the fetch
// of a message hangs leaves that message unreported, and those after it
// on its partition, so that a feed restarted from the Observer's offsets,
// on a Server that kept its models (as one restored from a registry
// does), reads them again. A message read again must not go live a
// second time. Before, two version-less messages of b published after
// the hanging one went live (b@v1, b@v2) while it hung; read again after
// the restart, they were numbered anew, b@v3 and b@v4: b's older model
// went back live, then the newer one again ('the older model of b went
// live again after the restart: b live as b@v4'). Now a version-less
// message waits for every earlier message of its partition.
func TestFeedRestartBehindHangingMessage(t *testing.T) {
	web := newHangingWeb(t)
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	pub := publisher(t, c)
	ctx := context.Background()
	b1, b2 := servingtest.Spec{Value: 1}.Descriptor("b", 0), servingtest.Spec{Value: 2}.Descriptor("b", 0)
	for _, d := range []serving.Descriptor{web.descriptor("slow", 1), b1, b2, servingtest.Spec{Value: 3}.Descriptor("c", 1)} {
		if _, _, err := pub.Publish(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	live := &activations{name: "b"}
	srv := newServer(t, serving.WithHooks(live),
		serving.WithLoadOptions(serving.LoadOptions{AllowLocations: []string{web.URL + "/models/"}, FetchTimeout: time.Hour}))
	var mu sync.Mutex
	resume := map[int32]int64{}
	observe := func(e kafka.FeedEvent) {
		mu.Lock()
		resume[e.Partition] = e.Offset + 1
		mu.Unlock()
	}
	feed, stop := startFeed(t, c.Addrs(), srv, kafka.Observer(observe))
	waitFor(t, "the fetch of the hanging Location", func() bool { return web.held.Load() == 1 })
	// Give b every chance to go live while slow hangs: c, read after b's
	// messages, cannot, since a version-less message now holds its
	// partition; before, b@v2 went live within milliseconds.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if ref, _ := srv.Current("b"); ref.Version == 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, ok := srv.Current("c"); ok {
		t.Error("c, behind b's version-less messages, went live while slow hung")
	}
	if st := feed.Stats(); st.Read != 1 {
		t.Errorf("%d messages read while slow hung, want 1: b's version-less message waits for it", st.Read)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	before := live.list()

	mu.Lock()
	start := map[int32]int64{0: resume[0]}
	mu.Unlock()
	known := map[string]uint64{}
	if ref, ok := srv.Current("b"); ok {
		known["b"] = ref.Version
	}
	feed, _ = startFeed(t, c.Addrs(), srv, kafka.Observer(observe), kafka.StartOffsets(start), kafka.KnownVersions(known))
	web.Release()
	select {
	case <-feed.CaughtUp():
	case <-time.After(time.Minute):
		t.Fatal("the restarted feed did not catch up in a minute")
	}
	after := live.list()[len(before):]
	now, _ := srv.Current("b")
	t.Logf("restart from offset %d: b live as %v; activations of b: %d before the restart, %d after", start[0], now, len(before), len(after))
	for _, id := range after {
		for _, old := range before {
			if id == old {
				name := "the newer"
				if id == b1.SHA256 || (b1.SHA256 == "" && id == serving.ContentID(b1.Bytes)) {
					name = "the older"
				}
				t.Errorf("%s model of b went live again after the restart: b live as %v", name, now)
			}
		}
	}
	if now.Version != 2 || score(t, srv, "b", 0).Value != 2 {
		t.Errorf("b live as %v after the restart, want b@v2, the newer model", now)
	}
	if _, ok := srv.Current("c"); !ok {
		t.Error("c not live after the restart")
	}
}
