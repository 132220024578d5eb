package governance

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving"
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

// A model the Verifier refused as a Server's Admitter was logged twice
// at Warn, by the Verifier's default Audit and by the Server; it is
// logged once, by the Server, whose line carries the Verifier's error.
func TestAdmissionRefusalLoggedOnce(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(old) })

	v, err := NewVerifier(TrustKeys(trusted.Public().(ed25519.PublicKey)))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serving.NewServer(serving.WithAdmission(v))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := srv.Activate(context.Background(), signed(t, untrusted, 3, 3)); !errors.Is(err, ErrUntrustedKey) {
		t.Fatalf("activate: %v, want ErrUntrustedKey", err)
	}
	out := buf.String()
	if n := strings.Count(out, "level=WARN"); n != 1 || !strings.Contains(out, "untrusted") {
		t.Errorf("%d warnings for one refusal, want 1 naming the untrusted key:\n%s", n, out)
	}
	if got := v.Stats(); got.UntrustedKey != 1 {
		t.Errorf("stats %+v: the refusal is still counted", got)
	}
}
