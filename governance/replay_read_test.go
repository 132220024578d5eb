package governance

import (
	"context"
	"crypto/ed25519"
	"runtime"
	"testing"

	"github.com/modelstream/modelstream/registry"
	"github.com/modelstream/modelstream/serving"
)

// TestReplaySeedReadsNoModelBytes: seeding the replay mark of a name from
// the store needs the last version's name, number and content ID, not
// its bytes. It read the whole stored model (Registry.Latest): with a
// 16 MiB model, 16 MiB allocated on the first message of each name after
// a restart, and as much as the largest model of the fleet at once.
func TestReplaySeedReadsNoModelBytes(t *testing.T) {
	ctx := context.Background()
	store, err := registry.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	big := serving.Descriptor{Name: "fraud", Version: 1, Format: "fake", Bytes: make([]byte, 16<<20)}
	if big, err = Sign(trusted, big); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Put(ctx, big); err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(TrustKeys(trusted.Public().(ed25519.PublicKey)), ReplayFrom(store), WithAudit(mustAudit(t)))
	if err != nil {
		t.Fatal(err)
	}
	next := signed(t, trusted, 2, 2)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := v.Verify(ctx, next); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
		t.Errorf("the replay check allocated %d bytes, want well under the stored model's %d", got, len(big.Bytes))
	}
	// The seeded mark still refuses an older version.
	if err := v.Verify(ctx, signed(t, trusted, 1, 1)); err == nil {
		t.Error("v1 with other content than the stored v1 passed")
	}
}
