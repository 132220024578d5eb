package kafka_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// openProcessSpans returns how many process spans sr saw start, and the
// Kafka offsets of those it never saw end.
func openProcessSpans(sr *tracetest.SpanRecorder) (started int, open []int64) {
	ended := map[trace.SpanID]bool{}
	for _, s := range sr.Ended() {
		ended[s.SpanContext().SpanID()] = true
	}
	for _, s := range sr.Started() {
		if !strings.HasPrefix(s.Name(), "process ") {
			continue
		}
		started++
		if !ended[s.SpanContext().SpanID()] {
			open = append(open, attrs(s)["messaging.kafka.offset"].AsInt64())
		}
	}
	return started, open
}

// TestTracingExactlyOnceAborts: under ExactlyOnce, transactions that
// fail (the broker refusing the offsets, then the commit) are aborted
// and their partitions read again; the process spans of the records
// still queued behind the aborted transaction, scored or being scored,
// end too, as abandoned, rather than stay open.
func TestTracingExactlyOnceAborts(t *testing.T) {
	const (
		parts = 2
		n     = 6000
		group = "trace-eos-aborts"
	)
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, parts))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	var illegal, endFailed atomic.Int64
	var skipOffsets, skipEnd atomic.Int64
	skipOffsets.Store(3)
	skipEnd.Store(6)
	once := func(skip, hit *atomic.Int64) func(kmsg.Request) bool {
		return func(kmsg.Request) bool {
			if skip.Add(-1) >= 0 {
				return false
			}
			hit.Add(1)
			return true
		}
	}
	c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.TxnOffsetCommit}, Err: kerr.IllegalGeneration, Count: 1, When: once(&skipOffsets, &illegal)})
	c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.InvalidTxnState, Count: 1, TopLevel: true, When: once(&skipEnd, &endFailed)})

	keys, vals := records(0, n)
	produce(t, c, kafka.DefaultDataTopic, keys, vals)
	inputs := inputCounts(t, c, kafka.DefaultDataTopic)
	sr, tp := recorder()
	// Many workers keep batches queued behind the transaction, some
	// scored, some not yet.
	r := startSource(t, c, group, srv.Model("m"), kafka.ExactlyOnce(), kafka.Window(1024), kafka.Workers(4),
		kafka.CommitInterval(50*time.Millisecond), kafka.TracerProvider(tp))
	waitFor(t, "every input committed", func() bool { return allCommitted(c.Addrs(), group, inputs) })
	r.stop(t)
	if illegal.Load() == 0 || endFailed.Load() == 0 {
		t.Fatalf("not every fault was met: offsets %d, end %d", illegal.Load(), endFailed.Load())
	}
	if st := r.src.Stats(); st.Aborts < 2 {
		t.Fatalf("%d transactions aborted, want at least 2", st.Aborts)
	}
	started, open := openProcessSpans(sr)
	if started < n {
		t.Errorf("%d process spans started, want at least %d", started, n)
	}
	if len(open) > 0 {
		t.Errorf("%d of %d process spans never ended, at offsets %v", len(open), started, open[:min(len(open), 20)])
	}
	// Each record has exactly one process span that ends as committed,
	// and those of the aborted transactions say so.
	type origin struct {
		part string
		off  int64
	}
	committed := map[origin]int{}
	aborted := 0
	for _, s := range sr.Ended() {
		if !strings.HasPrefix(s.Name(), "process ") {
			continue
		}
		a := attrs(s)
		o := origin{a["messaging.destination.partition.id"].AsString(), a["messaging.kafka.offset"].AsInt64()}
		has := func(prefix string) bool {
			for _, e := range s.Events() {
				if strings.HasPrefix(e.Name, prefix) {
					return true
				}
			}
			return false
		}
		switch {
		case has("transaction aborted"):
			aborted++
			if s.Status().Code != codes.Error {
				t.Errorf("%v: an aborted process span has status %v", o, s.Status())
			}
		case has("abandoned"):
		default:
			committed[o]++
		}
	}
	if aborted == 0 {
		t.Error("no process span says its transaction aborted")
	}
	bad := 0
	for p, end := range inputs {
		for off := range end {
			if k := committed[origin{strconv.Itoa(int(p)), off}]; k != 1 {
				if bad++; bad <= 10 {
					t.Errorf("partition %d offset %d: %d process spans end as committed, want 1", p, off, k)
				}
			}
		}
	}
}

// TestTracingExactlyOnceUnwritable: under ExactlyOnce, a record whose
// output and dead letter the broker both refuses stops Run with the
// error; the process spans of the records it was not written with end
// too, as abandoned, rather than stay open.
func TestTracingExactlyOnceUnwritable(t *testing.T) {
	if raceEnabled {
		t.Skip("race detector on: sarama races with itself on a refused transactional write (see race_on_test.go)")
	}
	const n = 20
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{kafka.DefaultScoresTopic, kafka.DefaultDeadLetterTopic} {
		c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Err: kerr.InvalidRecord, Count: -1})
	}
	keys, vals := records(0, n)
	produce(t, c, kafka.DefaultDataTopic, keys, vals)
	sr, tp := recorder()
	r := startSource(t, c, "trace-eos-unwritable", srv.Model("m"), kafka.ExactlyOnce(),
		kafka.CommitInterval(50*time.Millisecond), kafka.TracerProvider(tp))
	select {
	case err := <-r.done:
		if err == nil || !strings.Contains(err.Error(), "neither its output nor its dead letter") {
			t.Fatalf("Run returned %v, want the record's write error", err)
		}
	case <-time.After(4 * time.Minute):
		// Each refusal aborts and rejoins the group: 40-52 s on an idle
		// machine, and over a minute in a clean-clone CI run.
		t.Fatal("Run did not stop within 4 minutes")
	}
	r.cancel()
	r.cancel = nil
	r.sink.Close()
	started, open := openProcessSpans(sr)
	if started < n {
		t.Errorf("%d process spans started, want at least %d", started, n)
	}
	if len(open) > 0 {
		t.Errorf("%d of %d process spans never ended, at offsets %v", len(open), started, open[:min(len(open), 20)])
	}
}
