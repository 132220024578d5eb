package governance

import (
	"context"
	"crypto/ed25519"
	"errors"
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

// TestActivationDuringReplayReadKeepsTheMark: a version that goes live
// while the replay check of its name reads the registry is not
// forgotten when the read returns. The read brings the version the
// store holds (v2, or nothing); the activation of v5 recorded meanwhile
// is newer and must stay the mark, so v3 and v4 are replays. Without
// the merge the read overwrote the mark with v2 (or left v3 unjudged),
// and every version between was admitted; nothing tested it.
func TestActivationDuringReplayReadKeepsTheMark(t *testing.T) {
	for _, stored := range []bool{true, false} {
		st, err := bolt.Open(filepath.Join(t.TempDir(), "r.db"))
		if err != nil {
			t.Fatal(err)
		}
		g := &gatedStorage{Storage: st, entered: make(chan struct{}), release: make(chan struct{})}
		store, err := registry.New(g)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if stored {
			if _, err := store.Put(ctx, signed(t, trusted, 2, 2)); err != nil {
				t.Fatal(err)
			}
		}
		v, _ := NewVerifier(TrustKeys(trusted.Public().(ed25519.PublicKey)), ReplayFrom(store), WithAudit(mustAudit(t)))

		g.armed.Store(true)
		first := make(chan error, 1)
		go func() { first <- v.Verify(ctx, signed(t, trusted, 3, 3)) }()
		<-g.entered
		// v5 goes live while the check of v3 waits on the read.
		v.OnModelEvent(serving.ModelEvent{Kind: serving.EventActivated, Model: signed(t, trusted, 5, 5).Ref()})
		g.armed.Store(false)
		g.release <- struct{}{}
		if err := <-first; !errors.Is(err, ErrReplay) {
			t.Errorf("stored %v: v3, judged while v5 went live: %v, want ErrReplay", stored, err)
		}
		if err := v.Verify(ctx, signed(t, trusted, 4, 4)); !errors.Is(err, ErrReplay) {
			t.Errorf("stored %v: v4 after v5 went live: %v, want ErrReplay", stored, err)
		}
		store.Close()
	}
}
