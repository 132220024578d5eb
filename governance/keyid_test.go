package governance_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"sync"
	"testing"

	"github.com/modelstream/modelstream/governance"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// TestKeyIDOfNamesTheSigner: KeyIDOf gives a key's ID in the form an
// audit event carries it, so that ev.KeyID == KeyIDOf(pub) tells which
// trusted key signed a model; and it is the hex of the signature's first
// KeyIDSize bytes, the first bytes of the key's SHA-256.
func TestKeyIDOfNamesTheSigner(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pub)
	id := governance.KeyIDOf(pub)
	if want := hex.EncodeToString(sum[:governance.KeyIDSize]); id != want {
		t.Fatalf("KeyIDOf = %q, want %q", id, want)
	}
	d, err := governance.Sign(priv, servingtest.Spec{Value: 1}.Descriptor("m", 1))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(d.Signature[:governance.KeyIDSize]); got != id {
		t.Fatalf("signature opens with key ID %s, KeyIDOf says %s", got, id)
	}
	var mu sync.Mutex
	var verified []governance.Event
	audit, err := governance.NewAudit(governance.AuditLogger(slog.New(slog.DiscardHandler)), governance.AuditTo(governance.AuditSinkFunc(func(_ context.Context, e governance.Event) error {
		if e.Kind == governance.KindVerified {
			mu.Lock()
			verified = append(verified, e)
			mu.Unlock()
		}
		return nil
	})))
	if err != nil {
		t.Fatal(err)
	}
	v, err := governance.NewVerifier(governance.TrustKeys(pub), governance.WithAudit(audit))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(verified) != 1 || verified[0].KeyID != id {
		t.Fatalf("verified events %+v, want one with KeyID %s", verified, id)
	}
}
