package governance

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
)

// outageSink blocks every write until its context ends while out is
// set, as a producer does whose brokers are unreachable, and takes every
// write otherwise.
type outageSink struct {
	out   atomic.Bool
	calls atomic.Int64
	mu    sync.Mutex
	taken []uint64 // versions of the events taken, in order
}

func (s *outageSink) WriteAudit(ctx context.Context, e Event) error {
	s.calls.Add(1)
	if s.out.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	s.mu.Lock()
	s.taken = append(s.taken, e.Model.Version)
	s.mu.Unlock()
	return nil
}

func (s *outageSink) takenVersions() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint64(nil), s.taken...)
}

// syncBuffer is a bytes.Buffer safe for the probe goroutine's logging.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestAuditOutageDoesNotStallRecord: while the sink blocks, a flood of n
// events must not cost n × AuditTimeout. The first write times out and
// marks the sink down; the rest are dropped or probed without waiting,
// each counted; once the sink takes a probe, events are written again,
// in order. Before the sink was marked down, recording the flood took
// n × AuditTimeout (30 s here).
func TestAuditOutageDoesNotStallRecord(t *testing.T) {
	const (
		n       = 300
		timeout = 100 * time.Millisecond
	)
	sink := &outageSink{}
	var logs syncBuffer
	a, err := NewAudit(AuditLogger(slog.New(slog.NewTextHandler(&logs, nil))), AuditTo(sink), AuditTimeout(timeout))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a.Record(ctx, Event{Kind: KindReceived, Model: serving.ModelRef{Name: "m", Version: 1}})
	sink.out.Store(true)
	start := time.Now()
	for i := range n {
		a.Record(ctx, Event{Kind: KindRejected, Model: serving.ModelRef{Name: "junk", Version: uint64(100 + i)}})
	}
	// Far below n × timeout = 30 s, however loaded the machine.
	if took := time.Since(start); took > n*timeout/5 {
		t.Fatalf("%d events during a sink outage took %v (timeout %v)", n, took, timeout)
	}
	if got := strings.Count(logs.String(), "audit sink down"); got != 1 {
		t.Fatalf("outage logged %d times, want once", got)
	}
	if calls := sink.calls.Load(); calls >= n {
		t.Fatalf("a down sink was called %d times for %d events", calls, n)
	}

	// The sink comes back: some event's probe succeeds, and from then on
	// every event is written by Record itself, in order.
	sink.out.Store(false)
	deadline := time.Now().Add(time.Minute)
	v := uint64(1000)
	for {
		v++
		a.Record(ctx, Event{Kind: KindReceived, Model: serving.ModelRef{Name: "m", Version: v}})
		a.mu.Lock()
		up := !a.down
		a.mu.Unlock()
		if up {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sink did not come back up")
		}
		time.Sleep(timeout / 10)
	}
	if !strings.Contains(logs.String(), "audit sink up again") {
		t.Fatalf("recovery not logged: %s", logs.String())
	}
	for i := uint64(1); i <= 3; i++ {
		a.Record(ctx, Event{Kind: KindReceived, Model: serving.ModelRef{Name: "m", Version: v + i}})
	}
	taken := sink.takenVersions()
	if len(taken) < 4 || taken[0] != 1 || !slicesSorted(taken) || taken[len(taken)-1] != v+3 {
		t.Fatalf("the sink took versions %v: want 1 first, then in order up to %d", taken, v+3)
	}
	// Every event is accounted for: taken by the sink, or counted lost.
	lost, err := a.SinkFailures()
	if err == nil {
		t.Fatal("no last error after an outage")
	}
	if recorded := a.events.Load(); uint64(len(taken))+lost != recorded {
		t.Fatalf("%d events recorded, %d taken and %d counted lost", recorded, len(taken), lost)
	}
}

func slicesSorted(s []uint64) bool {
	for i := 1; i < len(s); i++ {
		if s[i] <= s[i-1] {
			return false
		}
	}
	return true
}
