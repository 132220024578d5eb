package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// origin locates the input record an output answers.
type origin struct {
	part int32
	off  int64
}

// outputs reads the scores and dead-letter topics from the start and
// indexes every output by the input it answers.
type outputs struct {
	client sarama.Client
	cols   map[string]*collector
	read   map[string]map[int32]int64 // topic -> partition -> next offset read
	count  map[origin]int
}

func newOutputs(t testing.TB, c *kafkatest.Cluster) *outputs {
	t.Helper()
	client, err := sarama.NewClient(c.Addrs(), sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	o := &outputs{client: client, cols: map[string]*collector{}, read: map[string]map[int32]int64{}, count: map[origin]int{}}
	for _, topic := range []string{kafka.DefaultScoresTopic, kafka.DefaultDeadLetterTopic} {
		o.cols[topic] = collect(t, c, topic)
		o.read[topic] = map[int32]int64{}
	}
	return o
}

// drain reads both topics up to their high-water marks, so that every
// output the cluster holds now is counted, and returns the origins of
// the outputs it read, in the order read.
func (o *outputs) drain(t testing.TB) []origin {
	t.Helper()
	var got []origin
	for topic, col := range o.cols {
		parts, err := o.client.Partitions(topic)
		if err != nil {
			t.Fatal(err)
		}
		hw := map[int32]int64{}
		for _, p := range parts {
			if hw[p], err = o.client.GetOffset(topic, p, sarama.OffsetNewest); err != nil {
				t.Fatal(err)
			}
		}
		behind := func() bool {
			for p, h := range hw {
				if o.read[topic][p] < h {
					return true
				}
			}
			return false
		}
		for behind() {
			m := col.next(t, 1)[0]
			o.read[topic][m.Partition] = m.Offset + 1
			var at origin
			if topic == kafka.DefaultScoresTopic {
				s := decodeScore(t, m)
				at = origin{s.Partition, s.Offset}
			} else {
				p, err1 := strconv.ParseInt(header(m, wire.HeaderDLQPartition), 10, 32)
				off, err2 := strconv.ParseInt(header(m, wire.HeaderDLQOffset), 10, 64)
				if err1 != nil || err2 != nil {
					t.Fatalf("dead letter without its origin: %v", m.Headers)
				}
				at = origin{int32(p), off}
			}
			o.count[at]++
			got = append(got, at)
		}
	}
	return got
}

// missingBelow returns the first input of partition p below off that has
// no output, or -1.
func (o *outputs) missingBelow(p int32, off int64) int64 {
	for i := range off {
		if o.count[origin{p, i}] == 0 {
			return i
		}
	}
	return -1
}

// commitLog is a kafka.HookCommit that keeps every commit it is told of.
type commitLog struct {
	mu      sync.Mutex
	commits []origin // partition and committed (next) offset
	on      func(n int)
}

func (h *commitLog) OnCommit(_ string, p int32, off int64) {
	h.mu.Lock()
	h.commits = append(h.commits, origin{p, off})
	n, on := len(h.commits), h.on
	h.mu.Unlock()
	if on != nil {
		on(n)
	}
}

func (h *commitLog) all() []origin {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]origin(nil), h.commits...)
}

// last returns the last committed offset the hook saw per partition.
func (h *commitLog) last() map[int32]int64 {
	out := map[int32]int64{}
	for _, c := range h.all() {
		out[c.part] = c.off
	}
	return out
}

// committedOffsets reads the group's committed offsets of topic from the
// cluster (an OffsetFetch through sarama's admin client). A partition
// with no commit is absent.
func committedOffsets(t testing.TB, c *kafkatest.Cluster, group, topic string, parts int32) map[int32]int64 {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = kafka.DefaultVersion
	admin, err := sarama.NewClusterAdmin(c.Addrs(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ps := make([]int32, parts)
	for i := range ps {
		ps[i] = int32(i)
	}
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: ps})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	for p, b := range resp.Blocks[topic] {
		if b.Err != sarama.ErrNoError {
			t.Fatalf("committed offset of %s/%d: %v", topic, p, b.Err)
		}
		if b.Offset >= 0 {
			out[p] = b.Offset
		}
	}
	return out
}

// checkCommitted fails the test when an offset committed on partition p
// covers an input that has no output in the cluster.
func checkCommitted(t testing.TB, o *outputs, how string, p int32, off int64) {
	t.Helper()
	if miss := o.missingBelow(p, off); miss >= 0 {
		t.Errorf("%s: offset %d of %s/%d committed, but input %d has no acknowledged output", how, off, kafka.DefaultDataTopic, p, miss)
	}
}

// lateFailureRecords returns n records from from on; every tenth is not
// JSON, so that it is dead-lettered.
func lateFailureRecords(from, n int) ([]string, [][]byte) {
	keys, vals := records(from, n)
	for i := range vals {
		if (from+i)%10 == 3 {
			vals[i] = []byte(fmt.Sprintf("[%d, bad", from+i))
		}
	}
	return keys, vals
}

// TestSourceLateWriteFailures: writes of scores and dead letters fail
// after they were sent, as the broker answers the produce request. Some
// fail for good (INVALID_RECORD, not retried): the Source stops with the
// error. Others, at random, are written by the broker and answered with
// NOT_ENOUGH_REPLICAS_AFTER_APPEND, which the producer retries. After
// every run, no offset committed (as the commit hook reported it, and as
// the group's committed offsets in the cluster say) covers an input
// without an output; after the restarts every input has an output, and
// the last run commits everything.
//
// A Source that marks an offset when it sends the output rather than
// when Kafka acknowledges it fails this test: it commits past the write
// that failed for good, and that input is never answered.
func TestSourceLateWriteFailures(t *testing.T) {
	const (
		parts  = 3
		chunk  = 1500
		rounds = 4 // runs that end with a write refused for good
		group  = "late"
	)
	c := kafkatest.New(t, kafkatest.NumBrokers(2), kafkatest.Topic(kafka.DefaultDataTopic, parts),
		kafkatest.Topic(kafka.DefaultScoresTopic, 2), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	out := newOutputs(t, c)

	// The cluster goroutine runs the When filters one at a time.
	frng := rand.New(rand.NewPCG(3, 5))
	for _, topic := range []string{kafka.DefaultScoresTopic, kafka.DefaultDeadLetterTopic} {
		c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Err: kerr.NotEnoughReplicasAfterAppend, Count: -1,
			When: func(kmsg.Request) bool { return frng.IntN(8) == 0 }})
	}

	rng := rand.New(rand.NewPCG(11, 13))
	total := 0
	for round := range rounds + 1 {
		keys, vals := lateFailureRecords(total, chunk)
		produce(t, c, kafka.DefaultDataTopic, keys, vals)
		total += chunk
		hook := &commitLog{}
		final := round == rounds
		var refused atomic.Int64
		if !final {
			topic := kafka.DefaultScoresTopic
			if round%2 == 1 {
				topic = kafka.DefaultDeadLetterTopic
			}
			var skip atomic.Int64
			skip.Store(int64(rng.IntN(3)))
			c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Err: kerr.InvalidRecord, Count: 1,
				When: func(kmsg.Request) bool {
					if skip.Add(-1) >= 0 {
						return false
					}
					refused.Add(1)
					return true
				}})
		}
		r := startSource(t, c, group, srv.Model("m"), kafka.Window(32), kafka.Hooks(hook))
		if final {
			waitFor(t, "an output for every input", func() bool {
				out.drain(t)
				for p := range int32(parts) {
					if out.missingBelow(p, highWater(t, out.client, kafka.DefaultDataTopic, p)) >= 0 {
						return false
					}
				}
				return true
			})
			r.stop(t)
		} else {
			waitFor(t, "a write refused for good", func() bool { return refused.Load() > 0 })
			var err error
			select {
			case err = <-r.done:
			case <-time.After(10 * time.Second):
				// Go on to the checks: they say what was committed.
				t.Errorf("round %d: Run did not stop within 10s of a write refused for good", round)
				r.cancel()
				err = <-r.done
			}
			r.cancel()
			r.cancel = nil
			r.sink.Close()
			// The refused write, or a write of the same producer that the
			// refusal fenced (the producer bumps its epoch after it).
			var kerr sarama.KError
			if !errors.As(err, &kerr) {
				t.Errorf("round %d: Run returned %v, want the broker's refusal of a write", round, err)
			} else {
				t.Logf("round %d: Run stopped: %v", round, err)
			}
		}
		out.drain(t)
		commits := hook.all()
		for _, cm := range commits {
			checkCommitted(t, out, fmt.Sprintf("round %d, commit hook", round), cm.part, cm.off)
		}
		inCluster := committedOffsets(t, c, group, kafka.DefaultDataTopic, parts)
		for p, off := range inCluster {
			checkCommitted(t, out, fmt.Sprintf("round %d, group offsets", round), p, off)
		}
		for p, off := range hook.last() {
			if inCluster[p] != off {
				t.Errorf("round %d: the commit hook last reported offset %d of partition %d; the cluster has %d", round, off, p, inCluster[p])
			}
		}
		t.Logf("round %d: %d commits, group offsets %v, stats %+v", round, len(commits), inCluster, r.src.Stats())
		if final {
			for p := range int32(parts) {
				if hw := highWater(t, out.client, kafka.DefaultDataTopic, p); inCluster[p] != hw {
					t.Errorf("after the last run, partition %d is committed at %d, want its end %d", p, inCluster[p], hw)
				}
			}
		}
		if t.Failed() {
			return
		}
	}
	dups := 0
	for _, n := range out.count {
		dups += n - 1
	}
	t.Logf("%d inputs, %d answered, %d duplicates", total, len(out.count), dups)
}

// highWater returns the offset after the last record of topic/p.
func highWater(t testing.TB, client sarama.Client, topic string, p int32) int64 {
	t.Helper()
	off, err := client.GetOffset(topic, p, sarama.OffsetNewest)
	if err != nil {
		t.Fatal(err)
	}
	return off
}

// TestSourceCrashResumes crashes the Source 4 times while 15k records
// flow, each time at a random point after a random number (at least two)
// of commits, and restarts it. After each crash:
//   - the group's committed offsets in the cluster are those the commit
//     hook last reported;
//   - the restarted Source's first output of each partition answers the
//     input at the committed offset: the replay starts there, neither
//     before (more duplicates) nor after (lost inputs);
//   - the inputs answered twice are those written past the committed
//     offsets, and there are no more of them than what was in flight at
//     the crash (the window of each partition) plus what was
//     acknowledged after the previous commit.
//
// In the end every input has an output.
func TestSourceCrashResumes(t *testing.T) {
	const (
		parts   = 2
		window  = 32
		n       = 15000
		crashes = 4
		group   = "resume"
	)
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, parts), kafkatest.Topic(kafka.DefaultScoresTopic, 2), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	out := newOutputs(t, c)
	keys, vals := records(0, n)
	produce(t, c, kafka.DefaultDataTopic, keys, vals)
	// A scorer slow enough that a run lasts several commit intervals.
	slow := serving.ScorerFunc(func(ctx context.Context, r serving.Record) (serving.Result, error) {
		time.Sleep(20 * time.Microsecond)
		return srv.Model("m").Score(ctx, r)
	})

	rng := rand.New(rand.NewPCG(5, 8))
	var prev map[int32]int64 // committed offsets at the last crash
	bound, dups := 0, 0
	for round := range crashes + 1 {
		final := round == crashes
		hook := &commitLog{}
		var src atomic.Pointer[kafka.Source]
		type snap struct{ commits, acked uint64 }
		var snaps []snap // one per hook call, in the hook's goroutine until the crash
		crashAt := 2 + rng.IntN(4)
		delay := time.Duration(rng.IntN(80)) * time.Millisecond // within the commit interval
		crashing := false
		if !final {
			hook.on = func(int) {
				s := src.Load()
				if s == nil {
					return
				}
				st := s.Stats()
				snaps = append(snaps, snap{st.Commits, st.Scored + st.DeadLettered})
				if st.Commits == uint64(crashAt) && !crashing {
					crashing = true
					time.AfterFunc(delay, func() { kafka.Crash(s) })
				}
			}
		}
		r := startSource(t, c, group, slow, kafka.Window(window), kafka.Workers(2), kafka.Hooks(hook))
		src.Store(r.src)
		var got []origin // this run's outputs
		if final {
			waitFor(t, "an output for every input", func() bool {
				got = append(got, out.drain(t)...)
				return len(out.count) == n
			})
			r.stop(t)
		} else {
			select {
			case <-r.done:
			case <-time.After(time.Minute):
				t.Fatalf("round %d: no crash within a minute (%d hook calls)", round, len(hook.all()))
			}
			r.cancel()
			r.cancel = nil
			r.sink.Close() // what was sent before the crash reaches the cluster
		}
		got = append(got, out.drain(t)...)
		if prev != nil {
			// Outputs of one input partition spread over the scores
			// partitions, so the replay's start is the least input
			// offset answered, not the first read.
			first := map[int32]int64{}
			for _, o := range got {
				if f, ok := first[o.part]; !ok || o.off < f {
					first[o.part] = o.off
				}
			}
			for p, off := range first {
				if off != prev[p] {
					t.Errorf("round %d: the replay of partition %d starts at input %d; the committed offset is %d", round, p, off, prev[p])
				}
			}
		}
		if final {
			break
		}
		committed := committedOffsets(t, c, group, kafka.DefaultDataTopic, parts)
		// The cluster is at or ahead of the hook's last report, never
		// behind it. Ahead, by up to what was acknowledged since: a
		// commit sent after the hook's last report may have its
		// read-back cut off by the crash. (The hook hears of what each
		// read-back finds, TestCommitHookHearsTheOffsetStored; a commit
		// at or before the acknowledgements is what the replay check
		// above and the duplicate bound below hold the Source to.)
		for p, off := range hook.last() {
			if committed[p] < off {
				t.Errorf("round %d: the commit hook last reported offset %d of partition %d; the cluster has only %d", round, off, p, committed[p])
			}
		}
		// Inputs written past the committed offsets are answered again.
		past := 0
		for _, o := range got {
			if o.off >= committed[o.part] {
				past++
			}
		}
		st := r.src.Stats()
		last := snaps[len(snaps)-1].commits
		var base uint64
		for _, s := range snaps {
			if s.commits == last-1 && (base == 0 || s.acked < base) {
				base = s.acked
			}
		}
		allowed := int(st.Scored+st.DeadLettered-base) + parts*window
		t.Logf("round %d: crashed after commit %d, committed %v, %d outputs past them (allowed %d: %d acknowledged since the previous commit, %d in flight); stats %+v",
			round, last, committed, past, allowed, st.Scored+st.DeadLettered-base, parts*window, st)
		if past > allowed {
			t.Errorf("round %d: %d inputs will be answered twice, more than the %d in flight or acknowledged after the previous commit", round, past, allowed)
		}
		if len(snaps) == 0 || last < 1 {
			t.Errorf("round %d: crashed before any commit", round)
		}
		bound += allowed
		dups += past
		prev = committed
	}
	total := 0
	for _, k := range out.count {
		total += k - 1
	}
	t.Logf("%d inputs, %d duplicates after %d crashes (at most %d allowed)", n, total, crashes, bound)
	if total != dups {
		t.Errorf("%d duplicates; the outputs written past the committed offsets at the crashes were %d", total, dups)
	}
}
