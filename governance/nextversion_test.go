package governance

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// TestUnsignedNextVersionAdmitted: Activate's Version 0 ("the next
// version") works behind a Verifier. The Server asks its Admitter before
// it numbers the version, so the Verifier sees Version 0; it used to
// refuse every such model with "version 0 cannot be signed", signed or
// not, and its replay guard would have called 0 older than the live
// version. Unsigned, it passes when the policy allows unsigned models,
// and fails as unsigned (ErrUnsigned) when it does not; a signature over
// version 0 is still refused as invalid.
func TestUnsignedNextVersionAdmitted(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	audit, err := NewAudit(AuditLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(TrustKeys(trusted.Public().(ed25519.PublicKey)), WithAudit(audit))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serving.NewServer(serving.WithAdmission(v), serving.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	next := servingtest.Spec{Value: 1}.Descriptor("m", 0)
	for want := uint64(1); want <= 2; want++ {
		ref, err := srv.Activate(ctx, next)
		if err != nil || ref.Version != want {
			t.Fatalf("unsigned Version 0: %v, %v; want m@v%d", ref, err, want)
		}
	}
	// A stale explicit version is still a replay.
	old := servingtest.Spec{Value: 2}.Descriptor("m", 1)
	if err := v.Verify(ctx, old); !errors.Is(err, ErrReplay) {
		t.Fatalf("m@v1 after m@v2: %v, want ErrReplay", err)
	}
	// Checks 1 and 2 still apply to Version 0.
	bad := next
	bad.SHA256 = serving.ContentID([]byte("other bytes"))
	if err := v.Verify(ctx, bad); !errors.Is(err, serving.ErrChecksum) {
		t.Fatalf("Version 0 with a wrong sha256: %v, want ErrChecksum", err)
	}
	// A signature cannot cover "the next version".
	sig := next
	sig.Signature = make([]byte, SignatureSize)
	if err := v.Verify(ctx, sig); !errors.Is(err, serving.ErrInvalidDescriptor) {
		t.Fatalf("signed Version 0: %v, want ErrInvalidDescriptor", err)
	}

	strict, err := NewVerifier(TrustKeys(trusted.Public().(ed25519.PublicKey)), RequireSignature(), WithAudit(audit))
	if err != nil {
		t.Fatal(err)
	}
	srv2, err := serving.NewServer(serving.WithAdmission(strict), serving.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	if _, err := srv2.Activate(ctx, next); !errors.Is(err, ErrUnsigned) || !errors.Is(err, serving.ErrNotAdmitted) {
		t.Fatalf("unsigned Version 0 under RequireSignature: %v, want ErrUnsigned", err)
	}
}
