package serving

import (
	"fmt"
	"slices"
	"time"
)

// Record is one input to score: its values and the key it travelled
// under.
//
// A positional record has a nil Layout: Features[i] is the model's i-th
// input, as it always was. A named record has a Layout naming each
// position: Features[i] is the value of the field Layout.Names()[i], and
// the Server binds those names to the inputs of whichever model version
// is live (see [Input]), once per layout and version, so that a version
// reading other, fewer or reordered fields swaps in as data.
//
// A Record is read-only to a Scorer: scorers must not modify or retain
// Features or Text after Score returns.
type Record struct {
	// Key identifies the entity the record is about. It is optional, but
	// speculative.Split uses it for sticky routing when present.
	Key []byte
	// Features holds the values. A NaN means "missing" where the Server's
	// NonFinite policy allows it; see [NonFinitePolicy].
	Features []float64
	// Layout names the positions of Features, or is nil for a positional
	// record. Records decoded by one codec share Layout pointers, which
	// is what makes binding once per layout cheap.
	Layout *Layout
	// Text holds the text values of a named record's categorical fields:
	// nil when there are none, otherwise len(Features) long, with Text[i]
	// set (and Features[i] NaN) where field i carries text.
	Text []string
	// Time is the event time of the record, if known.
	Time time.Time
}

// Prediction is what a Model returns for one feature vector.
//
// Value is always set. For a model with a single output it is that
// output (a regression value, or the probability of the positive class).
// For a model with several outputs (multiclass trees, softmax) Values
// holds all of them, in the model's own order, and Value is the largest.
type Prediction struct {
	// Value is the primary output.
	Value float64 `json:"value"`
	// Values holds every output of a multi-output model, and is nil for a
	// single-output model, so that the common case allocates nothing.
	Values []float64 `json:"values,omitempty"`
	// Label is the predicted class, when the model knows it is a
	// classifier; empty otherwise.
	Label string `json:"label,omitempty"`
	// Confidence is the model's confidence in Label, in [0, 1], or 0 when
	// the model does not say.
	Confidence float64 `json:"confidence,omitempty"`
}

// Outputs returns all outputs of p: Values when set, otherwise a
// one-element slice holding Value.
func (p Prediction) Outputs() []float64 {
	if p.Values != nil {
		return p.Values
	}
	return []float64{p.Value}
}

// ModelRef names one exact version of one model. It is the unit of
// provenance: every Result carries the ModelRef of the model that
// computed it.
type ModelRef struct {
	// Name is the model's name, shared by all its versions.
	Name string `json:"name"`
	// Version increases with each published version of Name, from 1. It
	// is 0 only in a ModelRef that names no version: a Descriptor yet to
	// be numbered, or a combinator.
	Version uint64 `json:"version"`
	// ID is the content ID: the lowercase hex SHA-256 of the model bytes.
	ID string `json:"id,omitempty"`
	// Format is the registered format name, such as "lightgbm" or "linear".
	Format string `json:"format,omitempty"`
}

// String returns "name@vN", or just the name when Version is 0: a
// version is never 0 once live, so a ModelRef without one names
// something that is not a model version, such as a combinator of
// package speculative.
func (r ModelRef) String() string {
	if r.Version == 0 {
		return r.Name
	}
	return r.Name + "@v" + uitoa(r.Version)
}

func uitoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return string(b[i:])
}

// Result is a Prediction together with its Provenance.
type Result struct {
	Prediction
	// Provenance says which model or models produced the Prediction.
	Provenance Provenance `json:"provenance"`
}

// Provenance records what computed a Result.
//
// For a single model, Model names it and Decision is nil. For a
// combinator from package speculative, Model names the winning model and
// Decision records how it won.
type Provenance struct {
	// Model is the model whose output is the Result's Prediction.
	Model ModelRef `json:"model"`
	// Decision is set by combinators; nil for a single model.
	Decision *Decision `json:"decision,omitempty"`
}

// Decision records how a combinator chose its answer.
type Decision struct {
	// Combinator is the combinator's kind, such as "budget", "ensemble"
	// or "split" (a vote is an "ensemble" whose Decider is "vote"), not
	// the name it was given (package speculative's WithName).
	Combinator string `json:"combinator"`
	// Decider names the rule that chose the winner, such as "first",
	// "vote" or "best", when the combinator uses one.
	Decider string `json:"decider,omitempty"`
	// Variant is the variant chosen by a router such as Split or Switch.
	Variant string `json:"variant,omitempty"`
	// Winner is the index in Candidates of the answer returned, or -1 if
	// no candidate answered usefully.
	Winner int `json:"winner"`
	// Candidates lists every model asked, in the order the combinator
	// was given them.
	Candidates []Candidate `json:"candidates"`
}

// Candidate is one model asked by a combinator.
type Candidate struct {
	// Model is the model that answered, or that was asked.
	Model ModelRef `json:"model"`
	// Latency is how long the candidate took, or how long it had been
	// running when it was abandoned.
	Latency time.Duration `json:"latency_ns"`
	// Status says how the candidate ended.
	Status Status `json:"status"`
	// Error is the error text when Status is StatusError.
	Error string `json:"error,omitempty"`
	// Prediction is the candidate's answer when Status is StatusOK.
	Prediction *Prediction `json:"prediction,omitempty"`
	// Decision is the nested decision when the candidate is itself a
	// combinator.
	Decision *Decision `json:"decision,omitempty"`
}

// Status says how a candidate in a Decision ended.
type Status uint8

// The candidate statuses.
const (
	// StatusOK means the candidate answered in time.
	StatusOK Status = iota
	// StatusLate means the candidate did not answer before the deadline.
	StatusLate
	// StatusError means the candidate returned an error.
	StatusError
	// StatusCancelled means the candidate was cancelled because the
	// decision was already made.
	StatusCancelled
	// StatusSkipped means the candidate was not asked, for example the
	// variant not chosen by a router.
	StatusSkipped
)

var statusNames = [...]string{"ok", "late", "error", "cancelled", "skipped"}

// String returns "ok", "late", "error", "cancelled" or "skipped".
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "unknown"
}

// MarshalText encodes s as its name.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a status name.
func (s *Status) UnmarshalText(b []byte) error {
	for i, n := range statusNames {
		if n == string(b) {
			*s = Status(i)
			return nil
		}
	}
	return &unknownStatusError{string(b)}
}

type unknownStatusError struct{ s string }

func (e *unknownStatusError) Error() string { return "serving: unknown status " + e.s }

// Layout is the ordered list of field names of named records. It is
// immutable and safe for concurrent use; records with the same fields in
// the same order should share one *Layout, since a Server binds a model's
// inputs once per (layout pointer, model version).
type Layout struct {
	names []string
	index map[string]int
	size  int // the bytes it holds, about: see layoutFieldBytes
}

// layoutFieldBytes is what a Layout holds per field beside the bytes of
// its name, about: the string header in names and the index map's entry.
const layoutFieldBytes = 48

// NewLayout returns the Layout whose i-th field is names[i]. Names must be
// non-empty and distinct; otherwise the error wraps [ErrConfig].
func NewLayout(names ...string) (*Layout, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: NewLayout: no field names", ErrConfig)
	}
	l := &Layout{names: slices.Clone(names), index: make(map[string]int, len(names))}
	for i, n := range names {
		if n == "" {
			return nil, fmt.Errorf("%w: NewLayout: field %d has an empty name", ErrConfig, i)
		}
		if _, dup := l.index[n]; dup {
			return nil, fmt.Errorf("%w: NewLayout: field %q appears twice", ErrConfig, n)
		}
		l.index[n] = i
		l.size += len(n) + layoutFieldBytes
	}
	return l, nil
}

// Len returns the number of fields.
func (l *Layout) Len() int { return len(l.names) }

// Names returns the field names in position order.
func (l *Layout) Names() []string { return slices.Clone(l.names) }

// Index returns the position of the named field.
func (l *Layout) Index(name string) (int, bool) {
	i, ok := l.index[name]
	return i, ok
}
