package kafkafeed_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestTransientStoreFailure: the store refuses one write, the Put of v2,
// and takes the next ones again. v2 did not go live and was not stored,
// so the offset recorded must not move past it, neither with v2's own
// event nor with v3's after it: a restart must read v2 again. Before the
// fix the resume point moved past v2 and the restarted instance never
// saw it (the next run started at v3's offset, or after it).
func TestTransientStoreFailure(t *testing.T) {
	ctx := context.Background()
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	publish := publisher(t, c)
	path := filepath.Join(t.TempDir(), "registry.db")
	var failNext atomic.Int32 // writes left to fail
	start := func() *feedRun {
		return startFeedRun(t, c, path, func() bool { return failNext.Add(-1) >= 0 })
	}

	publish(1, 1)
	a := start()
	if e := a.next(t); e.Err != nil || e.Model.Version != 1 {
		t.Fatalf("v1: %+v", e)
	}
	failNext.Store(1) // the Put of v2 only
	publish(2, 2)
	if e := a.next(t); !errors.Is(e.Err, errDiskFull) || e.Model.Version != 2 {
		t.Fatalf("v2 while the store fails once: %+v, want its refusal caused by the store", e)
	}
	publish(3, 3)
	if e := a.next(t); e.Err != nil || e.Model.Version != 3 {
		t.Fatalf("v3 once the store writes again: %+v", e)
	}
	if offs, err := a.store.Offsets(ctx, kafka.DefaultModelsTopic); err != nil || offs[0] != 1 {
		t.Errorf("recorded offsets %v, %v; want partition 0 still at v2's offset (1), which no run has stored", offs, err)
	}
	a.stop()

	b := start()
	defer b.stop()
	// No history was recorded (no Follower), so nothing is restored: v2
	// is read again and goes live, then v3.
	if e := b.next(t); e.Offset != 1 || e.Model.Version != 2 || e.Err != nil {
		t.Fatalf("after the restart: %+v, want v2 read again at offset 1 and activated", e)
	}
	if e := b.next(t); e.Offset != 2 || e.Model.Version != 3 || e.Err != nil {
		t.Fatalf("after the restart: %+v, want v3 at offset 2", e)
	}
	if vs, err := b.store.List(ctx, "fraud"); err != nil || len(vs) != 3 {
		t.Errorf("stored %v, %v; want v1, v2 and v3", vs, err)
	}
}
