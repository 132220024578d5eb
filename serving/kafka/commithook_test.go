package kafka_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestCommitHookHearsOnlyStoredCommits: while the broker refuses every
// offset commit of the group, HookCommit hears of none; once commits
// pass again, the refused offsets are committed at the next interval,
// with no new record, and the hook hears of the offsets the group then
// holds. It heard of every commit the Source attempted (sarama's session
// Commit reports no error to its caller), and a refused commit was not
// tried again until new records came.
func TestCommitHookHearsOnlyStoredCommits(t *testing.T) {
	const (
		group = "hook-refused"
		parts = 2
		n     = 200
	)
	c, r, hook, fault, refused := refusingCommits(t, group, parts, n)
	waitFor(t, "every record scored", func() bool { return r.src.Stats().Scored >= n })
	waitFor(t, "a refused commit", func() bool { return refused.Load() >= 1 })
	if got := c.Committed(t, group, kafka.DefaultDataTopic); len(got) != 0 {
		t.Fatalf("the fault let a commit through: %v", got)
	}
	if commits := hook.all(); len(commits) > 0 {
		t.Fatalf("HookCommit heard of %d commits the broker refused, first %+v", len(commits), commits[0])
	}

	fault.Remove()
	waitFor(t, "the hook to hear of every partition's end", func() bool {
		last := hook.last()
		return len(last) == parts && last[0]+last[1] == n
	})
	stored := c.Committed(t, group, kafka.DefaultDataTopic)
	for _, cm := range hook.all() {
		if cm.off > stored[cm.part] {
			t.Errorf("HookCommit heard of offset %d of partition %d; the group holds %d", cm.off, cm.part, stored[cm.part])
		}
	}
	r.stop(t)
}

// refusingCommits starts a Source of group, with a commitLog hook, over n
// records on parts data partitions, scored by a linear model, while the
// broker refuses every OffsetCommit of the group, counted in refused,
// until fault is removed.
func refusingCommits(t *testing.T, group string, parts, n int) (c *kafkatest.Cluster, r *running, hook *commitLog, fault *kfake.FaultHandle, refused *atomic.Int64) {
	t.Helper()
	c = kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, int32(parts)),
		kafkatest.Topic(kafka.DefaultScoresTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	refused = new(atomic.Int64)
	fault = c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Group: group, Count: -1,
		When: func(kmsg.Request) bool { refused.Add(1); return true }})
	hook = &commitLog{}
	keys, vals := records(0, n)
	produce(t, c, kafka.DefaultDataTopic, keys, vals)
	r = startSource(t, c, group, srv.Model("m"), kafka.Hooks(hook))
	return c, r, hook, fault, refused
}

// TestCommitHookHearsTheOffsetStored: HookCommit hears the offset the
// group holds after each commit, read back, once. sarama's Commit sends
// the offsets marked when it is called, and the Source's marker goes on
// marking while a commit is being made: here, between taking the
// offsets for a commit and sending it, two more runs of records are
// scored and marked. The hook heard of the offset taken (110), while the
// group held the one marked since (130).
func TestCommitHookHearsTheOffsetStored(t *testing.T) {
	const group = "hook-stored"
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1),
		kafkatest.Topic(kafka.DefaultScoresTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	total := 0
	more := func(n int) {
		keys, vals := records(total, n)
		produce(t, c, kafka.DefaultDataTopic, keys, vals)
		total += n
	}
	more(100)

	// Each report, with what the group held when the hook heard it: no
	// commit is made while a hook runs.
	type report struct{ heard, held int64 }
	var mu sync.Mutex
	var reports []report
	hook := hookFunc(func(topic string, p int32, off int64) {
		held, err := storedOffset(c.Addrs(), group, topic, p)
		if err != nil {
			held = -2
			t.Errorf("reading the committed offset back in the hook: %v", err)
		}
		mu.Lock()
		reports = append(reports, report{off, held})
		mu.Unlock()
	})
	sink, err := kafka.NewSink(t.Context(), config(t, c.Addrs()))
	if err != nil {
		t.Fatal(err)
	}
	src, err := kafka.NewSource(config(t, c.Addrs(), kafka.Sarama(testTuning)), group, srv.Model("m"), sink,
		kafka.CommitInterval(100*time.Millisecond), kafka.Hooks(hook), kafka.Topics(kafka.DefaultDataTopic))
	if err != nil {
		t.Fatal(err)
	}
	// The commit made once armed is held between taking the offsets and
	// sending them, while the test goroutine makes the marker mark more.
	var armed atomic.Bool
	held, resume := make(chan struct{}), make(chan struct{})
	var resumeOnce sync.Once
	t.Cleanup(func() { resumeOnce.Do(func() { close(resume) }) })
	kafka.BeforeCommit(src, func() {
		if armed.Swap(false) {
			close(held)
			<-resume
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{src: src, sink: sink, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- src.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })

	heard := func(off int64) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(reports) > 0 && reports[len(reports)-1].heard >= off
		}
	}
	waitFor(t, "the hook to hear of the first 100 records", heard(100))
	armed.Store(true) // the first commit of a mark from here on is held
	more(10)
	select {
	case <-held:
	case <-time.After(time.Minute):
		t.Fatal("no commit of the records marked within a minute")
	}
	// The marker marks a run once its writes are acknowledged, and
	// counts the next run only after that: once 130 are scored, 120 at
	// least are marked.
	for range 2 {
		more(10)
		waitFor(t, "the records scored", scored(src, total))
	}
	resumeOnce.Do(func() { close(resume) })
	waitFor(t, "the hook to hear of every record", heard(int64(total)))
	time.Sleep(300 * time.Millisecond) // three more commit intervals, with nothing new
	r.stop(t)

	mu.Lock()
	defer mu.Unlock()
	t.Logf("reports (heard, held): %v", reports)
	for i, rp := range reports {
		if rp.heard != rp.held {
			t.Errorf("report %d: the hook heard of offset %d; the group held %d", i, rp.heard, rp.held)
		}
		if i > 0 && rp.heard <= reports[i-1].heard {
			t.Errorf("report %d: the hook heard of offset %d after %d", i, rp.heard, reports[i-1].heard)
		}
	}
}

func scored(src *kafka.Source, n int) func() bool {
	return func() bool { return src.Stats().Scored >= uint64(n) }
}

// hookFunc is a kafka.HookCommit.
type hookFunc func(topic string, p int32, off int64)

func (f hookFunc) OnCommit(topic string, p int32, off int64) { f(topic, p, off) }

// storedOffset reads the offset group has committed for topic/p.
func storedOffset(addrs []string, group, topic string, p int32) (int64, error) {
	cfg := sarama.NewConfig()
	cfg.Version = kafka.DefaultVersion
	admin, err := sarama.NewClusterAdmin(addrs, cfg)
	if err != nil {
		return 0, err
	}
	defer admin.Close()
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: {p}})
	if err != nil {
		return 0, err
	}
	b := resp.GetBlock(topic, p)
	if b == nil {
		return 0, fmt.Errorf("no offset of %s/%d", topic, p)
	}
	if b.Err != sarama.ErrNoError {
		return 0, b.Err
	}
	return b.Offset, nil
}
