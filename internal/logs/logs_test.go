package logs

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestDefaultPassesWarnAndAbove(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(old) })

	l := Default().With("pkg", "x").WithGroup("g")
	l.Debug("debug line")
	l.Info("info line")
	l.Warn("warn line", "k", 1)
	l.Error("error line")
	out := buf.String()
	for _, s := range []string{"debug line", "info line"} {
		if strings.Contains(out, s) {
			t.Errorf("%q passed: %s", s, out)
		}
	}
	for _, s := range []string{"warn line", "error line", "pkg=x", "g.k=1"} {
		if !strings.Contains(out, s) {
			t.Errorf("%q missing: %s", s, out)
		}
	}
}
