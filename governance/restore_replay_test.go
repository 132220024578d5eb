package governance

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/modelstream/modelstream/registry"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// TestRestoreDoesNotLowerTheReplayMark: v5 went live, then an operator
// rolled back to v3. After a restart, registry.Restore activates v3 (a
// rollback, which skips the replay check) and, nothing being live yet,
// the Server reports it as an activation. That first event must not
// become the replay mark of a Verifier seeded from the store: the old,
// validly signed v4, replayed on the models topic, must stay refused.
// Before the fix the Restore activation reached the Verifier before any
// store read, v3 became the mark, and v4 went live again.
func TestRestoreDoesNotLowerTheReplayMark(t *testing.T) {
	ctx := context.Background()
	store, err := registry.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for ver := uint64(3); ver <= 5; ver++ {
		if _, err := store.Put(ctx, signed(t, trusted, float64(ver), ver)); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Now().Add(-time.Hour)
	for _, a := range []serving.Activation{
		{Model: signed(t, trusted, 5, 5).Ref(), Kind: serving.EventActivated, At: at},
		{Model: signed(t, trusted, 3, 3).Ref(), Kind: serving.EventRolledBack, At: at.Add(time.Minute)},
	} {
		if err := store.RecordActivation(ctx, a); err != nil {
			t.Fatal(err)
		}
	}

	// The restarted instance.
	srv := guardedServer(t, store)
	if got, err := registry.Restore(ctx, store, srv); err != nil || len(got) != 1 || got[0].Version != 3 {
		t.Fatalf("Restore = %v, %v; want fraud@v3", got, err)
	}
	if _, err := srv.Activate(ctx, signed(t, trusted, 4, 4)); !errors.Is(err, ErrReplay) {
		t.Fatalf("the replayed v4 after a restart on the rolled-back v3: %v, want ErrReplay", err)
	}
	if cur, _ := srv.Current("fraud"); cur.Version != 3 {
		t.Errorf("live is %v, want fraud@v3", cur)
	}
	// A new version still goes live.
	if _, err := srv.Activate(ctx, signed(t, trusted, 6, 6)); err != nil {
		t.Fatalf("v6: %v", err)
	}
}

// TestRollbackStillVerifiesSignatures: a rollback skips only the replay
// check. A version read back from the registry (registry.Rollback, or
// Restore after a restart) must still carry a valid signature by a
// trusted key: the store is a file on disk, and whoever can write it
// must not be able to make an unsigned or re-labelled model live by
// asking for a rollback. Skipping the signature check on that path was
// caught by no test.
func TestRollbackStillVerifiesSignatures(t *testing.T) {
	ctx := context.Background()
	store, err := registry.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	good := signed(t, trusted, 1, 1)
	relabelled := signed(t, trusted, 2, 2)
	relabelled.Labels = map[string]string{"leaves.transform": "raw"}
	for _, d := range []serving.Descriptor{
		good,
		relabelled,
		servingtest.Spec{Value: 3}.Descriptor("fraud", 3), // unsigned
	} {
		if _, err := store.Put(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	srv := guardedServer(t, store)
	if _, err := srv.Activate(ctx, signed(t, trusted, 4, 4)); err != nil {
		t.Fatal(err)
	}
	if _, err := registry.Rollback(ctx, store, srv, "fraud", 3); !errors.Is(err, ErrUnsigned) {
		t.Errorf("rollback to an unsigned stored version: %v, want ErrUnsigned", err)
	}
	if _, err := registry.Rollback(ctx, store, srv, "fraud", 2); !errors.Is(err, ErrBadSignature) {
		t.Errorf("rollback to a stored version whose labels changed after signing: %v, want ErrBadSignature", err)
	}
	if cur, _ := srv.Current("fraud"); cur.Version != 4 {
		t.Errorf("live is %v, want fraud@v4", cur)
	}
	if got, err := registry.Rollback(ctx, store, srv, "fraud", 1); err != nil || got.Version != 1 {
		t.Errorf("rollback to the signed v1: %v, %v", got, err)
	}
}

// guardedServer returns a Server admitting only models signed by the
// trusted key, its replay mark seeded from store, closed at the end of
// the test.
func guardedServer(t *testing.T, store *registry.Registry) *serving.Server {
	t.Helper()
	v, err := NewVerifier(TrustKeys(trusted.Public().(ed25519.PublicKey)), RequireSignature(),
		ReplayFrom(store), WithAudit(mustAudit(t)))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serving.NewServer(serving.WithLogger(quiet()), serving.WithAdmission(v))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}
