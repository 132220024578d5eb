package governance

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestVerifierMemoryUnderNameFlood: 200,000 model messages, each under a
// new name, that the Verifier admits and the Server then fails to load
// (or that never arrive at the Server at all) must not grow the
// Verifier: it remembers a name only once a version of it went live.
// When it remembered every admitted name, this flood kept about 35 MiB.
func TestVerifierMemoryUnderNameFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("200,000 verifications")
	}
	v, err := NewVerifier(WithAudit(mustAudit(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	base := servingtest.Spec{Value: 1}.Descriptor("x", 1)
	n := 200_000
	if raceEnabled {
		n = 20_000
	}
	before := heapInUse()
	for i := range n {
		d := base
		d.Name = fmt.Sprintf("flood-%07d-%s", i, "padding-to-a-realistic-name-length")
		d.Version = uint64(i%1000 + 1)
		if err := v.Verify(ctx, d); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		v.OnModelEvent(serving.ModelEvent{Kind: serving.EventRejected, Model: d.Ref(), Err: serving.ErrCorruptModel})
	}
	after := heapInUse()
	grew := int64(after) - int64(before)
	t.Logf("%d admitted names that never went live: heap %+d bytes", n, grew)
	if grew > 2<<20 {
		t.Errorf("heap grew by %d bytes for %d admitted names that never went live, want < 2 MiB", grew, n)
	}
	if got := v.Stats().Verified; got != uint64(n) {
		t.Errorf("Verified = %d, want %d", got, n)
	}
	runtime.KeepAlive(v)
}
