package governance

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/modelstream/modelstream/registry"
	"github.com/modelstream/modelstream/serving"
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
	v, err := NewVerifier(TrustKeys(trusted.Public().(ed25519.PublicKey)), WithPolicy(Policy{RequireSignature: true}),
		ReplayFrom(store), WithAudit(mustAudit(t)))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serving.NewServer(serving.WithLogger(quiet()), serving.WithAdmission(v))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
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
