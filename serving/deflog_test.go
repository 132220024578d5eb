package serving_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// A Server given no logger logged every activation and retirement at
// Info into the program's default logger; it now logs through
// slog.Default() at Warn and above only, so rejections still show.
func TestServerDefaultLogsWarningsOnly(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(old) })

	s, err := serving.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("m", 1)); err != nil {
		t.Fatal(err)
	}
	s.Retire("m")
	if out := buf.String(); out != "" {
		t.Errorf("routine model events logged into the default logger: %s", out)
	}
	if _, err := s.Activate(ctx, serving.Descriptor{Name: "m", Format: "nope", Bytes: []byte("x")}); err == nil {
		t.Fatal("an unknown format was activated")
	}
	if out := buf.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "model rejected") {
		t.Errorf("a rejection was not logged at Warn: %q", out)
	}
	s.Close()
}
