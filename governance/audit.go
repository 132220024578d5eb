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
// Kafka audit topic. WriteAudit is called with a context bounded by
// AuditTimeout and should return once that context is done (a sink
// that does not is waited for no longer than AuditTimeout: see Audit);
// it must be safe for concurrent use. An error is logged and counted, never fatal:
// the audit trail must not stop models from being served, nor slow them
// down when the sink is out (see Audit for what happens then).
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
//
// # When the sink is out
//
// While the sink works, Record writes the event itself: when Record
// returns, the sink has taken the event or failed it, and events of
// successive Record calls reach the sink in their order. Every event
// is logged whatever the sink does.
//
// A write that has not finished within AuditTimeout marks the sink down,
// logged once at level Error. From then on Record does not wait for the
// sink: each event is either dropped at once or, when no probe is in
// flight, sent as a probe by a goroutine of its own, again bounded by
// AuditTimeout. The first probe the sink takes marks it up again, logged
// at level Warn with the number of events dropped meanwhile. So an outage
// costs whoever calls Record (a model feed, the Server) one AuditTimeout
// once, not one per event: a flood of model messages during an outage
// of the audit topic cannot stall the feed. No two events are sent at once
// by successive Record calls, so the events the sink takes are still in
// their order, except that a write that timed out may, with a sink that
// keeps sending after its context ends, land after the probe that
// follows it (the Kafka sink of governance/govkafka sends them in order).
// Every event the sink did not take, failed or dropped, is counted by
// SinkFailures.
//
// A sink that ignores its context is not waited for beyond AuditTimeout
// either: its write is left running, the sink is marked down, and that
// write stands for the probe, so that nothing more is sent to the sink
// until it returns. If it then took its event, the event is no longer
// counted lost and the sink is up again. A probe that never returns
// keeps the sink down for good, with one goroutine waiting on it.
type Audit struct {
	logger  *slog.Logger
	sink    AuditSink
	nilSink bool // AuditTo(nil)
	timeout time.Duration
	now     func() time.Time

	events atomic.Uint64
	mu     sync.Mutex
	// The fields below are guarded by mu. lost counts the events the sink
	// did not take, dropped those of them dropped while it was down.
	lost, dropped uint64
	lastErr       error
	// down is set when a write timed out, and cleared when a probe
	// succeeds, or a write that overran its timeout does.
	down bool
	// pending counts the sink calls that overran their timeout and the
	// probes, still running; no probe starts while there is one.
	pending int
}

var _ serving.HookModelEvent = (*Audit)(nil)

// AuditOption configures an Audit.
type AuditOption func(*Audit)

// AuditLogger sets the logger, overriding the default of slog.Default().
func AuditLogger(l *slog.Logger) AuditOption { return func(a *Audit) { a.logger = l } }

// AuditTo sends every event to sink as well, overriding the default of
// no sink. sink must not be nil: a trail that was meant to reach a sink
// and silently reaches none is refused by NewAudit.
func AuditTo(sink AuditSink) AuditOption {
	return func(a *Audit) { a.sink, a.nilSink = sink, sink == nil }
}

// AuditTimeout bounds each call to the sink, overriding the default of
// 5s. A call that takes longer marks the sink down (see Audit).
func AuditTimeout(d time.Duration) AuditOption { return func(a *Audit) { a.timeout = d } }

// NewAudit returns an Audit. Its defaults: it logs every event through
// slog.Default() (AuditLogger), sends it to no sink (AuditTo), and gives
// each sink call 5 seconds (AuditTimeout). A nil option, a nil logger or
// sink, or a timeout not above zero, fails with serving.ErrConfig.
func NewAudit(opts ...AuditOption) (*Audit, error) {
	a := &Audit{logger: slog.Default(), timeout: 5 * time.Second, now: time.Now}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: governance: NewAudit: nil AuditOption", serving.ErrConfig)
		}
		o(a)
	}
	if a.logger == nil {
		return nil, fmt.Errorf("%w: governance: AuditLogger(nil)", serving.ErrConfig)
	}
	if a.nilSink {
		return nil, fmt.Errorf("%w: governance: AuditTo(nil)", serving.ErrConfig)
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
	a.mu.Lock()
	if a.down {
		if a.pending > 0 {
			a.lost++
			a.dropped++
			a.mu.Unlock()
			return
		}
		a.pending++
		a.mu.Unlock()
		go a.probe(e)
		return
	}
	a.mu.Unlock()
	a.write(ctx, e)
}

// write sends e to the sink and waits for it, at most AuditTimeout.
func (a *Audit) write(ctx context.Context, e Event) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.timeout)
	done := make(chan error, 1)
	go func() { done <- a.call(sctx, e) }()
	var err error
	select {
	case err = <-done:
	case <-sctx.Done():
		select {
		case err = <-done: // the sink honoured its context
		default:
			a.overran(e, done, cancel)
			return
		}
	}
	timedOut := sctx.Err() != nil
	cancel()
	if err == nil {
		return
	}
	a.lose(e, err, timedOut, false)
}

// lose counts e lost to err and logs it; with down it marks the sink
// down, and with running it also counts the write as still pending, in
// the same critical section, so that no probe starts beside it.
func (a *Audit) lose(e Event, err error, down, running bool) {
	a.mu.Lock()
	a.lost++
	a.lastErr = err
	if running {
		a.pending++
	}
	wentDown := down && !a.down
	if wentDown {
		a.down, a.dropped = true, 0
	}
	a.mu.Unlock()
	a.logger.Error("governance: audit sink failed", "event", string(e.Kind), "model", e.Model.Name, "version", e.Model.Version, "err", err)
	if wentDown {
		a.downLogged()
	}
}

// overran marks the sink down for a write still running past its
// timeout, counts its event lost for now, and leaves a goroutine to
// settle the write when (if) it returns.
func (a *Audit) overran(e Event, done <-chan error, cancel context.CancelFunc) {
	a.lose(e, fmt.Errorf("governance: audit sink still writing after %v", a.timeout), true, true)
	go func() {
		err := <-done
		cancel()
		a.settle(err, true)
	}()
}

func (a *Audit) downLogged() {
	a.logger.Error("governance: audit sink down: events are dropped until it takes one again", "timeout", a.timeout)
}

// call is one WriteAudit, with a panic of the sink turned into an error.
func (a *Audit) call(ctx context.Context, e Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("governance: audit sink panicked: %v", p)
		}
	}()
	return a.sink.WriteAudit(ctx, e)
}

// probe sends e to a sink that is down, and marks it up if it takes e.
func (a *Audit) probe(e Event) {
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	err := a.call(ctx, e)
	cancel()
	a.settle(err, false)
}

// settle ends a pending sink call (a probe, or a write that overran its
// timeout, whose event was counted lost already): one that took its
// event marks the sink up.
func (a *Audit) settle(err error, counted bool) {
	a.mu.Lock()
	a.pending--
	if err != nil {
		if !counted {
			a.lost++
		}
		a.lastErr = err
		a.mu.Unlock()
		return
	}
	if counted {
		a.lost--
	}
	wasDown := a.down
	a.down = false
	dropped := a.dropped
	a.mu.Unlock()
	if wasDown {
		a.logger.Warn("governance: audit sink up again", "dropped", dropped)
	}
}

// SinkFailures returns how many events the sink did not take (those it
// failed, and those dropped while it was down), and the last error it
// returned.
func (a *Audit) SinkFailures() (uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lost, a.lastErr
}
