package governance

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/modelstream/modelstream/serving"
)

// BenchmarkVerify measures one Verify of a signed model: the SHA-256 of
// its bytes plus one ed25519 verification. The bytes dominate for large
// models; size=0 is a Location-only descriptor (signature check only).
// Each iteration verifies a new version, so the replay check passes.
func BenchmarkVerify(b *testing.B) {
	pub := trusted.Public().(ed25519.PublicKey)
	for _, size := range []int{0, 1 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("size=%dKiB", size>>10), func(b *testing.B) {
			a, _ := NewAudit(AuditLogger(quiet()))
			v, _ := NewVerifier(TrustKeys(pub), RequireSignature(), WithAudit(a))
			body := make([]byte, max(size, 1))
			rand.Read(body)
			// Signatures are made outside the timer, one per version.
			const n = 1024
			ds := make([]serving.Descriptor, n)
			for i := range ds {
				d := serving.Descriptor{Name: "m", Format: "blob", Version: uint64(i + 1), Bytes: body}
				if size == 0 {
					d.Bytes, d.SHA256, d.Location = nil, serving.ContentID(body), "file:///m"
				}
				ds[i], _ = Sign(trusted, d)
			}
			if size > 0 {
				b.SetBytes(int64(size))
			}
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%n == 0 && i > 0 {
					b.StopTimer()
					v.last = map[string]serving.ModelRef{} // start the versions again
					b.StartTimer()
				}
				if err := v.Verify(ctx, ds[i%n]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyBaseline is the floor under BenchmarkVerify, measured
// in the same run: a bare ed25519.Verify of the same payload, and a bare
// SHA-256 of 1 MiB.
func BenchmarkVerifyBaseline(b *testing.B) {
	pub := trusted.Public().(ed25519.PublicKey)
	d, _ := Sign(trusted, serving.Descriptor{Name: "m", Format: "blob", Version: 1, Bytes: []byte("x")})
	payload, _ := SigningPayload(d)
	sig := d.Signature[KeyIDSize:]
	b.Run("ed25519.Verify", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if !ed25519.Verify(pub, payload, sig) {
				b.Fatal("bad signature")
			}
		}
	})
	b.Run("sha256/size=1024KiB", func(b *testing.B) {
		body := make([]byte, 1<<20)
		b.SetBytes(int64(len(body)))
		for i := 0; i < b.N; i++ {
			serving.ContentID(body)
		}
	})
}

// BenchmarkSign measures signing a 1 KiB model.
func BenchmarkSign(b *testing.B) {
	d := serving.Descriptor{Name: "m", Format: "blob", Version: 1, Bytes: make([]byte, 1<<10)}
	for i := 0; i < b.N; i++ {
		if _, err := Sign(trusted, d); err != nil {
			b.Fatal(err)
		}
	}
}
