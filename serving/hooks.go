package serving

import (
	"time"
)

// Hook is any value implementing one or more of the Hook* interfaces in
// this package. Hooks are how the Server reports what it does without
// importing a metrics backend; package serving/metrics has a Prometheus
// adapter. Hooks are called synchronously on the scoring path, so they
// must be fast and safe for concurrent use.
type Hook any

// HookScored is called after every call to a model through a Server,
// with the version that ran, how long Predict took, and its error.
type HookScored interface {
	OnScored(ref ModelRef, took time.Duration, err error)
}

// HookModelEvent is called for every model lifecycle event.
type HookModelEvent interface {
	OnModelEvent(e ModelEvent)
}

// ModelEvent is a model lifecycle event.
type ModelEvent struct {
	// Kind says what happened.
	Kind EventKind
	// Model is the model the event is about.
	Model ModelRef
	// Previous is the model that was live before an activation,
	// rollback or retirement, or the zero ModelRef.
	Previous ModelRef
	// Err is the reason for a rejection.
	Err error
	// Time is when the event happened.
	Time time.Time
}

// EventKind says what a ModelEvent reports.
type EventKind uint8

// The model event kinds.
const (
	// EventLoaded: a model's bytes were fetched, verified and decoded.
	EventLoaded EventKind = iota + 1
	// EventRejected: a model was refused; Err says why. The live model,
	// if any, keeps serving.
	EventRejected
	// EventActivated: a model became live.
	EventActivated
	// EventRolledBack: an older version became live on request.
	EventRolledBack
	// EventRetired: a model stopped being live and no replacement took
	// its place.
	EventRetired
)

var eventNames = [...]string{"", "loaded", "rejected", "activated", "rolled_back", "retired"}

// String returns the event's name, such as "activated".
func (k EventKind) String() string {
	if int(k) < len(eventNames) && k > 0 {
		return eventNames[k]
	}
	return "unknown"
}

// HookDecision is called by the combinators of package speculative after
// every decision, with the combinator's name as given to it, the
// decision, and how long the whole call took.
type HookDecision interface {
	OnDecision(combinator string, d *Decision, took time.Duration)
}

// HookDeadLetter is called by serving/kafka's Source when a record goes to
// the dead-letter topic, with the record's origin and the reason.
type HookDeadLetter interface {
	OnDeadLetter(topic string, partition int32, offset int64, reason error)
}

// HookCommit is called by serving/kafka's Source after it commits an
// offset: every record of the partition before offset has been scored,
// written and acknowledged.
type HookCommit interface {
	OnCommit(topic string, partition int32, offset int64)
}

// HookLag is called by serving/kafka's Source with the consumer lag of a
// partition: the high-water mark minus the next offset to consume.
type HookLag interface {
	OnLag(topic string, partition int32, lag int64)
}

// Hooks is a set of hooks sorted by interface, for components outside
// this package that call them. The zero value has no hooks.
type Hooks struct {
	Scored     []HookScored
	Events     []HookModelEvent
	Decisions  []HookDecision
	DeadLetter []HookDeadLetter
	Commits    []HookCommit
	Lags       []HookLag
}

// NewHooks sorts hs by the Hook* interfaces each implements. A value that
// implements several lands in each matching list.
func NewHooks(hs ...Hook) Hooks {
	var out Hooks
	for _, h := range hs {
		out.Add(h)
	}
	return out
}

// Add files h under every Hook* interface it implements.
func (h *Hooks) Add(x Hook) {
	if v, ok := x.(HookScored); ok {
		h.Scored = append(h.Scored, v)
	}
	if v, ok := x.(HookModelEvent); ok {
		h.Events = append(h.Events, v)
	}
	if v, ok := x.(HookDecision); ok {
		h.Decisions = append(h.Decisions, v)
	}
	if v, ok := x.(HookDeadLetter); ok {
		h.DeadLetter = append(h.DeadLetter, v)
	}
	if v, ok := x.(HookCommit); ok {
		h.Commits = append(h.Commits, v)
	}
	if v, ok := x.(HookLag); ok {
		h.Lags = append(h.Lags, v)
	}
}
