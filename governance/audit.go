package governance

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelstream/modelstream/serving"
)

// Kind names an audit event.
type Kind string

// The audit event kinds. Received, Verified and Rejected come from a
// Verifier; Loaded, Activated, RolledBack, Retired (and Rejected, for
// models the Server refused) come from a serving.Server through
// Audit.OnModelEvent.
const (
	KindReceived   Kind = "received"
	KindVerified   Kind = "verified"
	KindRejected   Kind = "rejected"
	KindLoaded     Kind = "loaded"
	KindActivated  Kind = "activated"
	KindRolledBack Kind = "rolled_back"
	KindRetired    Kind = "retired"
	// KindRollout is a decision of an automated rollout (package
	// speculative/canary): Model is the candidate, Previous the champion,
	// Reason the action (hold, advance, promote, rollback) and Detail the
	// decision with its evidence.
	KindRollout Kind = "rollout"
)

// Event is one audit record. Its JSON form is what an AuditSink writing
// to a Kafka audit topic should emit as the record value, keyed by the
// model name:
//
//	{"kind":"rejected","model":{"name":"fraud","version":4,"id":"9f2c…","format":"linear"},
//	 "reason":"bad_signature","error":"governance: bad signature: …","source":"verifier",
//	 "time":"2026-11-25T17:00:00.123456789Z"}
type Event struct {
	// Kind says what happened.
	Kind Kind `json:"kind"`
	// Model is the model the event is about.
	Model serving.ModelRef `json:"model"`
	// Previous is the model live before an activation, rollback or
	// retirement, if any.
	Previous *serving.ModelRef `json:"previous,omitempty"`
	// Reason is Reason(err) for a rejection.
	Reason string `json:"reason,omitempty"`
	// Error is the full error text of a rejection.
	Error string `json:"error,omitempty"`
	// KeyID is the key that signed a verified model, in hex; empty for
	// an unsigned model.
	KeyID string `json:"key_id,omitempty"`
	// Detail is the event's evidence as a JSON value, when its source
	// has more to say than Reason and Error (a rollout decision); nil
	// otherwise.
	Detail json.RawMessage `json:"detail,omitempty"`
	// Source is "verifier", "server" or "canary".
	Source string `json:"source"`
	// Time is when the event happened.
	Time time.Time `json:"time"`
}

// AuditSink receives every audit event, for example to write it to a
// Kafka audit topic. WriteAudit is called synchronously, in event order,
// with a context bounded by AuditTimeout; it must be safe for concurrent
// use. An error is logged and counted, never fatal: the audit trail must
// not stop models from being served.
type AuditSink interface {
	WriteAudit(ctx context.Context, e Event) error
}

// AuditSinkFunc adapts a function to AuditSink.
type AuditSinkFunc func(ctx context.Context, e Event) error

// WriteAudit calls f(ctx, e).
func (f AuditSinkFunc) WriteAudit(ctx context.Context, e Event) error { return f(ctx, e) }

// Audit is the audit trail of model events. Each event becomes a
// structured slog record (message "model audit", with attributes event,
// model, version, id, format, and reason, error, key_id and
// previous_version where they apply; rejections at level Warn, the rest
// at Info) and, if a sink is set, an Event for the sink.
//
// Audit implements serving.HookModelEvent: pass it to
// serving.WithHooks to audit what the Server does. An Audit is safe for
// concurrent use.
type Audit struct {
	logger  *slog.Logger
	sink    AuditSink
	timeout time.Duration
	now     func() time.Time

	events    atomic.Uint64
	sinkFails atomic.Uint64
	mu        sync.Mutex
	lastErr   error
}

var _ serving.HookModelEvent = (*Audit)(nil)

// AuditOption configures an Audit.
type AuditOption func(*Audit)

// AuditLogger sets the logger, overriding the default of slog.Default().
func AuditLogger(l *slog.Logger) AuditOption { return func(a *Audit) { a.logger = l } }

// AuditTo sends every event to sink as well, overriding the default of
// no sink.
func AuditTo(sink AuditSink) AuditOption { return func(a *Audit) { a.sink = sink } }

// AuditTimeout bounds each call to the sink, overriding the default of 5s.
func AuditTimeout(d time.Duration) AuditOption { return func(a *Audit) { a.timeout = d } }

// NewAudit returns an Audit.
func NewAudit(opts ...AuditOption) (*Audit, error) {
	a := &Audit{logger: slog.Default(), timeout: 5 * time.Second, now: time.Now}
	for _, o := range opts {
		o(a)
	}
	if a.logger == nil {
		return nil, fmt.Errorf("%w: governance: AuditLogger(nil)", serving.ErrConfig)
	}
	if a.timeout <= 0 {
		return nil, fmt.Errorf("%w: governance: AuditTimeout(%v): must be positive", serving.ErrConfig, a.timeout)
	}
	return a, nil
}

// received records that a model message arrived, before verification.
func (a *Audit) received(ctx context.Context, d serving.Descriptor) {
	a.Record(ctx, Event{Kind: KindReceived, Model: d.Ref(), Source: "verifier"})
}

// verified records that a model passed verification; keyID is empty for
// an unsigned model accepted by the policy.
func (a *Audit) verified(ctx context.Context, d serving.Descriptor, keyID string) {
	a.Record(ctx, Event{Kind: KindVerified, Model: d.Ref(), KeyID: keyID, Source: "verifier"})
}

// rejected records that a model was refused, and why.
func (a *Audit) rejected(ctx context.Context, ref serving.ModelRef, err error) {
	e := Event{Kind: KindRejected, Model: ref, Reason: Reason(err), Source: "verifier"}
	if err != nil {
		e.Error = err.Error()
	}
	a.Record(ctx, e)
}

// OnModelEvent implements serving.HookModelEvent.
func (a *Audit) OnModelEvent(me serving.ModelEvent) {
	e := Event{Model: me.Model, Source: "server", Time: me.Time}
	switch me.Kind {
	case serving.EventLoaded:
		e.Kind = KindLoaded
	case serving.EventRejected:
		e.Kind, e.Reason = KindRejected, Reason(me.Err)
		if me.Err != nil {
			e.Error = me.Err.Error()
		}
	case serving.EventActivated:
		e.Kind = KindActivated
	case serving.EventRolledBack:
		e.Kind = KindRolledBack
	case serving.EventRetired:
		e.Kind = KindRetired
	default:
		return
	}
	if me.Previous.Name != "" && me.Kind != serving.EventRetired {
		p := me.Previous
		e.Previous = &p
	}
	a.Record(context.Background(), e)
}

// Record logs e and sends it to the sink. A zero e.Time is set to now.
func (a *Audit) Record(ctx context.Context, e Event) {
	if e.Time.IsZero() {
		e.Time = a.now()
	}
	e.Time = e.Time.UTC()
	a.events.Add(1)
	attrs := []slog.Attr{
		slog.String("event", string(e.Kind)),
		slog.String("model", e.Model.Name),
		slog.Uint64("version", e.Model.Version),
		slog.String("id", e.Model.ID),
		slog.String("format", e.Model.Format),
		slog.String("source", e.Source),
	}
	level := slog.LevelInfo
	if e.Kind == KindRejected {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("reason", e.Reason), slog.String("error", e.Error))
	}
	if e.KeyID != "" {
		attrs = append(attrs, slog.String("key_id", e.KeyID))
	}
	if e.Previous != nil {
		attrs = append(attrs, slog.Uint64("previous_version", e.Previous.Version))
	}
	a.logger.LogAttrs(ctx, level, "model audit", attrs...)
	if a.sink == nil {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.timeout)
	defer cancel()
	if err := a.sink.WriteAudit(sctx, e); err != nil {
		a.sinkFails.Add(1)
		a.mu.Lock()
		a.lastErr = err
		a.mu.Unlock()
		a.logger.Error("governance: audit sink failed", "event", string(e.Kind), "model", e.Model.Name, "version", e.Model.Version, "err", err)
	}
}

// SinkFailures returns how many events the sink failed to take, and the
// last error.
func (a *Audit) SinkFailures() (uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sinkFails.Load(), a.lastErr
}
