package kafkafeed_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelstream/modelstream/governance"
	"github.com/modelstream/modelstream/registry"
	"github.com/modelstream/modelstream/registry/bolt"
	"github.com/modelstream/modelstream/registry/kafkafeed"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

var (
	quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
	key   = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32))
)

func signed(t *testing.T, value float64, version uint64) serving.Descriptor {
	t.Helper()
	d, err := governance.Sign(key, servingtest.Spec{Value: value}.Descriptor("fraud", version))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// instance is one scoring process: a durable store, a Server that the
// store follows, a verifier, and a model feed resuming from the store.
type instance struct {
	store    *registry.Registry
	follower *registry.Follower
	srv      *serving.Server
	sync     *kafkafeed.Sync
	feed     *kafka.ModelFeed
	restored []serving.ModelRef
	observed atomic.Int64
	cancel   context.CancelFunc
	done     chan error
}

func start(t *testing.T, path string, brokers []string) *instance {
	t.Helper()
	ctx := context.Background()
	in := &instance{done: make(chan error, 1)}
	var err error
	st, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if in.store, err = registry.New(st); err != nil {
		t.Fatal(err)
	}
	in.follower = registry.Follow(in.store, quiet)
	audit, _ := governance.NewAudit(governance.AuditLogger(quiet))
	v, err := governance.NewVerifier(
		governance.TrustKeys(key.Public().(ed25519.PublicKey)),
		governance.RequireSignature(),
		governance.ReplayFrom(in.store),
		governance.WithAudit(audit),
	)
	if err != nil {
		t.Fatal(err)
	}
	if in.sync, err = kafkafeed.New(in.store, kafkafeed.Logger(quiet),
		kafkafeed.Observer(func(kafka.FeedEvent) { in.observed.Add(1) })); err != nil {
		t.Fatal(err)
	}
	// The verifier first, then the Sync: only admitted models are stored.
	if in.srv, err = serving.NewServer(serving.WithLogger(quiet), serving.WithHooks(in.follower),
		serving.WithAdmission(v), serving.WithAdmission(in.sync)); err != nil {
		t.Fatal(err)
	}
	if in.restored, err = registry.Restore(ctx, in.store, in.srv); err != nil {
		t.Fatal(err)
	}
	opts, err := in.sync.FeedOptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if in.feed, err = kafka.NewModelFeed(testConfig(t, brokers), in.srv, opts...); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	in.cancel = cancel
	go func() { in.done <- in.feed.Run(rctx) }()
	select {
	case <-in.feed.CaughtUp():
	case err := <-in.done:
		t.Fatalf("feed ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("feed did not catch up in 30s")
	}
	return in
}

// stop shuts the instance down gracefully, keeping the Server's Close out
// of the activation history.
func (in *instance) stop(t *testing.T) {
	t.Helper()
	in.cancel()
	if err := <-in.done; err != nil {
		t.Fatal(err)
	}
	in.srv.Close() // a shutdown, not a retirement: the history survives
	if err := in.store.Close(); err != nil {
		t.Fatal(err)
	}
}

func waitLive(t *testing.T, srv *serving.Server, version uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if ref, _ := srv.Current("fraud"); ref.Version == version {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	ref, _ := srv.Current("fraud")
	t.Fatalf("live is %v, want v%d", ref, version)
}

// TestRestartResumesFromTheStore runs an instance over the embedded
// broker, stops it, publishes while it is down, and restarts it: the
// restarted instance serves its previous model before reading anything,
// then reads only the messages published since, and a forged message is
// neither stored nor served.
func TestRestartResumesFromTheStore(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Kafka cluster")
	}
	ctx := context.Background()
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	pub, err := kafka.NewPublisher(ctx, testConfig(t, c.Addrs()))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	publish := func(d serving.Descriptor) {
		t.Helper()
		if _, _, err := pub.Publish(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "registry.db")

	publish(signed(t, 1, 1))
	publish(signed(t, 2, 2))
	a := start(t, path, c.Addrs())
	waitLive(t, a.srv, 2)
	if st := a.feed.Stats(); st.Read != 2 || st.Activated != 2 {
		t.Fatalf("first run: %+v", st)
	}
	vs, err := a.store.List(ctx, "fraud")
	if err != nil || len(vs) != 2 {
		t.Fatalf("stored %v, %v", vs, err)
	}
	if offs, _ := a.store.Offsets(ctx, kafka.DefaultModelsTopic); offs[0] != 2 {
		t.Fatalf("offsets %v, want partition 0 at 2", offs)
	}
	a.stop(t)

	// While the instance is down: a forged model (signed by another
	// key), then a real v3.
	forged, _ := governance.Sign(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32)), servingtest.Spec{Value: 666}.Descriptor("fraud", 3))
	publish(forged)
	publish(signed(t, 3, 3))

	b := start(t, path, c.Addrs())
	defer b.stop(t)
	if len(b.restored) != 1 || b.restored[0].Version != 2 {
		t.Fatalf("restored %v, want fraud@v2", b.restored)
	}
	waitLive(t, b.srv, 3)
	st := b.feed.Stats()
	if st.Read != 2 || st.Rejected != 1 || st.Activated != 1 {
		t.Fatalf("second run read the topic again or mishandled it: %+v", st)
	}
	if n := b.observed.Load(); n != 2 {
		t.Fatalf("chained observer saw %d events, want 2", n)
	}
	res, err := b.srv.Model("fraud").Score(ctx, serving.Record{})
	if err != nil || res.Value != 3 {
		t.Fatalf("score = %v, %v", res, err)
	}
	vs, _ = b.store.List(ctx, "fraud")
	if len(vs) != 3 {
		t.Fatalf("%d versions stored, want 3", len(vs))
	}
	if d, err := b.store.Get(ctx, "fraud", 3); err != nil || d.SHA256 != signed(t, 3, 3).SHA256 {
		t.Fatalf("stored v3 is %v (%v), not the signed one", d.Ref(), err)
	}
	if offs, _ := b.store.Offsets(ctx, kafka.DefaultModelsTopic); offs[0] != 4 {
		t.Fatalf("offsets %v, want partition 0 at 4", offs)
	}
	if ref, err := b.store.At(ctx, "fraud", time.Now()); err != nil || ref.Version != 3 {
		t.Fatalf("At(now) = %v, %v", ref, err)
	}
	if n, err := b.sync.Failures(); n != 0 {
		t.Fatalf("store failures: %d, %v", n, err)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := kafkafeed.New(nil); !errors.Is(err, serving.ErrConfig) {
		t.Fatalf("nil store: %v", err)
	}
	m, _ := registry.NewMemory()
	if _, err := kafkafeed.New(m, kafkafeed.Topic("")); !errors.Is(err, serving.ErrConfig) {
		t.Fatalf("empty topic: %v", err)
	}
	if _, err := kafkafeed.New(m, kafkafeed.Observer(nil)); !errors.Is(err, serving.ErrConfig) {
		t.Fatalf("nil observer: %v", err)
	}
	// An Admitter before the Sync that refuses keeps the model out of the
	// store.
	boom := errors.New("no")
	s, _ := kafkafeed.New(m)
	srv, _ := serving.NewServer(serving.WithLogger(quiet),
		serving.WithAdmission(serving.AdmitterFunc(func(context.Context, serving.Descriptor) error { return boom })),
		serving.WithAdmission(s))
	defer srv.Close()
	if _, err := srv.Activate(context.Background(), servingtest.Spec{}.Descriptor("m", 1)); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if _, err := m.Resolve(context.Background(), "m", registry.Latest); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("rejected model was stored: %v", err)
	}
}

// testConfig returns a Config for brokers that logs nowhere.
func testConfig(t testing.TB, brokers []string) *kafka.Config {
	t.Helper()
	cfg, err := kafka.NewConfig(brokers, kafka.Logger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestGarbageVersionDoesNotBlockTheGoodOne: a validly signed message
// whose bytes do not load, at v2, is neither stored nor remembered as
// seen, so the good v2 published after it goes live and is the one
// stored. Before, the Sync stored the garbage at admission and the
// good copy was refused as a version conflict, and the verifier called
// it a replay.
func TestGarbageVersionDoesNotBlockTheGoodOne(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Kafka cluster")
	}
	ctx := context.Background()
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	pub, err := kafka.NewPublisher(ctx, testConfig(t, c.Addrs()))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	garbage, err := governance.Sign(key, serving.Descriptor{Name: "fraud", Version: 2, Format: servingtest.FormatName, Bytes: []byte("{not a model")})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []serving.Descriptor{signed(t, 1, 1), garbage, signed(t, 2, 2)} {
		if _, _, err := pub.Publish(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	a := start(t, filepath.Join(t.TempDir(), "registry.db"), c.Addrs())
	defer a.stop(t)
	waitLive(t, a.srv, 2)
	res, err := a.srv.Model("fraud").Score(ctx, serving.Record{})
	if err != nil || res.Value != 2 {
		t.Fatalf("score = %v, %v; want the good v2", res, err)
	}
	d, err := a.store.Get(ctx, "fraud", 2)
	if err != nil || d.SHA256 != signed(t, 2, 2).SHA256 {
		t.Fatalf("stored v2 is %v (%v), not the good one", d.Ref(), err)
	}
	if st := a.feed.Stats(); st.Rejected != 1 || st.Activated != 2 {
		t.Fatalf("feed stats %+v, want 1 rejected and 2 activated", st)
	}
}
