package kafka_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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
	m := map[string]string{"msg": r.Message, "level": r.Level.String()}
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
	src, err := kafka.NewSource(config(t, c.Addrs(), kafka.Sarama(testTuning), kafka.Logger(slog.New(logs))), "log-bound", scorer, sink, kafka.Topics(kafka.DefaultDataTopic))
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

// TestSourceDeadLetterLogRateLimited: a flood of bad records is not a
// flood of log lines. Each dead letter was logged at Warn, here 200
// lines for 200 records; now at most one line a second is, each saying
// how many were not logged since, and Run logs the rest when it returns,
// so that the lines still account for every dead letter.
func TestSourceDeadLetterLogRateLimited(t *testing.T) {
	const records = 200
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	scorer := serving.ScorerFunc(func(context.Context, serving.Record) (serving.Result, error) {
		return serving.Result{}, errors.New("scorer: refused")
	})
	logs := &capture{}
	sink, err := kafka.NewSink(t.Context(), config(t, c.Addrs()))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	src, err := kafka.NewSource(config(t, c.Addrs(), kafka.Sarama(testTuning), kafka.Logger(slog.New(logs))), "log-rate", scorer, sink, kafka.Topics(kafka.DefaultDataTopic))
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, records)
	values := make([][]byte, records)
	for i := range keys {
		keys[i], values[i] = "k", []byte("[1,1,1]")
	}
	produce(t, c, kafka.DefaultDataTopic, keys, values)
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	waitFor(t, "every record dead-lettered", func() bool { return src.Stats().DeadLettered == records })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	lines, accounted := 0, 0
	logs.mu.Lock()
	for _, m := range logs.recs {
		n, err := strconv.Atoi(m["not_logged"])
		switch m["msg"] {
		case "kafka source: dead letter":
			lines++
			accounted++
		case "kafka source: dead letters not logged":
		default:
			continue
		}
		if err != nil {
			t.Errorf("%q: not_logged=%q: %v", m["msg"], m["not_logged"], err)
		}
		accounted += n
	}
	logs.mu.Unlock()
	// One line a second at most, plus the first.
	if limit := 1 + int(elapsed/time.Second); lines > limit {
		t.Errorf("%d dead-letter lines for %d records in %v, want at most %d", lines, records, elapsed, limit)
	}
	if accounted != records {
		t.Errorf("the lines account for %d dead letters, want %d", accounted, records)
	}
}
