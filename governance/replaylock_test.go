package governance

import (
	"context"
	"crypto/ed25519"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelstream/modelstream/registry"
	"github.com/modelstream/modelstream/registry/bolt"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// gatedStorage blocks every View, once armed, until released.
type gatedStorage struct {
	registry.Storage
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (g *gatedStorage) View(ctx context.Context, fn func(registry.Reader) error) error {
	if g.armed.Load() {
		g.entered <- struct{}{}
		<-g.release
	}
	return g.Storage.View(ctx, fn)
}

// TestReplayStoreReadDoesNotBlockOtherNames: while the replay check of
// one name waits on a slow registry read, the Verifier keeps judging
// other names and recording activations. It held its lock across the
// read, so one slow disk stalled every admission and every swap.
func TestReplayStoreReadDoesNotBlockOtherNames(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedStorage{Storage: st, entered: make(chan struct{}), release: make(chan struct{})}
	store, err := registry.New(g)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	v, _ := NewVerifier(TrustKeys(trusted.Public().(ed25519.PublicKey)), ReplayFrom(store), WithAudit(mustAudit(t)))
	ctx := context.Background()

	g.armed.Store(true)
	slow := make(chan error, 1)
	go func() { slow <- v.Verify(ctx, signed(t, trusted, 1, 1)) }()
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the replay check never read the store")
	}
	defer close(g.release)

	other := servingtest.Spec{Value: 2}.Descriptor("other", 3)
	done := make(chan error, 1)
	go func() {
		v.OnModelEvent(serving.ModelEvent{Kind: serving.EventActivated, Model: other.Ref()})
		done <- v.Verify(ctx, servingtest.Spec{Value: 2}.Descriptor("other", 4))
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("verify other@4: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a slow registry read of one name blocked the Verifier for every other name")
	}
	g.armed.Store(false)
	g.release <- struct{}{}
	if err := <-slow; err != nil {
		t.Fatalf("verify fraud@1 after the slow read: %v", err)
	}
}
