package kafka_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving/kafka"
)

// A Config given no logger handed its clients slog.Default() at every
// level, so routine Info lines went into the program's logs unasked; the
// default now passes Warn and above only.
func TestConfigDefaultLoggerWarnsOnly(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(old) })

	cfg, err := kafka.NewConfig([]string{"localhost:9092"})
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Logger()
	if l.Enabled(context.Background(), slog.LevelInfo) {
		t.Error("the default logger passes Info")
	}
	l.Info("routine")
	l.Warn("worth a line")
	if out := buf.String(); strings.Contains(out, "routine") || !strings.Contains(out, "worth a line") {
		t.Errorf("default logger wrote %q", out)
	}
}
