package governance

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
)

// stuckSink ignores its context: while stuck, a write waits for release,
// as a sink wrapping a client call that takes no context does.
type stuckSink struct {
	stuck   atomic.Bool
	release chan struct{}
	calls   atomic.Int64
	mu      sync.Mutex
	taken   []uint64
}

func (s *stuckSink) WriteAudit(_ context.Context, e Event) error {
	s.calls.Add(1)
	if s.stuck.Load() {
		<-s.release
	}
	s.mu.Lock()
	s.taken = append(s.taken, e.Model.Version)
	s.mu.Unlock()
	return nil
}

// recordWithin runs a.Record and fails the test if it has not returned
// after d: the bound is what a caller (the model feed, the Server) could
// be held, and d is far above AuditTimeout.
func recordWithin(t *testing.T, a *Audit, v uint64, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Record(context.Background(), Event{Kind: KindReceived, Model: serving.ModelRef{Name: "m", Version: v}})
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("Record of v%d still blocked after %v (AuditTimeout %v)", v, d, a.timeout)
	}
}

// A sink that ignores its context held the first Record for as long as
// it blocked, for ever here: the model feed or Server that recorded the
// event stalled with it. Record now waits AuditTimeout, marks the sink
// down and drops events while the stuck write is pending; when that
// write returns and took its event, the sink is up again and the event
// is not counted lost.
func TestAuditSinkIgnoringContextDoesNotBlock(t *testing.T) {
	const timeout = 50 * time.Millisecond
	sink := &stuckSink{release: make(chan struct{})}
	var logs syncBuffer
	a, err := NewAudit(AuditLogger(slog.New(slog.NewTextHandler(&logs, nil))), AuditTo(sink), AuditTimeout(timeout))
	if err != nil {
		t.Fatal(err)
	}
	sink.stuck.Store(true)
	recordWithin(t, a, 1, 10*time.Second)
	for v := uint64(2); v <= 20; v++ {
		recordWithin(t, a, v, 10*time.Second)
	}
	if n := sink.calls.Load(); n != 1 {
		t.Fatalf("the sink was called %d times while a write was stuck in it, want 1", n)
	}
	if lost, _ := a.SinkFailures(); lost != 20 {
		t.Fatalf("%d events counted lost while the sink was stuck, want 20", lost)
	}
	if !strings.Contains(logs.String(), "audit sink down") {
		t.Fatalf("the stuck sink was not reported down: %s", logs.String())
	}

	sink.stuck.Store(false)
	close(sink.release)
	deadline := time.Now().Add(10 * time.Second)
	for {
		a.mu.Lock()
		up := !a.down
		a.mu.Unlock()
		if up {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sink did not come back up once its write returned")
		}
		time.Sleep(time.Millisecond)
	}
	recordWithin(t, a, 21, 10*time.Second)
	sink.mu.Lock()
	taken := append([]uint64(nil), sink.taken...)
	sink.mu.Unlock()
	if len(taken) != 2 || taken[0] != 1 || taken[1] != 21 {
		t.Fatalf("the sink took %v, want [1 21]", taken)
	}
	lost, _ := a.SinkFailures()
	if recorded := a.events.Load(); uint64(len(taken))+lost != recorded {
		t.Fatalf("%d events recorded, %d taken and %d counted lost", recorded, len(taken), lost)
	}
}
