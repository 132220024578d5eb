package kafka_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

func score(t *testing.T, srv *serving.Server, name string, x ...float64) serving.Result {
	t.Helper()
	r, err := srv.Model(name).Score(context.Background(), serving.Record{Features: x})
	if err != nil {
		t.Fatalf("score %s: %v", name, err)
	}
	return r
}

// TestFeedReplayAndLive: a feed started late replays the topic (old
// versions skipped as stale), then follows new versions live.
func TestFeedReplayAndLive(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	pub := publisher(t, c)
	ctx := context.Background()
	for v := uint64(1); v <= 3; v++ {
		if _, _, err := pub.Publish(ctx, linearModel(t, "m", v, 2, float64(v))); err != nil {
			t.Fatal(err)
		}
	}
	// v2 again, out of order: stale on replay.
	if _, _, err := pub.Publish(ctx, linearModel(t, "m", 2, 2, 2)); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t)
	var mu sync.Mutex
	var events []kafka.FeedEvent
	feed := runFeed(t, c.Addrs(), srv, kafka.Observer(func(e kafka.FeedEvent) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}))
	if ref, _ := srv.Current("m"); ref.Version != 3 {
		t.Fatalf("after replay live is %v, want v3", ref)
	}
	if got := score(t, srv, "m", 1, 5).Value; got != 3 {
		t.Errorf("v3 scored %v, want 3", got)
	}
	st := feed.Stats()
	if st.Read != 4 || st.Activated != 3 || st.Stale != 1 {
		t.Errorf("stats %+v", st)
	}
	if _, _, err := pub.Publish(ctx, linearModel(t, "m", 4, 2, 4)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "v4 live", func() bool { r, _ := srv.Current("m"); return r.Version == 4 })
	// The observer sees a message after it is handled: v4 can be live a
	// moment before its event arrives.
	waitFor(t, "the fifth event", func() bool { mu.Lock(); defer mu.Unlock(); return len(events) >= 5 })
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 5 {
		t.Fatalf("%d events, want 5", len(events))
	}
	for i, e := range events {
		if e.Offset != int64(i) || e.Partition != 0 {
			t.Errorf("event %d at %d/%d", i, e.Partition, e.Offset)
		}
	}
	if events[3].Outcome != kafka.Stale || !errors.Is(events[3].Err, serving.ErrStaleVersion) {
		t.Errorf("event 3: %+v", events[3])
	}
}

// TestFeedBadModels: corrupt, unknown-format, oversized, checksum-failing
// and headerless messages are rejected, counted, and the old model keeps
// serving.
func TestFeedBadModels(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	pub := publisher(t, c)
	ctx := context.Background()
	if _, _, err := pub.Publish(ctx, linearModel(t, "m", 1, 2, 1)); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t)
	var mu sync.Mutex
	var events []kafka.FeedEvent
	feed := runFeed(t, c.Addrs(), srv, kafka.MaxBytes(4096), kafka.Observer(func(e kafka.FeedEvent) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}))
	send := func(value []byte, headers ...string) {
		t.Helper()
		msg := kafkatest.Message{Key: []byte("m"), Value: value}
		for i := 0; i < len(headers); i += 2 {
			msg.Headers = append(msg.Headers, wire.Header{Key: []byte(headers[i]), Value: []byte(headers[i+1])})
		}
		c.Produce(t, kafka.DefaultModelsTopic, msg)
	}
	good := linearModel(t, "m", 9, 2, 9).Bytes
	send([]byte(`{"kind":"linear","features":2,"weights":[[1`), wire.HeaderFormat, "linear", wire.HeaderVersion, "2") // corrupt
	send(good, wire.HeaderFormat, "pmml", wire.HeaderVersion, "3")                                                    // unknown format
	send(make([]byte, 5000), wire.HeaderFormat, "linear", wire.HeaderVersion, "4")                                    // oversized
	send(good, wire.HeaderFormat, "linear", wire.HeaderVersion, "5", wire.HeaderSHA256, serving.ContentID([]byte("other")))
	send(good) // no headers at all
	send(good, wire.HeaderFormat, "linear", wire.HeaderVersion, "v6")
	waitFor(t, "6 events", func() bool { mu.Lock(); defer mu.Unlock(); return len(events) == 7 })

	want := []struct {
		outcome kafka.Outcome
		err     error
	}{
		{kafka.Activated, nil},
		{kafka.Rejected, serving.ErrCorruptModel},
		{kafka.Rejected, serving.ErrUnknownFormat},
		{kafka.Malformed, serving.ErrTooLarge},
		{kafka.Rejected, serving.ErrChecksum},
		{kafka.Malformed, wire.ErrMalformed},
		{kafka.Malformed, wire.ErrMalformed},
	}
	mu.Lock()
	for i, w := range want {
		e := events[i]
		if e.Outcome != w.outcome || (w.err != nil && !errors.Is(e.Err, w.err)) {
			t.Errorf("message %d: %v (%v), want %v (%v)", i, e.Outcome, e.Err, w.outcome, w.err)
		}
	}
	mu.Unlock()
	if ref, _ := srv.Current("m"); ref.Version != 1 {
		t.Errorf("live is %v, want v1 still", ref)
	}
	if got := score(t, srv, "m", 2, 5).Value; got != 2 {
		t.Errorf("v1 scored %v, want 2", got)
	}
	if st := feed.Stats(); st.Rejected != 3 || st.Malformed != 3 || st.Activated != 1 {
		t.Errorf("stats %+v", st)
	}
	// The feed keeps going after bad messages.
	// No version: 1 + the highest version of any earlier well-formed
	// message for the name, rejected or not (v5), not live + 1.
	send(good, wire.HeaderFormat, "linear")
	waitFor(t, "v6 live", func() bool { r, _ := srv.Current("m"); return r.Version == 6 })
	if got := score(t, srv, "m", 2, 5).Value; got != 18 {
		t.Errorf("v6 scored %v, want 18", got)
	}
}

// TestFeedAdmissionAndLocation: a model given by file:// Location is
// fetched, every model the feed reads goes through the Server's
// admission, and a refused model never becomes live.
func TestFeedAdmissionAndLocation(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	pub := publisher(t, c)
	ctx := context.Background()
	d1 := servingtest.Spec{Value: 1}.Descriptor("m", 1)
	path := filepath.Join(t.TempDir(), "m.json")
	if err := os.WriteFile(path, d1.Bytes, 0o600); err != nil {
		t.Fatal(err)
	}
	d1.Location, d1.Bytes = "file://"+path, nil
	if _, _, err := pub.Publish(ctx, d1); err != nil {
		t.Fatal(err)
	}
	d2 := servingtest.Spec{Value: 2}.Descriptor("m", 2)
	d2.Labels = map[string]string{"trusted": "no"}
	if _, _, err := pub.Publish(ctx, d2); err != nil {
		t.Fatal(err)
	}
	errUntrusted := errors.New("untrusted")
	var seen []serving.Descriptor
	srv := newServer(t, serving.WithLoadOptions(serving.LoadOptions{AllowLocations: []string{"file://" + filepath.Dir(path) + "/"}}),
		serving.WithAdmission(serving.AdmitterFunc(func(_ context.Context, d serving.Descriptor) error {
			seen = append(seen, d)
			if d.Labels["trusted"] == "no" {
				return errUntrusted
			}
			return nil
		})))
	feed := runFeed(t, c.Addrs(), srv)
	if ref, _ := srv.Current("m"); ref.Version != 1 {
		t.Fatalf("live %v, want v1", ref)
	}
	if got := score(t, srv, "m", 0).Value; got != 1 {
		t.Errorf("v1, fetched from its Location, scored %v, want 1", got)
	}
	if len(seen) != 2 || seen[0].Location == "" {
		t.Errorf("admission saw %+v", seen)
	}
	if st := feed.Stats(); st.Rejected != 1 || st.Activated != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestFeedStartOffsets: a feed resumed past the first message never sees it.
func TestFeedStartOffsets(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	pub := publisher(t, c)
	ctx := context.Background()
	pub.Publish(ctx, linearModel(t, "a", 1, 1, 1))
	pub.Publish(ctx, linearModel(t, "b", 1, 1, 1))
	srv := newServer(t)
	runFeed(t, c.Addrs(), srv, kafka.StartOffsets(map[int32]int64{0: 1}))
	if _, ok := srv.Current("a"); ok {
		t.Error("model a, before the start offset, is live")
	}
	if _, ok := srv.Current("b"); !ok {
		t.Error("model b is not live")
	}
	// Resuming at the end catches up at once.
	srv2 := newServer(t)
	runFeed(t, c.Addrs(), srv2, kafka.StartOffsets(map[int32]int64{0: 2}))
	if len(srv2.Models()) != 0 {
		t.Errorf("models %v", srv2.Models())
	}
}

func TestFeedConfig(t *testing.T) {
	srv := newServer(t)
	cfg := config(t, []string{"x:1"})
	for _, tc := range []struct {
		cfg  *kafka.Config
		srv  *serving.Server
		opts []kafka.FeedOption
	}{
		{nil, srv, nil},
		{cfg, nil, nil},
		{cfg, srv, []kafka.FeedOption{kafka.Topic("")}},
		{cfg, srv, []kafka.FeedOption{kafka.MaxBytes(0)}},
		{cfg, srv, []kafka.FeedOption{kafka.StartOffsets(map[int32]int64{0: -2})}},
		{cfg, srv, []kafka.FeedOption{kafka.Observer(func(kafka.FeedEvent) {}), kafka.Observer(nil)}},
		// Two StartOffsets that disagree on a partition: the last one
		// given won in silence before.
		{cfg, srv, []kafka.FeedOption{kafka.StartOffsets(map[int32]int64{0: 5}), kafka.StartOffsets(map[int32]int64{0: 7})}},
		{cfg, srv, []kafka.FeedOption{kafka.StartOffsets(map[int32]int64{0: 5}), kafka.StartOffsets(nil)}},
		{cfg, srv, []kafka.FeedOption{kafka.StartOffsets(map[int32]int64{0: 5}), kafka.StartOffsets(map[int32]int64{1: 5})}},
		{cfg, srv, []kafka.FeedOption{kafka.StartOffsets(nil), kafka.StartOffsets(map[int32]int64{3: 1}), kafka.StartOffsets(nil)}},
	} {
		if _, err := kafka.NewModelFeed(tc.cfg, tc.srv, tc.opts...); !errors.Is(err, serving.ErrConfig) {
			t.Errorf("%v: got %v, want ErrConfig", tc, err)
		}
	}
}

// TestFeedStartOffsetsThatAgree: StartOffsets given twice with the same
// start for every partition, a partition left out counting as offset 0,
// is accepted.
func TestFeedStartOffsetsThatAgree(t *testing.T) {
	srv := newServer(t)
	cfg := config(t, []string{"x:1"})
	for _, opts := range [][]kafka.FeedOption{
		{kafka.StartOffsets(map[int32]int64{0: 5, 1: 2}), kafka.StartOffsets(map[int32]int64{1: 2, 0: 5})},
		{kafka.StartOffsets(map[int32]int64{0: 5, 1: 0}), kafka.StartOffsets(map[int32]int64{0: 5})},
		{kafka.StartOffsets(nil), kafka.StartOffsets(map[int32]int64{})},
	} {
		if _, err := kafka.NewModelFeed(cfg, srv, opts...); err != nil {
			t.Errorf("%v: %v", opts, err)
		}
	}
}

// TestFeedAdmissionBeforeFetch: a message the Server's admission refuses
// is never fetched from its Location, and the live model keeps serving.
func TestFeedAdmissionBeforeFetch(t *testing.T) {
	var fetches atomic.Int64
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		w.Write([]byte(`{"value": 9}`))
	}))
	defer web.Close()
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	pub := publisher(t, c)
	ctx := context.Background()
	if _, _, err := pub.Publish(ctx, servingtest.Spec{Value: 1}.Descriptor("m", 1)); err != nil {
		t.Fatal(err)
	}
	remote := serving.Descriptor{Name: "m", Version: 2, Format: servingtest.FormatName, Location: web.URL + "/model.json"}
	if _, _, err := pub.Publish(ctx, remote); err != nil {
		t.Fatal(err)
	}
	errUnsigned := errors.New("unsigned")
	var prechecked []serving.Descriptor
	srv := newServer(t, serving.WithAdmission(serving.AdmitterFunc(func(_ context.Context, d serving.Descriptor) error {
		prechecked = append(prechecked, d)
		if d.Location != "" {
			return errUnsigned
		}
		return nil
	})))
	feed := runFeed(t, c.Addrs(), srv)
	if n := fetches.Load(); n != 0 {
		t.Errorf("the refused model was fetched %d times", n)
	}
	if len(prechecked) != 2 || len(prechecked[1].Bytes) != 0 {
		t.Errorf("admission saw %d messages; the second should have no bytes yet", len(prechecked))
	}
	if ref, _ := srv.Current("m"); ref.Version != 1 {
		t.Fatalf("live %v, want v1", ref)
	}
	if st := feed.Stats(); st.Rejected != 1 || st.Activated != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestFeedStartOffsetsOutOfRange: a start offset the topic no longer
// holds (below the low-water mark after retention or DeleteRecords, or
// past the high-water mark after the topic was recreated) resets to the
// oldest offset, as auto.offset.reset=earliest would, instead of failing
// Run; and a partition emptied by retention counts as caught up.
func TestFeedStartOffsetsOutOfRange(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1), kafkatest.Topic("empty", 1))
	pub := publisher(t, c)
	ctx := context.Background()
	for _, name := range []string{"a", "b", "c"} {
		if _, _, err := pub.Publish(ctx, linearModel(t, name, 1, 1, 1)); err != nil {
			t.Fatal(err)
		}
	}
	admin, err := sarama.NewClusterAdmin(c.Addrs(), sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.DeleteRecords(kafka.DefaultModelsTopic, map[int32]int64{0: 1}); err != nil {
		t.Fatal(err)
	}
	for _, start := range []int64{0, 10} {
		srv := newServer(t)
		runFeed(t, c.Addrs(), srv, kafka.StartOffsets(map[int32]int64{0: start}))
		if _, ok := srv.Current("a"); ok {
			t.Errorf("start %d: model a, deleted, is live", start)
		}
		for _, name := range []string{"b", "c"} {
			if _, ok := srv.Current(name); !ok {
				t.Errorf("start %d: model %s is not live", start, name)
			}
		}
	}

	// A partition whose every record was deleted: nothing to wait for.
	pubEmpty, err := kafka.NewPublisher(ctx, config(t, c.Addrs()), kafka.Topic("empty"))
	if err != nil {
		t.Fatal(err)
	}
	defer pubEmpty.Close()
	for range 2 {
		if _, _, err := pubEmpty.Publish(ctx, linearModel(t, "gone", 1, 1, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := admin.DeleteRecords("empty", map[int32]int64{0: 2}); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t)
	runFeed(t, c.Addrs(), srv, kafka.Topic("empty"))
	if len(srv.Models()) != 0 {
		t.Errorf("models %v", srv.Models())
	}
}

// TestFeedNumbersVersionlessMessagesByTheTopic: two instances read the
// same models topic, and one of them rejects a model the other accepts.
// A later message without a version still gets the same number on both,
// so that a version names the same model everywhere.
func TestFeedNumbersVersionlessMessagesByTheTopic(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	pub := publisher(t, c)
	ctx := context.Background()
	for i, scale := range []float64{1, 2, 3} {
		d := linearModel(t, "m", 0, 2, scale) // no version
		d.Labels = map[string]string{"n": strconv.Itoa(i + 1)}
		if _, _, err := pub.Publish(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	errPolicy := errors.New("refused by this instance's policy")
	picky := newServer(t, serving.WithAdmission(serving.AdmitterFunc(func(_ context.Context, d serving.Descriptor) error {
		if d.Labels["n"] == "2" {
			return errPolicy
		}
		return nil
	})))
	lenient := newServer(t)
	runFeed(t, c.Addrs(), picky)
	runFeed(t, c.Addrs(), lenient)
	for _, srv := range []*serving.Server{picky, lenient} {
		ref, ok := srv.Current("m")
		if !ok || ref.Version != 3 {
			t.Fatalf("live %v, want v3 on both instances", ref)
		}
		if got := score(t, srv, "m", 5, 0).Value; got != 15 {
			t.Errorf("v3 scored %v, want 15 (the third model)", got)
		}
	}
	a, _ := picky.Current("m")
	b, _ := lenient.Current("m")
	if a.ID != b.ID {
		t.Errorf("v3 names different models: %s and %s", a.ID, b.ID)
	}
}
