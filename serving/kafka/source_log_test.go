package kafka_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// capture is a slog.Handler that keeps every record, attributes resolved.
type capture struct {
	mu   sync.Mutex
	recs []map[string]string // per record: "msg" and each attribute's text
}

func (h *capture) Enabled(context.Context, slog.Level) bool { return true }
func (h *capture) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *capture) WithGroup(string) slog.Handler            { return h }
func (h *capture) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{"msg": r.Message}
	r.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.Resolve().String()
		return true
	})
	h.mu.Lock()
	h.recs = append(h.recs, m)
	h.mu.Unlock()
	return nil
}

func (h *capture) find(msg string) (map[string]string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.recs {
		if m["msg"] == msg {
			return m, true
		}
	}
	return nil, false
}

// TestSourceDeadLetterLogBounded: the warning a Source logs for a dead
// letter carries the reason cut as the dead letter's reason header is,
// to 4 KiB. An error's text can be any size a Scorer makes it, and the
// log line carried it whole: here 1 MiB per record.
func TestSourceDeadLetterLogBounded(t *testing.T) {
	const limit = 4096
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	huge := errors.New("scorer: " + strings.Repeat("x", 1<<20))
	scorer := serving.ScorerFunc(func(context.Context, serving.Record) (serving.Result, error) {
		return serving.Result{}, huge
	})
	logs := &capture{}
	sink, err := kafka.NewSink(t.Context(), config(t, c.Addrs()))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	src, err := kafka.NewSource(config(t, c.Addrs(), kafka.Sarama(testTuning), kafka.Logger(slog.New(logs))), "log-bound", scorer, sink)
	if err != nil {
		t.Fatal(err)
	}
	produce(t, c, kafka.DefaultDataTopic, []string{"a"}, [][]byte{[]byte("[1,1,1]")})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	waitFor(t, "the record dead-lettered", func() bool { return src.Stats().DeadLettered == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	m, ok := logs.find("kafka source: dead letter")
	if !ok {
		t.Fatal("no dead-letter warning logged")
	}
	if e := m["err"]; len(e) > limit || !strings.HasPrefix(e, "scorer: xxx") {
		t.Errorf("dead-letter warning: an err attribute of %d bytes, want at most %d: %.40q", len(e), limit, e)
	}
}
