package governance_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/modelstream/modelstream/governance"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// A trainer signs each model; every scoring instance verifies it before
// serving it, and a model that fails is never served.
func Example() {
	ctx := context.Background()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32)) // use a real secret
	pub := priv.Public().(ed25519.PublicKey)

	audit, _ := governance.NewAudit(governance.AuditLogger(quiet))
	v, _ := governance.NewVerifier(
		governance.TrustKeys(pub),
		governance.RequireSignature(),
		governance.WithAudit(audit),
	)
	// The Verifier is the Server's admission: every activation passes it.
	srv, _ := serving.NewServer(serving.WithLogger(quiet), serving.WithHooks(audit), serving.WithAdmission(v))
	defer srv.Close()

	v1, _ := governance.Sign(priv, servingtest.Spec{Value: 1}.Descriptor("fraud", 1))
	ref, err := srv.Activate(ctx, v1)
	fmt.Println("admitted:", ref, err)

	unsigned := servingtest.Spec{Value: 2}.Descriptor("fraud", 2)
	_, err = srv.Activate(ctx, unsigned)
	fmt.Println("unsigned:", errors.Is(err, governance.ErrUnsigned), governance.Reason(err))

	tampered, _ := governance.Sign(priv, servingtest.Spec{Value: 2}.Descriptor("fraud", 2))
	tampered.Version = 9 // the signature covers the version
	_, err = srv.Activate(ctx, tampered)
	fmt.Println("tampered:", errors.Is(err, governance.ErrBadSignature), governance.Reason(err))

	live, _ := srv.Current("fraud")
	fmt.Println("still serving:", live)
	fmt.Printf("stats: %+v\n", v.Stats())
	// Output:
	// admitted: fraud@v1 <nil>
	// unsigned: true unsigned
	// tampered: true bad_signature
	// still serving: fraud@v1
	// stats: {Verified:1 Unsigned:0 Invalid:0 Checksum:0 RejectedUnsigned:1 BadSignature:1 UntrustedKey:0 Replay:0}
}

// SigningPayload shows the exact bytes a signature covers, so a trainer
// in another language can produce the same signature.
func ExampleSigningPayload() {
	d := serving.Descriptor{Name: "fraud", Version: 2, Format: "linear", Bytes: []byte(`{"w":[1]}`),
		Labels: map[string]string{"loss": "0.1"}}
	p, _ := governance.SigningPayload(d)
	fmt.Printf("%q\n", p[:15])
	fmt.Printf("% x\n", p[15:15+4+5+8+4+6])
	// After the 32 bytes of the sha256: the labels, counted, by key.
	fmt.Printf("% x\n", p[15+4+5+8+4+6+32:])
	fmt.Println(len(p), "bytes")
	// Output:
	// "modelstream/v2\n"
	// 00 00 00 05 66 72 61 75 64 00 00 00 00 00 00 00 02 00 00 00 06 6c 69 6e 65 61 72
	// 00 00 00 01 00 00 00 04 6c 6f 73 73 00 00 00 03 30 2e 31
	// 93 bytes
}
