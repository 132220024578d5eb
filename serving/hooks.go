package serving

import (
	"fmt"
	"time"
)

// Hook is any value implementing one or more hook interfaces. Each
// package declares the hooks it fires, next to the code that fires them:
// this one [HookScored] and [HookModelEvent] (fired by the Server),
// package speculative HookDecision, and package serving/kafka
// HookDeadLetter, HookCommit and HookLag. One value, such as the
// Prometheus adapter of package serving/metrics, may implement them all
// and be given to each component's WithHooks option; each component
// calls the interfaces it knows and ignores the rest.
//
// Hooks are called synchronously on the scoring path, so they must be
// fast and safe for concurrent use.
type Hook any

// HookScored is called after every call to a model through a Server,
// with the version that ran, how long Predict took, and its error.
type HookScored interface {
	OnScored(ref ModelRef, took time.Duration, err error)
}

// HookModelEvent is called for every model lifecycle event, once it
// has happened. A panic in OnModelEvent is recovered and logged, and the
// hooks after it are still called.
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

// MarshalText returns k's name, as String does, so that k reads as
// "activated" in JSON.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText sets k from its name. A name that is not one of the
// kinds above (the "unknown" of String included) is an error.
func (k *EventKind) UnmarshalText(b []byte) error {
	for i, n := range eventNames {
		if i > 0 && n == string(b) {
			*k = EventKind(i)
			return nil
		}
	}
	return fmt.Errorf("serving: unknown event kind %q", b)
}

// hooks is a Server's hooks sorted by interface.
type hooks struct {
	scored []HookScored
	events []HookModelEvent
}

// add files h under every Hook* interface of this package it implements;
// other values are ignored, so one value can serve several packages.
func (h *hooks) add(x Hook) {
	if v, ok := x.(HookScored); ok {
		h.scored = append(h.scored, v)
	}
	if v, ok := x.(HookModelEvent); ok {
		h.events = append(h.events, v)
	}
}
