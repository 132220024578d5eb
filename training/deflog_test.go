package training

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/modelstream/modelstream/serving"
)

// A Trainer given no logger logged its publications at Info into the
// program's default logger; it now passes Warn and above only.
func TestTrainerDefaultLogsWarningsOnly(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(old) })

	l, _ := NewLearner(Logistic, 3)
	var published int
	pub := PublisherFunc(func(context.Context, serving.Descriptor) error { published++; return nil })
	tr, err := NewTrainer("m", l, &sliceSource{data: conceptStream(50, 1<<30, 6)}, pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if published != 1 {
		t.Fatalf("%d versions published, want 1", published)
	}
	if out := buf.String(); out != "" {
		t.Errorf("routine training events logged into the default logger: %s", out)
	}
}
