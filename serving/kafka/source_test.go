package kafka_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/linear"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

func decodeScore(t testing.TB, m *sarama.ConsumerMessage) wire.Score {
	t.Helper()
	var s wire.Score
	if err := json.Unmarshal(m.Value, &s); err != nil {
		t.Fatalf("score %s/%d@%d: %v: %s", m.Topic, m.Partition, m.Offset, err, m.Value)
	}
	return s
}

func header(m *sarama.ConsumerMessage, k string) string {
	for _, h := range m.Headers {
		if string(h.Key) == k {
			return string(h.Value)
		}
	}
	return ""
}

// testTuning makes group membership changes fast for tests.
func testTuning(c *sarama.Config) {
	c.Consumer.Group.Heartbeat.Interval = 300 * time.Millisecond
	c.Consumer.Group.Session.Timeout = 6 * time.Second
	c.Consumer.Group.Rebalance.Timeout = 10 * time.Second
	c.Consumer.Group.Rebalance.Retry.Backoff = 100 * time.Millisecond
}

// running is a Source with its Sink, running in the background.
type running struct {
	src    *kafka.Source
	sink   *kafka.Sink
	cancel context.CancelFunc
	done   chan error
}

func startSource(t testing.TB, c *kafkatest.Cluster, group string, scorer serving.Scorer, opts ...kafka.SourceOption) *running {
	t.Helper()
	sink, err := kafka.NewSink(t.Context(), config(t, c.Addrs()))
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]kafka.SourceOption{kafka.Topics(kafka.DefaultDataTopic), kafka.CommitInterval(100 * time.Millisecond)}, opts...)
	src, err := kafka.NewSource(config(t, c.Addrs(), kafka.Sarama(testTuning)), group, scorer, sink, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{src: src, sink: sink, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- src.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the source gracefully and waits for it.
func (r *running) stop(t testing.TB) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("source: %v", err)
		}
	case <-time.After(time.Minute):
		t.Error("source did not stop within a minute")
	}
	r.sink.Close()
}

// crash stops the source abruptly and waits for it.
func (r *running) crash(t testing.TB) {
	t.Helper()
	kafka.Crash(r.src)
	select {
	case <-r.done:
	case <-time.After(time.Minute):
		t.Fatal("crashed source did not stop within a minute")
	}
	r.cancel()
	r.cancel = nil
	r.sink.Close()
}

// records returns n JSON array records [i, 1, 2] keyed "k<i%97>".
func records(from, n int) ([]string, [][]byte) {
	keys := make([]string, n)
	vals := make([][]byte, n)
	for i := range n {
		keys[i] = "k" + strconv.Itoa((from+i)%97)
		vals[i] = []byte(fmt.Sprintf("[%d, 1, 2]", from+i))
	}
	return keys, vals
}

// TestSourceEndToEndSwap sends 20k records through a 3-broker cluster
// with 4 data partitions and swaps v1 for v2 in the middle: every input
// gets exactly one output, scored by the version live when it was read,
// and outputs keep their input order per partition.
func TestSourceEndToEndSwap(t *testing.T) {
	const n = 20000
	c := kafkatest.New(t, kafkatest.NumBrokers(3), kafkatest.Topic(kafka.DefaultDataTopic, 4),
		kafkatest.Topic(kafka.DefaultScoresTopic, 4), kafkatest.Topic(kafka.DefaultModelsTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	pub := publisher(t, c)
	ctx := context.Background()
	if _, _, err := pub.Publish(ctx, linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t)
	runFeed(t, c.Addrs(), srv)
	scores := collect(t, c, kafka.DefaultScoresTopic)
	startSource(t, c, "e2e", srv.Model("m"))
	in := c

	keys, vals := records(0, n/2)
	produce(t, in, kafka.DefaultDataTopic, keys, vals)
	first := scores.next(t, n/2)
	if _, _, err := pub.Publish(ctx, linearModel(t, "m", 2, 3, 2)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "v2 live", func() bool { r, _ := srv.Current("m"); return r.Version == 2 })
	keys, vals = records(n/2, n/2)
	produce(t, in, kafka.DefaultDataTopic, keys, vals)
	second := scores.next(t, n/2)
	if extra := scores.quietFor(500 * time.Millisecond); len(extra) > 0 {
		t.Errorf("%d outputs more than inputs", len(extra))
	}

	seen := make(map[int]bool, n)
	type origin struct{ part int32 }
	last := map[[2]int32]int64{} // (output partition, input partition) -> input offset
	for half, msgs := range [][]*sarama.ConsumerMessage{first, second} {
		for _, m := range msgs {
			s := decodeScore(t, m)
			// The prediction is version * x0, and x0 is the record's index.
			v := s.Provenance.Model.Version
			i := int(s.Prediction.Value) / int(v)
			if seen[i] {
				t.Fatalf("record %d scored twice", i)
			}
			seen[i] = true
			if wantV := uint64(1 + i/(n/2)); v != wantV || half+1 != int(v) {
				t.Fatalf("record %d scored by v%d, want v%d", i, v, wantV)
			}
			if s.Prediction.Value != float64(int(v)*i) {
				t.Fatalf("record %d: value %v from v%d", i, s.Prediction.Value, v)
			}
			if s.Key != "k"+strconv.Itoa(i%97) || s.Topic != kafka.DefaultDataTopic {
				t.Fatalf("record %d: key %q topic %q", i, s.Key, s.Topic)
			}
			// One provenance header, and none of the legacy ones.
			if want := fmt.Sprintf("m/%d/%s/linear", v, s.Provenance.Model.ID); len(m.Headers) != 1 || header(m, wire.HeaderProvenance) != want || s.Provenance.Model.ID == "" {
				t.Fatalf("record %d: headers %q, want only %s=%s", i, kafka.Headers(m), wire.HeaderProvenance, want)
			}
			if p, err := wire.ProvenanceOf(kafka.Headers(m), m.Value); err != nil || p.Model != s.Provenance.Model {
				t.Fatalf("record %d: wire.ProvenanceOf = %v, %v; the value says %v", i, p.Model, err, s.Provenance.Model)
			}
			k := [2]int32{m.Partition, s.Partition}
			if prev, ok := last[k]; ok && s.Offset <= prev {
				t.Fatalf("output partition %d: input %d/%d after %d/%d", m.Partition, s.Partition, s.Offset, s.Partition, prev)
			}
			last[k] = s.Offset
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct records scored, want %d", len(seen), n)
	}
}

// TestSourceDeadLetters: records that fail to decode or to score go to
// the dead-letter topic with their reason and origin, and the records
// around them are scored.
func TestSourceDeadLetters(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1), kafkatest.Topic(kafka.DefaultModelsTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	pub := publisher(t, c)
	if _, _, err := pub.Publish(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t)
	runFeed(t, c.Addrs(), srv)
	scores := collect(t, c, kafka.DefaultScoresTopic)
	dlq := collect(t, c, kafka.DefaultDeadLetterTopic)
	hook := &deadHook{}
	startSource(t, c, "dlq", srv.Model("m"), kafka.Hooks(hook))
	in := c
	produce(t, in, kafka.DefaultDataTopic, []string{"a", "b", "c", "d", "e"},
		[][]byte{[]byte("[1,1,1]"), []byte(`{"not":"an array"`), []byte("[2,2]"), []byte("[1,nan,1]"), []byte("[3,3,3]")})
	got := scores.next(t, 2)
	if v := decodeScore(t, got[0]).Prediction.Value + decodeScore(t, got[1]).Prediction.Value; v != 4 {
		t.Errorf("scores %s %s", got[0].Value, got[1].Value)
	}
	dead := dlq.next(t, 3)
	for i, want := range []struct{ stage, offset, value string }{
		{wire.StageDecode, "1", `{"not":"an array"`},
		{wire.StageScore, "2", "[2,2]"},
		{wire.StageDecode, "3", "[1,nan,1]"},
	} {
		m := dead[i]
		if header(m, wire.HeaderDLQStage) != want.stage || header(m, wire.HeaderDLQOffset) != want.offset ||
			header(m, wire.HeaderDLQTopic) != kafka.DefaultDataTopic || header(m, wire.HeaderDLQPartition) != "0" ||
			string(m.Value) != want.value || header(m, wire.HeaderDLQReason) == "" {
			t.Errorf("dead letter %d: %s stage %q offset %q reason %q", i, m.Value, header(m, wire.HeaderDLQStage), header(m, wire.HeaderDLQOffset), header(m, wire.HeaderDLQReason))
		}
	}
	t.Logf("reasons: %q / %q / %q", header(dead[0], wire.HeaderDLQReason), header(dead[1], wire.HeaderDLQReason), header(dead[2], wire.HeaderDLQReason))
	waitFor(t, "dead-letter hooks", func() bool { return hook.count() == 3 })
	waitFor(t, "commit of all 5 offsets and a lag report", func() bool {
		hook.mu.Lock()
		defer hook.mu.Unlock()
		return hook.committed == 5 && hook.lags > 0
	})
}

// deadHook records dead-letter, commit and lag hook calls.
type deadHook struct {
	mu        sync.Mutex
	n         int
	committed int64
	lags      int
}

var (
	_ kafka.HookDeadLetter = (*deadHook)(nil)
	_ kafka.HookCommit     = (*deadHook)(nil)
	_ kafka.HookLag        = (*deadHook)(nil)
)

func (h *deadHook) OnDeadLetter(string, int32, int64, error) { h.mu.Lock(); h.n++; h.mu.Unlock() }
func (h *deadHook) OnCommit(_ string, _ int32, off int64) {
	h.mu.Lock()
	h.committed = max(h.committed, off)
	h.mu.Unlock()
}
func (h *deadHook) OnLag(string, int32, int64) { h.mu.Lock(); h.lags++; h.mu.Unlock() }
func (h *deadHook) count() int                 { h.mu.Lock(); defer h.mu.Unlock(); return h.n }

// TestSourceCrashRestart stops the pipeline abruptly at 5 random points
// while 50k records flow, restarting it each time: every input has at
// least one output. Duplicates are reported, not failed.
func TestSourceCrashRestart(t *testing.T) {
	const n = 50000
	c := kafkatest.New(t, kafkatest.NumBrokers(3), kafkatest.Topic(kafka.DefaultDataTopic, 4), kafkatest.Topic(kafka.DefaultScoresTopic, 4), kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	pub := publisher(t, c)
	if _, _, err := pub.Publish(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t)
	runFeed(t, c.Addrs(), srv)
	scores := collect(t, c, kafka.DefaultScoresTopic)
	// A producer of its own: it writes from a goroutine, where a failing
	// kafkatest.Produce could not stop the test.
	pcfg := sarama.NewConfig()
	pcfg.Producer.Return.Successes = true
	in, err := sarama.NewSyncProducer(c.Addrs(), pcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	go func() {
		// Records keep flowing while the pipeline crashes.
		for i := 0; i < n; i += 1000 {
			keys, vals := records(i, 1000)
			msgs := make([]*sarama.ProducerMessage, len(vals))
			for k := range vals {
				msgs[k] = &sarama.ProducerMessage{Topic: kafka.DefaultDataTopic, Key: sarama.StringEncoder(keys[k]), Value: sarama.ByteEncoder(vals[k])}
			}
			if err := in.SendMessages(msgs); err != nil {
				t.Error(err) // the test then fails waiting for the missing records
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	rng := rand.New(rand.NewPCG(1, 2))
	counts := make([]int, n)
	total := 0
	take := func(ms []*sarama.ConsumerMessage) {
		for _, m := range ms {
			counts[int(decodeScore(t, m).Prediction.Value)]++
			total++
		}
	}
	for crash := range 5 {
		r := startSource(t, c, "crashy", srv.Model("m"), kafka.Window(64))
		// Crash after a random number of outputs, a different point each time.
		take(scores.next(t, 1000+rng.IntN(6000)))
		r.crash(t)
		t.Logf("crash %d after %d outputs; source stats %+v", crash+1, total, r.src.Stats())
	}
	r := startSource(t, c, "crashy", srv.Model("m"))
	for {
		missing := 0
		for _, k := range counts {
			if k == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		take(scores.next(t, missing))
	}
	r.stop(t)
	take(scores.quietFor(300 * time.Millisecond))
	dups := 0
	for _, k := range counts {
		dups += k - 1
	}
	t.Logf("%d inputs, %d outputs, %d duplicates (%.2f%%) after 5 crashes", n, total, dups, 100*float64(dups)/n)
}

// TestSourceTwoInstances: two instances in one group both follow model
// updates; when one leaves, the other takes over its partitions and
// nothing is lost.
func TestSourceTwoInstances(t *testing.T) {
	c := kafkatest.New(t, kafkatest.NumBrokers(2), kafkatest.Topic(kafka.DefaultDataTopic, 4), kafkatest.Topic(kafka.DefaultScoresTopic, 2), kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	pub := publisher(t, c)
	ctx := context.Background()
	if _, _, err := pub.Publish(ctx, linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	srvA, srvB := newServer(t), newServer(t)
	runFeed(t, c.Addrs(), srvA)
	runFeed(t, c.Addrs(), srvB)
	scores := collect(t, c, kafka.DefaultScoresTopic)
	a := startSource(t, c, "pair", srvA.Model("m"))
	b := startSource(t, c, "pair", srvB.Model("m"))
	in := c

	// Wait until both hold partitions: each has consumed something.
	i := 0
	waitFor(t, "both instances consuming", func() bool {
		keys, vals := records(i, 100)
		produce(t, in, kafka.DefaultDataTopic, keys, vals)
		i += 100
		return a.src.Stats().Consumed > 0 && b.src.Stats().Consumed > 0
	})
	if _, _, err := pub.Publish(ctx, linearModel(t, "m", 2, 3, 1)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "v2 in both", func() bool {
		ra, _ := srvA.Current("m")
		rb, _ := srvB.Current("m")
		return ra.Version == 2 && rb.Version == 2
	})
	a.stop(t) // leaves the group: b takes all partitions
	keys, vals := records(i, 2000)
	produce(t, in, kafka.DefaultDataTopic, keys, vals)
	i += 2000
	got := scores.next(t, i)
	seen := make(map[int]int, i)
	byB := 0
	for _, m := range got {
		s := decodeScore(t, m)
		seen[int(s.Prediction.Value)]++
	}
	for k := range i {
		if seen[k] == 0 {
			t.Fatalf("record %d lost", k)
		}
	}
	byB = int(b.src.Stats().Scored)
	t.Logf("%d records, %d duplicates; a scored %d, b scored %d", i, len(got)-i, a.src.Stats().Scored, byB)
	if a.src.Stats().Scored == 0 || byB < 2000 {
		t.Errorf("a scored %d, b %d: no rebalance?", a.src.Stats().Scored, byB)
	}
}

func TestSourceConfig(t *testing.T) {
	sink, err := kafka.NewSink(t.Context(), config(t, []string{"127.0.0.1:1"}, kafka.Sarama(func(c *sarama.Config) { c.Metadata.Retry.Max = 0 })))
	if err == nil {
		defer sink.Close()
	}
	// NewSink fails without a broker; build the checks that need no sink.
	scorer := serving.ScorerFunc(func(context.Context, serving.Record) (serving.Result, error) { return serving.Result{}, nil })
	for name, tc := range map[string]struct {
		group  string
		scorer serving.Scorer
		opts   []kafka.SourceOption
	}{
		"no group":  {"", scorer, nil},
		"no scorer": {"g", nil, nil},
		"no topics": {"g", scorer, []kafka.SourceOption{kafka.Topics()}},
		"window":    {"g", scorer, []kafka.SourceOption{kafka.Window(0)}},
		"workers":   {"g", scorer, []kafka.SourceOption{kafka.Workers(0)}},
		"interval":  {"g", scorer, []kafka.SourceOption{kafka.CommitInterval(0)}},
		"drain":     {"g", scorer, []kafka.SourceOption{kafka.DrainTimeout(-time.Second)}},
		"codec":     {"g", scorer, []kafka.SourceOption{kafka.RecordCodec(nil)}},
	} {
		s := sink
		if s == nil {
			s = new(kafka.Sink) // never used: validation fails first
		}
		if _, err := kafka.NewSource(config(t, []string{"x:1"}), tc.group, tc.scorer, s, append([]kafka.SourceOption{kafka.Topics(kafka.DefaultDataTopic)}, tc.opts...)...); !errors.Is(err, serving.ErrConfig) {
			t.Errorf("%s: got %v, want ErrConfig", name, err)
		}
	}
	if _, err := kafka.NewSource(config(t, []string{"x:1"}), "g", scorer, nil, kafka.Topics(kafka.DefaultDataTopic)); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("nil sink: %v", err)
	}
	s := sink
	if s == nil {
		s = new(kafka.Sink)
	}
	if _, err := kafka.NewSource(nil, "g", scorer, s, kafka.Topics(kafka.DefaultDataTopic)); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("nil Config: %v", err)
	}
	autocommit := config(t, []string{"x:1"}, kafka.Sarama(func(c *sarama.Config) { c.Consumer.Offsets.AutoCommit.Enable = true }))
	if _, err := kafka.NewSource(autocommit, "g", scorer, s, kafka.Topics(kafka.DefaultDataTopic)); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("autocommit: %v", err)
	}
}

// TestSourceWriteFailure: when the Sink cannot write, Run stops with the
// error and commits nothing past the failed record, so a restarted Source
// writes every record.
func TestSourceWriteFailure(t *testing.T) {
	const n = 3000
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 2), kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	scores := collect(t, c, kafka.DefaultScoresTopic)
	in := c
	keys, vals := records(0, n)
	produce(t, in, kafka.DefaultDataTopic, keys, vals)

	r := startSource(t, c, "fails", srv.Model("m"), kafka.Window(16))
	first := scores.next(t, 100)
	r.sink.Close() // every later write is refused
	select {
	case err := <-r.done:
		if !errors.Is(err, serving.ErrClosed) {
			t.Fatalf("Run returned %v, want ErrSinkClosed", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not stop after its sink closed")
	}
	r.cancel()
	r.cancel = nil
	if st := r.src.Stats(); st.Scored >= n {
		t.Fatalf("all %d records were written before the sink closed: nothing tested", st.Scored)
	} else {
		t.Logf("the sink closed after %d records were written and acknowledged", st.Scored)
	}

	startSource(t, c, "fails", srv.Model("m"))
	seen := map[int]bool{}
	for _, m := range first {
		seen[int(decodeScore(t, m).Prediction.Value)] = true
	}
	for len(seen) < n {
		for _, m := range scores.next(t, 1) {
			seen[int(decodeScore(t, m).Prediction.Value)] = true
		}
	}
}

// TestSourceReady: a Source is not ready before it joins its group, is
// ready once it has, and is not ready again after Run returns.
func TestSourceReady(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 2))
	srv := newServer(t)
	sink, err := kafka.NewSink(t.Context(), config(t, c.Addrs()))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	src, err := kafka.NewSource(config(t, c.Addrs(), kafka.Sarama(testTuning)), "ready", srv.Model("m"), sink, kafka.Topics(kafka.DefaultDataTopic))
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Ready(); !errors.Is(err, kafka.ErrNotReady) {
		t.Fatalf("Ready before Run: %v, want ErrNotReady", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	waitFor(t, "the source to join its group", func() bool { return src.Ready() == nil })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := src.Ready(); !errors.Is(err, kafka.ErrNotReady) {
		t.Fatalf("Ready after Run returned: %v, want ErrNotReady", err)
	}
}

// TestSourceStuckScorer: a scorer stuck until its context is done does
// not hold Run forever on cancellation. After DrainTimeout the scoring
// context is cancelled, the stuck record is abandoned (neither written
// nor dead-lettered, its offset not committed), and a restarted Source
// scores it.
func TestSourceStuckScorer(t *testing.T) {
	const n = 50
	const stuckAt = 20
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	scores := collect(t, c, kafka.DefaultScoresTopic)
	dead := collect(t, c, kafka.DefaultDeadLetterTopic)
	keys, vals := records(0, n)
	produce(t, c, kafka.DefaultDataTopic, keys, vals)

	stuck := make(chan struct{})
	var once sync.Once
	scorer := serving.ScorerFunc(func(ctx context.Context, r serving.Record) (serving.Result, error) {
		if r.Features[0] == stuckAt {
			once.Do(func() { close(stuck) })
			<-ctx.Done()
			return serving.Result{}, ctx.Err()
		}
		return srv.Model("m").Score(ctx, r)
	})
	r := startSource(t, c, "stuck", scorer, kafka.DrainTimeout(50*time.Millisecond))
	select {
	case <-stuck:
	case <-time.After(time.Minute):
		t.Fatal("the stuck record was never scored")
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return within a minute of its cancellation: the stuck scorer holds it")
	}
	r.sink.Close()
	if st := r.src.Stats(); st.DeadLettered != 0 || st.Scored != stuckAt {
		t.Errorf("stats %+v, want %d scored and no dead letters", st, stuckAt)
	}

	startSource(t, c, "stuck", srv.Model("m"))
	seen := map[int]int{}
	for _, m := range scores.next(t, n) {
		seen[int(decodeScore(t, m).Prediction.Value)]++
	}
	for i := range n {
		if seen[i] != 1 {
			t.Errorf("record %d scored %d times, want once", i, seen[i])
		}
	}
	if dl := dead.quietFor(200 * time.Millisecond); len(dl) != 0 {
		t.Errorf("%d dead letters, want none: %q", len(dl), header(dl[0], wire.HeaderDLQReason))
	}
}

// TestSourceOversizedDeadLetter: a record that fails and is too large to
// be written back with the dead-letter headers (it is near the size
// limit) is dead-lettered without its value, which its origin headers
// locate, instead of stopping the Source on every restart.
func TestSourceOversizedDeadLetter(t *testing.T) {
	const limit = 4096
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	scores := collect(t, c, kafka.DefaultScoresTopic)
	dlq := collect(t, c, kafka.DefaultDeadLetterTopic)
	big := make([]byte, limit-100) // fits the limit, not with the dead-letter headers
	for i := range big {
		big[i] = 'x'
	}
	produce(t, c, kafka.DefaultDataTopic, []string{"a", "b", "c"}, [][]byte{[]byte("[1,1,1]"), big, []byte("[3,3,3]")})

	sink, err := kafka.NewSink(t.Context(), config(t, c.Addrs(), kafka.Sarama(func(c *sarama.Config) { c.Producer.MaxMessageBytes = limit })))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	src, err := kafka.NewSource(config(t, c.Addrs(), kafka.Sarama(testTuning)), "big", srv.Model("m"), sink, kafka.Topics(kafka.DefaultDataTopic))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	waitFor(t, "the records around the big one scored, or Run stopped", func() bool {
		return src.Stats().Scored == 2 || src.Ready() != nil && src.Stats().Consumed > 0
	})
	select {
	case err := <-done:
		cancel()
		t.Fatalf("Run stopped: %v", err)
	default:
	}
	scores.next(t, 2)
	m := dlq.next(t, 1)[0]
	if len(m.Value) != 0 || header(m, wire.HeaderDLQOffset) != "1" || header(m, wire.HeaderDLQStage) != wire.StageDecode ||
		header(m, wire.HeaderDLQTruncated) != strconv.Itoa(len(big)) {
		t.Errorf("dead letter: %d bytes, headers %v", len(m.Value), m.Headers)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSourceOversizedReason: a record whose failure's reason is larger
// than the producer's limit by itself (here a JSON object with a field
// name repeated, which the codec's error quotes, four bytes for each
// byte that is not UTF-8) is dead-lettered with the reason cut short.
// The dead letter used to carry the whole reason, even after its value
// and key were left out: the producer refused it, and Run stopped on
// this record at every restart.
func TestSourceOversizedReason(t *testing.T) {
	const limit = 4096
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	scores := collect(t, c, kafka.DefaultScoresTopic)
	dlq := collect(t, c, kafka.DefaultDeadLetterTopic)
	name := strings.Repeat("\xff", 800)
	bad := []byte(`{"` + name + `":1,"` + name + `":2}`) // 1.6 KB; its reason is over 6 KB
	produce(t, c, kafka.DefaultDataTopic, []string{"a", "b", "c"}, [][]byte{[]byte("[1,1,1]"), bad, []byte("[3,3,3]")})

	sink, err := kafka.NewSink(t.Context(), config(t, c.Addrs(), kafka.Sarama(func(c *sarama.Config) { c.Producer.MaxMessageBytes = limit })))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	src, err := kafka.NewSource(config(t, c.Addrs(), kafka.Sarama(testTuning)), "big-reason", srv.Model("m"), sink, kafka.Topics(kafka.DefaultDataTopic))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	waitFor(t, "the records around the bad one scored, or Run stopped", func() bool {
		return src.Stats().Scored == 2 || src.Ready() != nil && src.Stats().Consumed > 0
	})
	select {
	case err := <-done:
		cancel()
		t.Fatalf("Run stopped: %v", err)
	default:
	}
	scores.next(t, 2)
	m := dlq.next(t, 1)[0]
	reason := header(m, wire.HeaderDLQReason)
	if header(m, wire.HeaderDLQOffset) != "1" || header(m, wire.HeaderDLQStage) != wire.StageDecode ||
		!strings.HasPrefix(reason, "kafka: cannot decode record") || len(reason) >= limit {
		t.Errorf("dead letter: %d bytes, a reason of %d bytes: %.80q", len(m.Value), len(reason), reason)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSourceScorerPanic: a Scorer or Codec that panics on one record
// dead-letters that record with the panic as its reason, instead of
// crashing the process on the same record at every restart.
func TestSourceScorerPanic(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	scores := collect(t, c, kafka.DefaultScoresTopic)
	dlq := collect(t, c, kafka.DefaultDeadLetterTopic)
	produce(t, c, kafka.DefaultDataTopic, []string{"a", "b", "c", "d"},
		[][]byte{[]byte("[1,1,1]"), []byte("[13,1,1]"), []byte("boom"), []byte("[3,3,3]")})
	scorer := serving.ScorerFunc(func(ctx context.Context, r serving.Record) (serving.Result, error) {
		if r.Features[0] == 13 {
			panic("unlucky")
		}
		return srv.Model("m").Score(ctx, r)
	})
	codec := kafka.CodecFunc(func(v []byte) (serving.Record, error) {
		if string(v) == "boom" {
			panic("codec bug")
		}
		return kafka.JSON{}.Decode(v)
	})
	startSource(t, c, "panics", scorer, kafka.RecordCodec(codec))
	if got := scores.next(t, 2); decodeScore(t, got[0]).Prediction.Value+decodeScore(t, got[1]).Prediction.Value != 4 {
		t.Errorf("scores %s %s", got[0].Value, got[1].Value)
	}
	dead := dlq.next(t, 2)
	for i, want := range []struct{ stage, offset, reason string }{
		{wire.StageScore, "1", "unlucky"},
		{wire.StageDecode, "2", "codec bug"},
	} {
		m := dead[i]
		if header(m, wire.HeaderDLQStage) != want.stage || header(m, wire.HeaderDLQOffset) != want.offset || !strings.Contains(header(m, wire.HeaderDLQReason), want.reason) {
			t.Errorf("dead letter %d: stage %q offset %q reason %q", i, header(m, wire.HeaderDLQStage), header(m, wire.HeaderDLQOffset), header(m, wire.HeaderDLQReason))
		}
	}
}

// TestSourceOffsetOutOfRangeWhileConsuming: when a fetch fails with
// OFFSET_OUT_OF_RANGE (retention deleted records ahead of the Source),
// sarama shuts the partition's consumer down and the claim ends. sarama
// then ends the whole session, the Source rejoins its group, and the
// partition is read again rather than left unread.
func TestSourceOffsetOutOfRangeWhileConsuming(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	scores := collect(t, c, kafka.DefaultScoresTopic)
	in := c
	keys, vals := records(0, 10)
	produce(t, in, kafka.DefaultDataTopic, keys, vals)
	startSource(t, c, "oor", srv.Model("m"))
	scores.next(t, 10)

	injectOutOfRange(t, c, kafka.DefaultDataTopic)
	keys, vals = records(10, 10)
	produce(t, in, kafka.DefaultDataTopic, keys, vals)
	seen := map[int]bool{}
	for len(seen) < 10 {
		for _, m := range scores.next(t, 1) {
			if v := int(decodeScore(t, m).Prediction.Value); v >= 10 {
				seen[v] = true
			}
		}
	}
}

// errHook keeps the reasons of dead letters.
type errHook struct {
	mu   sync.Mutex
	errs []error
}

func (h *errHook) OnDeadLetter(_ string, _ int32, _ int64, err error) {
	h.mu.Lock()
	h.errs = append(h.errs, err)
	h.mu.Unlock()
}

// TestSourceNamedRecords: JSON objects reach a model that names its
// inputs whatever their field order, with no schema declared; a record
// with text where a number goes, or without a field the model reads, is
// dead-lettered with a typed error naming the field.
func TestSourceNamedRecords(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	w := [][]float64{{1, 10, 100}}
	doc := linear.Document{Kind: linear.KindLinear, Features: 3, FeatureNames: []string{"a", "b", "c"}, Weights: w, Bias: []float64{0}}
	b, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t)
	if _, err := srv.Activate(t.Context(), serving.Descriptor{Name: "m", Version: 1, Format: linear.FormatName, Bytes: b}); err != nil {
		t.Fatal(err)
	}
	scores := collect(t, c, kafka.DefaultScoresTopic)
	dlq := collect(t, c, kafka.DefaultDeadLetterTopic)
	hook := &errHook{}
	startSource(t, c, "named", srv.Model("m"), kafka.Hooks(hook))
	produce(t, c, kafka.DefaultDataTopic, []string{"k", "k", "k", "k"}, [][]byte{
		[]byte(`{"c": 3, "a": 1, "b": 2}`),
		[]byte(`{"a": 1, "b": "two", "c": 3}`),
		[]byte(`{"a": 1, "c": 3}`),
		[]byte(`{"b": 2, "x": "ignored", "c": 3, "a": 1}`),
	})
	for _, m := range scores.next(t, 2) {
		if v := decodeScore(t, m).Prediction.Value; v != 321 {
			t.Errorf("scored %v, want 321", v)
		}
	}
	dead := dlq.next(t, 2)
	waitFor(t, "dead-letter hooks", func() bool { hook.mu.Lock(); defer hook.mu.Unlock(); return len(hook.errs) == 2 })
	for i, want := range []struct {
		kind error
		off  string
	}{{serving.ErrFieldType, "1"}, {serving.ErrMissingField, "2"}} {
		var fe *serving.FieldError
		if err := hook.errs[i]; !errors.As(err, &fe) || fe.Field != "b" || !errors.Is(err, want.kind) {
			t.Errorf("dead letter %d: %v; want a *serving.FieldError naming b, wrapping %v", i, err, want.kind)
		}
		if header(dead[i], wire.HeaderDLQOffset) != want.off || !strings.Contains(header(dead[i], wire.HeaderDLQReason), `"b"`) {
			t.Errorf("dead letter %d: offset %s, reason %q", i, header(dead[i], wire.HeaderDLQOffset), header(dead[i], wire.HeaderDLQReason))
		}
	}
}
