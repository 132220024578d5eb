package governance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// TestAuditTrailOfAServer checks the slog records and sink events for a
// model's whole life: received, verified, loaded, activated, rejected,
// rolled back and retired.
func TestAuditTrailOfAServer(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	rec := &recorder{}
	audit, err := NewAudit(AuditLogger(slog.New(slog.NewJSONHandler(&buf, nil))), AuditTo(rec))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := NewVerifier(WithAudit(audit))
	srv, _ := serving.NewServer(serving.WithLogger(quiet()), serving.WithHooks(audit), serving.WithAdmission(v))
	d1 := servingtest.Spec{Value: 1}.Descriptor("fraud", 1)
	d2 := servingtest.Spec{Value: 2}.Descriptor("fraud", 2)
	for _, d := range []serving.Descriptor{d1, d2} {
		if _, err := srv.Activate(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	corrupt := serving.Descriptor{Name: "fraud", Version: 3, Format: servingtest.FormatName, Bytes: []byte("not json")}
	if _, err := srv.Activate(ctx, corrupt); !errors.Is(err, serving.ErrCorruptModel) {
		t.Fatalf("corrupt model: %v", err)
	}
	if _, err := srv.Activate(ctx, d1, serving.AllowRollback()); err != nil {
		t.Fatal(err)
	}
	srv.Retire("fraud")

	var kinds []string
	for _, e := range rec.events {
		kinds = append(kinds, string(e.Kind)+":"+e.Source)
		if e.Model.Name != "fraud" || e.Time.IsZero() {
			t.Fatalf("event %+v", e)
		}
	}
	want := "received:verifier verified:verifier loaded:server activated:server " +
		"received:verifier verified:verifier loaded:server activated:server " +
		"received:verifier verified:verifier rejected:server " +
		// The rollback passes admission too: a Server's every activation does.
		"received:verifier verified:verifier loaded:server rolled_back:server retired:server"
	if got := strings.Join(kinds, " "); got != want {
		t.Fatalf("events:\n got %s\nwant %s", got, want)
	}
	rej := rec.events[10]
	if rej.Reason != "corrupt_model" || rej.Error == "" || rej.Model.Version != 3 {
		t.Fatalf("rejection event %+v", rej)
	}
	if act := rec.events[7]; act.Previous == nil || act.Previous.Version != 1 || act.Model.ID != d2.SHA256 {
		t.Fatalf("activation event %+v", act)
	}
	// Every event is a structured slog record with the model's identity.
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(rec.events) {
		t.Fatalf("%d log records for %d events", len(lines), len(rec.events))
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if m["msg"] != "model audit" || m["event"] != string(rec.events[i].Kind) || m["model"] != "fraud" || m["id"] != rec.events[i].Model.ID {
			t.Fatalf("log record %d: %s", i, l)
		}
		if rec.events[i].Kind == KindRejected && (m["level"] != "WARN" || m["reason"] != "corrupt_model") {
			t.Fatalf("rejection record: %s", l)
		}
	}
	// The event's JSON shape, as a Kafka audit sink would write it.
	b, _ := json.Marshal(rej)
	for _, k := range []string{`"kind":"rejected"`, `"reason":"corrupt_model"`, `"source":"server"`, `"model":{"name":"fraud","version":3`} {
		if !bytes.Contains(b, []byte(k)) {
			t.Fatalf("event JSON %s lacks %s", b, k)
		}
	}
}

func TestAuditSinkFailureIsCountedNotFatal(t *testing.T) {
	boom := errors.New("broker down")
	a, _ := NewAudit(AuditLogger(quiet()), AuditTo(AuditSinkFunc(func(ctx context.Context, e Event) error {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("sink called without a deadline")
		}
		return boom
	})))
	v, _ := NewVerifier(WithAudit(a))
	if err := v.Verify(context.Background(), servingtest.Spec{}.Descriptor("m", 1)); err != nil {
		t.Fatal(err)
	}
	if n, err := a.SinkFailures(); n != 2 || !errors.Is(err, boom) {
		t.Fatalf("sink failures %d, %v", n, err)
	}
	if a.events.Load() != 2 {
		t.Fatalf("events %d", a.events.Load())
	}
}

func TestReason(t *testing.T) {
	for err, want := range map[error]string{
		nil:                             "",
		&rejectError{reason: ErrReplay}: "replay",
		&serving.VersionError{}:         "stale_version",
		&serving.ModelError{Err: serving.ErrUnknownFormat}: "unknown_format",
		errors.New("x"): "other",
	} {
		if got := Reason(err); got != want {
			t.Errorf("Reason(%v) = %q, want %q", err, got, want)
		}
	}
}
