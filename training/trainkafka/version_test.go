package trainkafka_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
	"github.com/modelstream/modelstream/training"
	"github.com/modelstream/modelstream/training/trainkafka"
)

// seedVersions publishes versions 1..n of name, each a linear model the
// child of the one before, and returns them.
func seedVersions(t *testing.T, brokers []string, topic, name string, n int) []serving.Descriptor {
	t.Helper()
	pub, err := kafka.NewPublisher(t.Context(), testConfig(t, brokers), kafka.Topic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	l, _ := training.NewLearner(training.Linear, 2)
	var out []serving.Descriptor
	parent := ""
	for v := 1; v <= n; v++ {
		for i := 0; i < 10; i++ {
			l.Learn(training.Sample{Features: []float64{float64(i), float64(v)}, Target: float64(i * v)})
		}
		d, err := l.Snapshot(name, parent)
		if err != nil {
			t.Fatal(err)
		}
		d.Version = uint64(v)
		if _, _, err := pub.Publish(context.Background(), d); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
		parent = d.SHA256
	}
	return out
}

// TestRestartWithoutCheckpointOverKafka: the models topic already holds
// v1..v3 of "line" from an earlier trainer, and a ModelFeed serves v3. A
// trainer started without a checkpoint publishes v4, the child of v3,
// and the feed activates it (before the fix it published v1, which the
// feed skipped as stale).
func TestRestartWithoutCheckpointOverKafka(t *testing.T) {
	cluster := kafkatest.New(t, kafkatest.Topic("training", 1), kafkatest.Topic("models", 1))
	brokers := cluster.Addrs()
	old := seedVersions(t, brokers, "models", "line", 3)
	produce(t, brokers, "training", 1000)

	srv, _ := serving.NewServer(serving.WithLogger(quiet))
	defer srv.Close()
	events := make(chan kafka.FeedEvent, 16)
	feed, err := kafka.NewModelFeed(testConfig(t, brokers), srv, kafka.Observer(func(e kafka.FeedEvent) { events <- e }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go feed.Run(ctx)
	for i := 0; i < 3; i++ {
		if e := <-events; e.Outcome != kafka.Activated {
			t.Fatalf("seeded v%d: %v (%v)", i+1, e.Outcome, e.Err)
		}
	}

	src, err := trainkafka.NewSource(t.Context(), testConfig(t, brokers), "trainer", trainkafka.Topics("training"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	pub, err := trainkafka.NewPublisher(t.Context(), testConfig(t, brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	l, _ := training.NewLearner(training.Linear, 2)
	published := make(chan serving.Descriptor, 4)
	tr, err := training.NewTrainer("line", l, src, pub, training.EveryRecords(1000), training.WithLogger(quiet),
		training.WithObserver(func(e training.Event) {
			if e.Kind == training.EventPublished {
				published <- e.Descriptor
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- tr.Run(runCtx) }()
	// The deadlines only keep a regression from hanging the test run.
	var d serving.Descriptor
	select {
	case d = <-published:
	case err := <-done:
		t.Fatalf("trainer stopped before publishing: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatalf("nothing published; trainer %+v, source %+v", tr.Stats(), src.Stats())
	}
	if d.Version != 4 || d.Parent != old[2].SHA256 || d.Labels[training.LabelParentVersion] != "3" {
		t.Errorf("published v%d parent %.8q (label %q), want v4, child of v3 %.8q", d.Version, d.Parent, d.Labels[training.LabelParentVersion], old[2].SHA256)
	}
	select {
	case e := <-events:
		if e.Outcome != kafka.Activated || e.Model.Version != d.Version || e.Model.ID != d.SHA256 {
			t.Errorf("the feed's verdict on the restarted trainer's version: %v %v (%v)", e.Outcome, e.Model, e.Err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the feed never saw the new version")
	}
	if ref, _ := srv.Current("line"); ref.Version != 4 || ref.ID != d.SHA256 {
		t.Errorf("serving %v, want the restarted trainer's v4", ref)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// rawModel is a model message written by hand, as another tool would.
func rawModel(topic, name, version, sha string, value string) *sarama.ProducerMessage {
	h := []sarama.RecordHeader{{Key: []byte(wire.HeaderFormat), Value: []byte("linear")}}
	if version != "" {
		h = append(h, sarama.RecordHeader{Key: []byte(wire.HeaderVersion), Value: []byte(version)})
	}
	if sha != "" {
		h = append(h, sarama.RecordHeader{Key: []byte(wire.HeaderSHA256), Value: []byte(sha)})
	}
	return &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(name), Value: sarama.StringEncoder(value), Headers: h}
}

// LatestVersion reads every partition, keeps to its name, skips what
// does not decode, numbers unversioned messages as a feed does, and
// takes the content ID from the bytes when the header is absent.
func TestLatestVersion(t *testing.T) {
	cluster := kafkatest.New(t, kafkatest.Topic("models", 3), kafkatest.Topic("empty", 2))
	brokers := cluster.Addrs()
	ctx := context.Background()
	cfg := sarama.NewConfig()
	cfg.Version = kafka.DefaultVersion
	cfg.Producer.Return.Successes = true
	prod, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	badVersion := rawModel("models", "a", "x", "", "{}")
	noFormat := rawModel("models", "a", "50", "", "{}")
	noFormat.Headers = noFormat.Headers[1:]
	msgs := []*sarama.ProducerMessage{
		rawModel("models", "a", "1", "s1", "one"),
		rawModel("models", "b", "70", "s70", "seventy"),
		rawModel("models", "a", "2", "s2", "two"),
		badVersion, noFormat, // malformed: skipped
		rawModel("models", "a", "", "", "three"),  // unversioned: 3, id from the bytes
		rawModel("models", "a", "1", "s1", "one"), // an old version again
	}
	for _, m := range msgs {
		if _, _, err := prod.SendMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]serving.ModelRef{
		"a": {Name: "a", Version: 3, ID: serving.ContentID([]byte("three")), Format: "linear"},
		"b": {Name: "b", Version: 70, ID: "s70", Format: "linear"},
		"c": {},
	}
	for name, w := range want {
		got, err := trainkafka.LatestVersion(ctx, testConfig(t, brokers), "models", name)
		if err != nil || got != w {
			t.Errorf("LatestVersion(%q) = %+v, %v; want %+v", name, got, err, w)
		}
	}
	for _, topic := range []string{"empty", "never-created"} {
		if got, err := trainkafka.LatestVersion(ctx, testConfig(t, brokers), topic, "a"); err != nil || got.Version != 0 {
			t.Errorf("topic %q: %+v, %v; want nothing and no error", topic, got, err)
		}
	}
	// The lookup must not create the topic it asked about.
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if topics, _ := client.Topics(); len(topics) != 2 {
		t.Errorf("topics after the lookups: %v", topics)
	}

	// A ModelPublisher answers the same, on its own topic.
	pub, err := trainkafka.NewPublisher(t.Context(), testConfig(t, brokers), kafka.Topic("models"))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if got, err := pub.LatestVersion(ctx, "b"); err != nil || got != want["b"] {
		t.Errorf("Publisher.LatestVersion = %+v, %v", got, err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := trainkafka.LatestVersion(cctx, testConfig(t, brokers), "models", "a"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
	kcfg := testConfig(t, brokers)
	for i, c := range []struct {
		cfg         *kafka.Config
		topic, name string
	}{{nil, "models", "a"}, {kcfg, "", "a"}, {kcfg, "models", ""}} {
		if _, err := trainkafka.LatestVersion(ctx, c.cfg, c.topic, c.name); !errors.Is(err, serving.ErrConfig) {
			t.Errorf("case %d: %v, want serving.ErrConfig", i, err)
		}
	}
	if _, err := trainkafka.NewPublisher(t.Context(), nil); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("NewPublisher(nil): %v, want serving.ErrConfig", err)
	}
	if _, err := trainkafka.NewPublisher(t.Context(), kcfg, kafka.Topic("")); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("NewPublisher with an empty topic: %v, want serving.ErrConfig", err)
	}
}

// A models topic too big to fit one fetch is still read to its end.
func TestLatestVersionManyMessages(t *testing.T) {
	cluster := kafkatest.New(t, kafkatest.Topic("models", 1))
	brokers := cluster.Addrs()
	cfg := sarama.NewConfig()
	cfg.Version = kafka.DefaultVersion
	cfg.Producer.Return.Successes = true
	prod, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var msgs []*sarama.ProducerMessage
	big := string(make([]byte, 64<<10))
	for v := 1; v <= 40; v++ {
		msgs = append(msgs, rawModel("models", "m", strconv.Itoa(v), fmt.Sprint("s", v), big))
	}
	if err := prod.SendMessages(msgs); err != nil {
		t.Fatal(err)
	}
	got, err := trainkafka.LatestVersion(context.Background(), testConfig(t, brokers, kafka.Sarama(func(c *sarama.Config) { c.Consumer.Fetch.Default = 128 << 10 })), "models", "m")
	if err != nil || got.Version != 40 || got.ID != "s40" {
		t.Errorf("LatestVersion = %+v, %v; want v40", got, err)
	}
}

// A models topic written by a transactional producer (a JVM trainer with
// transactional.id set, which the ModelFeed supports) ends with a commit
// marker: an offset that holds no message, so the consumer never
// delivers the high-water mark minus one. LatestVersion waited for it
// until ctx ended, and a Trainer's Run, whose rebase uses Run's context,
// never started. It now finds v2, and ignores the version of an aborted
// transaction.
func TestLatestVersionAfterTransactions(t *testing.T) {
	cluster := kafkatest.New(t, kafkatest.Topic("models", 1))
	brokers := cluster.Addrs()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Transaction.ID = "jvm-trainer"
	prod, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	send := func(version string, commit bool) {
		t.Helper()
		if err := prod.BeginTxn(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := prod.SendMessage(rawModel("models", "m", version, "", `{"kind":"linear"}`)); err != nil {
			t.Fatal(err)
		}
		if commit {
			err = prod.CommitTxn()
		} else {
			err = prod.AbortTxn()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	send("1", true)
	send("2", true)
	send("9", false) // aborted: a read_committed feed never sees it
	send("2", true)  // ends with a commit marker again
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ref, err := trainkafka.LatestVersion(ctx, testConfig(t, brokers), "models", "m")
	if err != nil {
		t.Fatalf("LatestVersion: %v", err)
	}
	if ref.Version != 2 {
		t.Errorf("LatestVersion = %v, want version 2", ref)
	}
}
