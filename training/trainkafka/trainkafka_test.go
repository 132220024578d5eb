package trainkafka_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/training"
	"github.com/modelstream/modelstream/training/trainkafka"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// produce writes n CSV records "x0,x1,y" of the concept y = 2·x0 - x1 + 1
// (plus noise), and one poison record, to topic.
func produce(t *testing.T, brokers []string, topic string, n int) {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = kafka.DefaultVersion
	cfg.Producer.Return.Successes = true
	p, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r := rand.New(rand.NewPCG(1, 2))
	var msgs []*sarama.ProducerMessage
	for i := 0; i < n; i++ {
		x0, x1 := r.NormFloat64()*10, r.NormFloat64()
		y := 2*x0 - x1 + 1 + 0.1*r.NormFloat64()
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(fmt.Sprintf("%g,%g,%g", x0, x1, y))})
		if i == n/2 {
			msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder("not,a,number")})
		}
	}
	if err := p.SendMessages(msgs); err != nil {
		t.Fatal(err)
	}
}

// TestTrainerOverKafka trains from a data topic through a consumer
// group, publishes to the models topic, and a ModelFeed hot-swaps the
// versions into a Server, whose final model predicts exactly what the
// learner predicts.
func TestTrainerOverKafka(t *testing.T) {
	cluster := kafkatest.New(t, kafkatest.Topic("training", 1), kafkatest.Topic("models", 1))
	brokers := cluster.Addrs()
	produce(t, brokers, "training", 3000)

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
	srv, _ := serving.NewServer(serving.WithLogger(quiet))
	defer srv.Close()
	feed, err := kafka.NewModelFeed(testConfig(t, brokers), srv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go feed.Run(ctx)

	l, _ := training.NewLearner(training.Linear, 2)
	var mu sync.Mutex
	var last serving.Descriptor
	tr, err := training.NewTrainer("line", l, src, pub, training.EveryRecords(1000),
		training.WithLogger(quiet),
		training.WithObserver(func(e training.Event) {
			if e.Kind == training.EventPublished {
				mu.Lock()
				last = e.Descriptor
				mu.Unlock()
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- tr.Run(runCtx) }()
	// Wait until the three versions are live in the server, and the
	// trainer has seen the third published and committed after it: the
	// feed may activate a version before Publish has returned to the
	// trainer.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		published := last.Version
		mu.Unlock()
		if ref, ok := srv.Current("line"); ok && ref.Version == 3 && published == 3 && src.Stats().Commits >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("version 3 never went live; trainer stats %+v, source %+v", tr.Stats(), src.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := src.Stats(); st.Delivered != 3000 || st.Skipped != 1 || st.Commits < 3 {
		t.Errorf("source stats %+v, want 3000 delivered, 1 skipped, at least 3 commits", st)
	}
	if last.Version != 3 || last.Labels[training.LabelRecords] != "3000" {
		t.Errorf("last version %d labels %v", last.Version, last.Labels)
	}
	for _, x := range [][]float64{{1, 2}, {-5, 0.3}} {
		want, _ := l.Predict(x)
		got, err := srv.Model("line").Score(ctx, serving.Record{Features: x})
		if err != nil || math.Float64bits(got.Value) != math.Float64bits(want.Value) {
			t.Errorf("served %v (%v), learner %v", got.Value, err, want.Value)
		}
		if math.Abs(got.Value-(2*x[0]-x[1]+1)) > 0.1 {
			t.Errorf("served %v at %v, concept says %v", got.Value, x, 2*x[0]-x[1]+1)
		}
	}
}

// crashAfter fails Next after n samples, as a process crash would stop
// the trainer without a checkpoint or commit. Its Commit refuses to
// commit while no checkpoint exists at ckpt: a trainer keeping
// checkpoints commits only what a saved one holds.
type crashAfter struct {
	*trainkafka.Source
	n    int
	ckpt string
}

func (c *crashAfter) Commit(ctx context.Context) error {
	if err := checkpointSaved(c.ckpt); err != nil {
		return err
	}
	return c.Source.Commit(ctx)
}

// checkpointSaved fails when no checkpoint was saved at path.
func checkpointSaved(path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("commit with no checkpoint saved: %w", err)
	}
	return nil
}

var errCrash = errors.New("simulated crash")

func (c *crashAfter) Next(ctx context.Context) (training.Sample, error) {
	if c.n == 0 { // never, for a negative n
		return training.Sample{}, errCrash
	}
	c.n--
	return c.Source.Next(ctx)
}

// TestResumeAfterCrashOverKafka crashes a trainer between checkpoints,
// restarts it in the same consumer group from its checkpoint, and checks
// that it ends bit-identical to a trainer that never crashed.
func TestResumeAfterCrashOverKafka(t *testing.T) {
	cluster := kafkatest.New(t, kafkatest.Topic("training", 1))
	brokers := cluster.Addrs()
	produce(t, brokers, "training", 2000)
	dir := t.TempDir()
	nopPub := training.PublisherFunc(func(context.Context, serving.Descriptor) error { return nil })

	run := func(group, path string, crash int) (*training.Learner, error) {
		n := left(t, brokers, group, "training")
		src, err := trainkafka.NewSource(t.Context(), testConfig(t, brokers), group, trainkafka.Topics("training"))
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		s := &crashAfter{src, crash, path}
		l, _ := training.NewLearner(training.Linear, 2)
		tr, err := training.NewTrainer("line", l, s, nopPub, training.WithCheckpoint(path, 300), training.WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		// Stop once the source has handed out every record after the
		// group's commit: a trainer that resumed right has then learned
		// all 2000 samples.
		return l, runUntilEnd(t, tr, src, n)
	}
	ref, err := run("ref", filepath.Join(dir, "ref"), -1) // -1: no crash
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "crash")
	if _, err := run("crash", path, 1111); !errors.Is(err, errCrash) {
		t.Fatalf("crashing run: %v", err)
	}
	got, err := run("crash", path, -1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Metrics() != ref.Metrics() {
		t.Fatalf("resumed metrics %+v, uninterrupted %+v", got.Metrics(), ref.Metrics())
	}
	for _, x := range [][]float64{{1, 2}, {-5, 0.3}, {30, -2}} {
		a, _ := got.Predict(x)
		b, _ := ref.Predict(x)
		if math.Float64bits(a.Value) != math.Float64bits(b.Value) {
			t.Errorf("at %v: resumed %v, uninterrupted %v", x, a.Value, b.Value)
		}
	}
}

func TestDecoders(t *testing.T) {
	s, err := trainkafka.CSV{Comma: ';', Label: -1}.Decode(nil, []byte("7.4;0.7;0;5\n"))
	if err != nil || len(s.Features) != 3 || s.Features[1] != 0.7 || s.Target != 5 {
		t.Errorf("CSV: %+v %v", s, err)
	}
	s, err = trainkafka.CSV{Label: 0}.Decode(nil, []byte("1,2,3"))
	if err != nil || s.Target != 1 || s.Features[0] != 2 {
		t.Errorf("CSV label first: %+v %v", s, err)
	}
	if _, err := (trainkafka.CSV{}).Decode(nil, []byte("1,x")); !errors.Is(err, kafka.ErrDecode) {
		t.Errorf("CSV bad number: %v", err)
	}
	j := trainkafka.JSON{Features: []string{"a", "b"}, Label: "y"}
	s, err = j.Decode(nil, []byte(`{"b": 2, "a": 1, "y": 0, "extra": 9}`))
	if err != nil || s.Features[0] != 1 || s.Features[1] != 2 || s.Target != 0 {
		t.Errorf("JSON: %+v %v", s, err)
	}
	if _, err := j.Decode(nil, []byte(`{"a": 1, "y": 0}`)); !errors.Is(err, kafka.ErrDecode) {
		t.Errorf("JSON missing feature: %v", err)
	}
}

// The JSON decoder ignores fields it does not need, whatever their type,
// and refuses a null or non-numeric feature or target with ErrDecode
// rather than reading it as 0.
func TestJSONDecoderIgnoresOtherFields(t *testing.T) {
	j := trainkafka.JSON{Features: []string{"a", "b"}, Label: "y"}
	s, err := j.Decode(nil, []byte(`{"id": "user-7", "ts": "2026-11-25T17:00:00Z", "tags": ["x"], "a": 1, "b": 2.5, "y": 1, "meta": {"k": null}}`))
	if err != nil || len(s.Features) != 2 || s.Features[0] != 1 || s.Features[1] != 2.5 || s.Target != 1 {
		t.Errorf("JSON with non-numeric extra fields: %+v %v", s, err)
	}
	for name, in := range map[string]string{
		"null feature":   `{"a": null, "b": 2, "y": 1}`,
		"string feature": `{"a": "1", "b": 2, "y": 1}`,
		"null target":    `{"a": 1, "b": 2, "y": null}`,
		"bool target":    `{"a": 1, "b": 2, "y": true}`,
		"not an object":  `[1, 2, 1]`,
		"empty":          ``,
		"truncated":      `{"a": 1, "b": 2, "y"`,
	} {
		if _, err := j.Decode(nil, []byte(in)); !errors.Is(err, kafka.ErrDecode) {
			t.Errorf("%s: %v, want ErrDecode", name, err)
		}
	}
}

// Malformed CSV values are refused with ErrDecode, never half decoded.
func TestCSVDecoderBadInput(t *testing.T) {
	for name, c := range map[string]struct {
		dec   trainkafka.CSV
		value string
	}{
		"empty":              {trainkafka.CSV{Label: -1}, ""},
		"blank":              {trainkafka.CSV{Label: -1}, "  \n"},
		"one column":         {trainkafka.CSV{Label: -1}, "5"},
		"empty field":        {trainkafka.CSV{Label: -1}, "1,,2"},
		"label out of range": {trainkafka.CSV{Label: 3}, "1,2,3"},
		"label before start": {trainkafka.CSV{Label: -4}, "1,2,3"},
		"wrong delimiter":    {trainkafka.CSV{Comma: ';', Label: -1}, "1,2,3"},
		"binary":             {trainkafka.CSV{Label: -1}, "\x00\xff,\x01"},
	} {
		if s, err := c.dec.Decode(nil, []byte(c.value)); !errors.Is(err, kafka.ErrDecode) {
			t.Errorf("%s: %+v, %v; want ErrDecode", name, s, err)
		}
	}
	// Spaces around fields are fine.
	if s, err := (trainkafka.CSV{Label: -1}).Decode(nil, []byte(" 1 , 2\t, 3 ")); err != nil || s.Target != 3 || s.Features[1] != 2 {
		t.Errorf("spaced fields: %+v %v", s, err)
	}
}

// Impossible configurations fail in NewSource, before any broker is
// dialled, with serving.ErrConfig.
func TestNewSourceValidates(t *testing.T) {
	cfg := testConfig(t, []string{"127.0.0.1:1"}) // never dialled
	autocommit := testConfig(t, []string{"127.0.0.1:1"}, kafka.Sarama(func(c *sarama.Config) { c.Consumer.Offsets.AutoCommit.Enable = true }))
	for name, c := range map[string]struct {
		cfg   *kafka.Config
		group string
		opts  []trainkafka.Option
	}{
		"no config":   {nil, "g", nil},
		"no group":    {cfg, "", nil},
		"no Topics":   {cfg, "g", nil},
		"no topics":   {cfg, "g", []trainkafka.Option{trainkafka.Topics()}},
		"empty topic": {cfg, "g", []trainkafka.Option{trainkafka.Topics("training", "")}},
		"nil decoder": {cfg, "g", []trainkafka.Option{trainkafka.Topics("training"), trainkafka.SampleDecoder(nil)}},
		"autocommit":  {autocommit, "g", []trainkafka.Option{trainkafka.Topics("training")}},
	} {
		s, err := trainkafka.NewSource(t.Context(), c.cfg, c.group, c.opts...)
		if !errors.Is(err, serving.ErrConfig) {
			t.Errorf("%s: %v, want serving.ErrConfig", name, err)
		}
		if s != nil {
			s.Close()
		}
	}
}

// testConfig returns a Config for brokers that logs nowhere.
func testConfig(t testing.TB, brokers []string, opts ...kafka.Option) *kafka.Config {
	t.Helper()
	cfg, err := kafka.NewConfig(brokers, append([]kafka.Option{kafka.Logger(quiet)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// A nil option is a configuration error, not a nil-interface panic.
func TestNewSourceNilOption(t *testing.T) {
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("panicked: %v", p)
		}
	}()
	if _, err := trainkafka.NewSource(t.Context(), nil, "g", nil); !errors.Is(err, serving.ErrConfig) {
		t.Fatalf("NewSource(nil option) = %v, want serving.ErrConfig", err)
	}
}

// TestConstructorsHonourContext: against a broker that accepts
// connections and never answers, NewSource and NewPublisher give up with
// ctx's error instead of waiting out sarama's retries.
func TestConstructorsHonourContext(t *testing.T) {
	addr := kafkatest.Unresponsive(t)
	cfg := testConfig(t, []string{addr})
	for name, start := range map[string]func(context.Context) error{
		"NewSource": func(ctx context.Context) error {
			s, err := trainkafka.NewSource(ctx, cfg, "g", trainkafka.Topics("training"))
			if err == nil {
				s.Close()
			}
			return err
		},
		"NewPublisher": func(ctx context.Context) error {
			p, err := trainkafka.NewPublisher(ctx, cfg)
			if err == nil {
				p.Close()
			}
			return err
		},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		err := start(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s with a silent broker: got %v, want context.DeadlineExceeded", name, err)
		}
	}
}

// A misspelt topic fails NewSource with a *kafka.TopicError naming it,
// and is not created: a cluster that creates topics on first use would
// otherwise make it, and the trainer would wait on it for ever.
func TestNewSourceMissingTopic(t *testing.T) {
	cluster := kafkatest.New(t, kafkatest.Topic("training", 1))
	cfg := testConfig(t, cluster.Addrs())
	s, err := trainkafka.NewSource(t.Context(), cfg, "g", trainkafka.Topics("training", "trainnig"))
	if s != nil {
		s.Close()
	}
	var te *kafka.TopicError
	if !errors.As(err, &te) || te.Topic != "trainnig" {
		t.Fatalf("NewSource = %v; want a *kafka.TopicError naming \"trainnig\"", err)
	}
	if err := cfg.CheckTopics(t.Context(), "trainnig"); err == nil {
		t.Error("the check created the misspelt topic")
	}
	if err := cfg.CheckTopics(t.Context(), "training"); err != nil {
		t.Errorf("CheckTopics(training) = %v", err)
	}
}
