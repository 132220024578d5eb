package feedbackkafka_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/feedback"
	"github.com/modelstream/modelstream/serving/feedback/feedbackkafka"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/quality"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

type msg struct {
	topic, key string
	value      []byte
	at         time.Time
}

func produce(t *testing.T, cfg *kafka.Config, ms ...msg) {
	t.Helper()
	sc, err := cfg.SaramaConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := sarama.NewSyncProducer(cfg.Brokers(), sc)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, m := range ms {
		pm := &sarama.ProducerMessage{Topic: m.topic, Value: sarama.ByteEncoder(m.value), Timestamp: m.at}
		if m.key != "" {
			pm.Key = sarama.StringEncoder(m.key)
		}
		if _, _, err := p.SendMessage(pm); err != nil {
			t.Fatal(err)
		}
	}
}

func scoreMsg(key string, p float64, variant string, at time.Time) msg {
	s := wire.Score{
		Prediction: serving.Prediction{Value: p},
		Provenance: serving.Provenance{Model: serving.ModelRef{Name: "fraud", Version: 3}, Decision: &serving.Decision{Combinator: "split", Variant: variant}},
		Key:        key, Topic: "data", Offset: 7,
	}
	b, _ := json.Marshal(s)
	return msg{topic: "scores", key: key, value: b, at: at}
}

func labelMsg(key, value string, at time.Time) msg {
	return msg{topic: "labels", key: key, value: []byte(value), at: at}
}

func newConfig(t *testing.T, c *kafkatest.Cluster) *kafka.Config {
	cfg, err := kafka.NewConfig(c.Addrs(), kafka.Logger(discard()))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// counter is a Stateful downstream: how often each key was matched.
type counter struct {
	mu   sync.Mutex
	seen map[string]int
}

func newCounter() *counter { return &counter{seen: map[string]int{}} }

func (c *counter) match(m feedback.Match) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[m.Score.Key]++
	return nil
}

func (c *counter) MarshalBinary() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return json.Marshal(c.seen)
}

func (c *counter) UnmarshalBinary(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = map[string]int{}
	return json.Unmarshal(b, &c.seen)
}

func (c *counter) total() (n int, twice []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.seen {
		n += v
		if v > 1 {
			twice = append(twice, k)
		}
	}
	return n, twice
}

func start(t *testing.T, r *feedbackkafka.Reader) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return")
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestJoinOverKafka joins a scores topic and a feedback topic on kfake,
// with every kind of bad input the issue names, and feeds live quality.
func TestJoinOverKafka(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic("scores", 2), kafkatest.Topic("labels", 2))
	cfg := newConfig(t, c)
	// Each stream in time order, as topics are: scores k0..k99 one a
	// second, labels ten seconds after their scores, except k80..k89,
	// never labelled, and k90..k94, labelled before they were scored (a
	// lagging scores topic).
	var ms []msg
	for i := range 100 {
		ms = append(ms, scoreMsg(fmt.Sprint("k", i), float64(i%10)/10, []string{"a", "b"}[i%2], t0.Add(time.Duration(i)*time.Second)))
	}
	for i := range 80 {
		if i == 70 {
			for e := 90; e < 95; e++ {
				ms = append(ms, labelMsg(fmt.Sprint("k", e), "1", t0.Add(80*time.Second)))
			}
		}
		ms = append(ms, labelMsg(fmt.Sprint("k", i), fmt.Sprint(i%10/5), t0.Add(time.Duration(i+10)*time.Second)))
	}
	for i := range 5 { // duplicated labels
		ms = append(ms, labelMsg(fmt.Sprint("k", i), "0", t0.Add(time.Duration(i+90)*time.Second)))
	}
	for i := range 10 { // unknown keys
		ms = append(ms, labelMsg(fmt.Sprint("u", i), `{"value":1,"class":"fraud"}`, t0.Add(time.Duration(i+95)*time.Second)))
	}
	ms = append(ms,
		labelMsg("k95", "not a label", t0), labelMsg("", "1", t0), labelMsg("k96", "NaN", t0), // undecodable labels
		msg{topic: "scores", key: "x", value: []byte("{"), at: t0}, // an undecodable score
	)
	produce(t, cfg, ms...)

	tr, _ := quality.NewTracker(8)
	observe, err := feedback.Observe(tr, feedback.Binary)
	if err != nil {
		t.Fatal(err)
	}
	j, _ := feedback.NewJoiner(time.Minute, 1000)
	r, err := feedbackkafka.NewReader(cfg, "scores", "labels", j, observe, feedbackkafka.Retry(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, r)
	waitFor(t, "every record", func() bool { s := r.Stats(); return s.Scores+s.BadScores == 101 && s.Labels+s.BadLabels == 103 })
	if s := r.Stats(); s.Joined != 85 || s.PendingScores != 15 || s.PendingLabels != 10 {
		t.Errorf("before time moves on: %+v", s)
	}
	// Time moves on in both streams: the waiting entries expire.
	produce(t, cfg, scoreMsg("late-score", 0.5, "a", t0.Add(time.Hour)), labelMsg("late-label", "1", t0.Add(time.Hour)))
	waitFor(t, "the last records", func() bool { s := r.Stats(); return s.Scores == 101 && s.Labels == 101 })
	waitFor(t, "the lag", func() bool { return r.Stats().FeedbackLag == 0 })
	stop()
	s := r.Stats()
	want := feedback.ReaderStats{Stats: feedback.Stats{
		Scores: 101, Labels: 101, Joined: 85, Duplicates: 5,
		Unknown: 10, Unlabelled: 15, PendingScores: 1, PendingLabels: 1,
	}, BadScores: 1, BadLabels: 3}
	s.Checkpoints, s.FeedbackLag = 0, 0
	want.Early = s.Early // which side is read first depends on the fetches
	if s != want {
		t.Errorf("stats\n got %+v\nwant %+v", s, want)
	}
	snap := tr.Snapshot()
	if len(snap) != 2 || snap[0].Variant != "a" || snap[0].AUC.N+snap[1].AUC.N != 85 {
		t.Errorf("quality %+v", snap)
	}
}

// TestResumeWithoutDoubleCounting restarts a Reader from its checkpoint,
// once cleanly and once from a checkpoint older than the crash: every
// key is matched exactly once in the end, in the downstream state saved
// with the join.
func TestResumeWithoutDoubleCounting(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic("scores", 3), kafkatest.Topic("labels", 3))
	cfg := newConfig(t, c)
	batch := func(from, to int) {
		var ms []msg
		for i := from; i < to; i++ {
			k := fmt.Sprint("k", i)
			ms = append(ms, scoreMsg(k, 0.7, "a", t0.Add(time.Duration(i)*time.Second)), labelMsg(k, "1", t0.Add(time.Duration(i+1)*time.Second)))
		}
		produce(t, cfg, ms...)
	}
	path := filepath.Join(t.TempDir(), "feedback.json")
	var tr *quality.Tracker // live quality, saved with the join too
	run := func(cnt *counter, slow bool, until func(*feedbackkafka.Reader) bool) *feedbackkafka.Reader {
		j, _ := feedback.NewJoiner(time.Hour, 10000)
		tr, _ = quality.NewTracker(4)
		observe, err := feedback.Observe(tr, feedback.Binary)
		if err != nil {
			t.Fatal(err)
		}
		match := func(m feedback.Match) error {
			if slow {
				time.Sleep(2 * time.Millisecond)
			}
			observe(m)
			return cnt.match(m)
		}
		r, err := feedbackkafka.NewReader(cfg, "scores", "labels", j, match,
			feedbackkafka.Checkpoint(path, 20*time.Millisecond), feedbackkafka.Save("counter", cnt), feedbackkafka.Save("quality", tr),
			feedbackkafka.Retry(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		stop := start(t, r)
		waitFor(t, "the reader", func() bool { return until(r) })
		stop()
		return r
	}

	batch(0, 100)
	first := newCounter()
	run(first, false, func(r *feedbackkafka.Reader) bool { return r.Stats().Joined == 100 })
	// A clean restart with new records: it resumes where it stopped.
	batch(100, 150)
	second := newCounter()
	r := run(second, false, func(r *feedbackkafka.Reader) bool { return r.Stats().Joined == 150 })
	if n, twice := second.total(); n != 150 || len(twice) > 0 || r.Stats().Scores != 150 {
		t.Fatalf("after a clean restart: %d matches, twice %v, stats %+v", n, twice, r.Stats())
	}

	// A crash: the last checkpoint is older than what was processed.
	batch(150, 300)
	var mid []byte
	crashed := newCounter()
	run(crashed, true, func(r *feedbackkafka.Reader) bool {
		if mid == nil && r.Stats().Joined > 180 && r.Stats().Checkpoints > 0 {
			mid, _ = os.ReadFile(path) // the state on disk when it crashed
		}
		return r.Stats().Joined == 300
	})
	if mid == nil {
		t.Fatal("no checkpoint taken mid-way")
	}
	var cp struct {
		States struct {
			Counter map[string]int `json:"counter"`
		} `json:"states"`
	}
	if err := json.Unmarshal(mid, &cp); err != nil || len(cp.States.Counter) >= 300 || len(cp.States.Counter) <= 150 {
		t.Fatalf("the mid-way checkpoint holds %d matches (%v): the test cannot tell", len(cp.States.Counter), err)
	}
	if err := os.WriteFile(path, mid, 0o600); err != nil {
		t.Fatal(err)
	}
	after := newCounter()
	run(after, false, func(r *feedbackkafka.Reader) bool { return r.Stats().Joined == 300 })
	if n, twice := after.total(); n != 300 || len(twice) > 0 {
		t.Errorf("after restarting from the older checkpoint: %d matches, twice %v", n, twice)
	}
	if snap := tr.Snapshot(); len(snap) != 1 || snap[0].Accuracy.N != 300 {
		t.Errorf("live quality after the restart: %+v", snap)
	}
}

// TestMissingFeedbackTopic starts with no feedback topic: the scores are
// read and wait, the failures are counted, nothing is joined; once the
// topic exists and labels arrive, they join.
func TestMissingFeedbackTopic(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic("scores", 1), kafkatest.NoAutoCreate())
	cfg := newConfig(t, c)
	var ms []msg
	for i := range 20 {
		ms = append(ms, scoreMsg(fmt.Sprint("k", i), 0.9, "a", t0.Add(time.Duration(i)*time.Second)))
	}
	produce(t, cfg, ms...)
	cnt := newCounter()
	j, _ := feedback.NewJoiner(time.Minute, 100)
	r, err := feedbackkafka.NewReader(cfg, "scores", "labels", j, cnt.match, feedbackkafka.Retry(30*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, r)
	defer stop()
	waitFor(t, "scores and feedback errors", func() bool { s := r.Stats(); return s.Scores == 20 && s.FeedbackErrors >= 3 })
	if s := r.Stats(); s.Joined != 0 || s.PendingScores != 20 || s.Unlabelled != 0 {
		t.Fatalf("without feedback: %+v", s)
	}
	sc, _ := cfg.SaramaConfig(nil)
	admin, err := sarama.NewClusterAdmin(cfg.Brokers(), sc)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.CreateTopic("labels", &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false); err != nil {
		t.Fatal(err)
	}
	ms = ms[:0]
	for i := range 20 {
		ms = append(ms, labelMsg(fmt.Sprint("k", i), "1", t0.Add(time.Duration(i+5)*time.Second)))
	}
	produce(t, cfg, ms...)
	waitFor(t, "the joins", func() bool { return r.Stats().Joined == 20 })
}

func TestNewReaderValidates(t *testing.T) {
	c := kafkatest.New(t)
	cfg := newConfig(t, c)
	j, _ := feedback.NewJoiner(time.Minute, 10)
	f := func(feedback.Match) error { return nil }
	for name, mk := range map[string]func() error{
		"nil config":  func() error { _, err := feedbackkafka.NewReader(nil, "s", "l", j, f); return err },
		"nil joiner":  func() error { _, err := feedbackkafka.NewReader(cfg, "s", "l", nil, f); return err },
		"nil func":    func() error { _, err := feedbackkafka.NewReader(cfg, "s", "l", j, nil); return err },
		"same topics": func() error { _, err := feedbackkafka.NewReader(cfg, "s", "s", j, f); return err },
		"no checkpoint": func() error {
			_, err := feedbackkafka.NewReader(cfg, "s", "l", j, f, feedbackkafka.Checkpoint("", time.Second))
			return err
		},
		"nil state": func() error {
			_, err := feedbackkafka.NewReader(cfg, "s", "l", j, f, feedbackkafka.Save("x", nil))
			return err
		},
		"zero retry": func() error {
			_, err := feedbackkafka.NewReader(cfg, "s", "l", j, f, feedbackkafka.Retry(0))
			return err
		},
	} {
		if err := mk(); !errors.Is(err, serving.ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A corrupt checkpoint stops Run before it reads anything.
	path := filepath.Join(t.TempDir(), "cp.json")
	os.WriteFile(path, []byte("{not json"), 0o600)
	r, _ := feedbackkafka.NewReader(cfg, "s", "l", j, f, feedbackkafka.Checkpoint(path, time.Second))
	if err := r.Run(context.Background()); !errors.Is(err, serving.ErrCorruptState) {
		t.Errorf("corrupt checkpoint: %v", err)
	}
}

// A checkpoint in a directory that does not exist is refused by
// NewReader. Before, NewReader accepted it and Run logged "checkpoint
// failed" at every interval, never saving anything.
func TestCheckpointDirectoryMustExist(t *testing.T) {
	cfg, err := kafka.NewConfig([]string{"127.0.0.1:1"}, kafka.Logger(discard()))
	if err != nil {
		t.Fatal(err)
	}
	j, _ := feedback.NewJoiner(time.Minute, 10)
	f := func(feedback.Match) error { return nil }
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing", "cp.json")
	_, err = feedbackkafka.NewReader(cfg, "s", "l", j, f, feedbackkafka.Checkpoint(missing, time.Second))
	if !errors.Is(err, serving.ErrConfig) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("checkpoint in a missing directory: %v, want ErrConfig and fs.ErrNotExist", err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = feedbackkafka.NewReader(cfg, "s", "l", j, f, feedbackkafka.Checkpoint(filepath.Join(file, "cp.json"), time.Second))
	if !errors.Is(err, serving.ErrConfig) {
		t.Errorf("checkpoint under a file: %v, want ErrConfig", err)
	}
	if _, err := feedbackkafka.NewReader(cfg, "s", "l", j, f, feedbackkafka.Checkpoint(filepath.Join(dir, "cp.json"), time.Second)); err != nil {
		t.Errorf("checkpoint in an existing directory: %v", err)
	}
}

// Two states saved under one name: the second replaced the first in
// silence, and the first was never checkpointed, so that after a
// restart it started afresh while the offsets resumed.
func TestSaveNameGivenTwice(t *testing.T) {
	cfg, err := kafka.NewConfig([]string{"127.0.0.1:1"}, kafka.Logger(discard()))
	if err != nil {
		t.Fatal(err)
	}
	j, _ := feedback.NewJoiner(time.Minute, 10)
	f := func(feedback.Match) error { return nil }
	a, _ := quality.NewTracker(1)
	b, _ := quality.NewTracker(1)
	_, err = feedbackkafka.NewReader(cfg, "s", "l", j, f, feedbackkafka.Save("quality", a), feedbackkafka.Save("quality", b))
	if !errors.Is(err, serving.ErrConfig) {
		t.Errorf("Save(%q) twice: %v, want an error wrapping serving.ErrConfig", "quality", err)
	}
	if _, err := feedbackkafka.NewReader(cfg, "s", "l", j, f, feedbackkafka.Save("a", a), feedbackkafka.Save("b", b)); err != nil {
		t.Errorf("two names: %v", err)
	}
}
