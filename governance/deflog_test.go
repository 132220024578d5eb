package governance

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving/servingtest"
)

// A Verifier given no Audit logged a received and a verified line at
// Info for every model into the program's default logger; it now logs
// through slog.Default() at Warn and above only, so rejections still
// show.
func TestVerifierDefaultLogsWarningsOnly(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(old) })

	v, err := NewVerifier(TrustKeys(trusted.Public().(ed25519.PublicKey)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := v.Verify(ctx, servingtest.Spec{Value: 1}.Descriptor("m", 1)); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); out != "" {
		t.Errorf("an accepted model logged into the default logger: %s", out)
	}
	if err := v.Verify(ctx, signed(t, untrusted, 3, 3)); !errors.Is(err, ErrUntrustedKey) {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "untrusted") {
		t.Errorf("a rejection was not logged at Warn: %q", out)
	}
}
