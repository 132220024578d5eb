package serving

import (
	"errors"
	"fmt"
)

// Sentinel errors. Use errors.Is to test for them: the errors returned by
// this package and by the formats wrap them, usually inside one of the
// struct errors below that carry details.
var (
	// ErrUnknownFormat means no format is registered under the name.
	ErrUnknownFormat = errors.New("serving: unknown format")
	// ErrInvalidDescriptor means a Descriptor lacks a required field.
	ErrInvalidDescriptor = errors.New("serving: invalid descriptor")
	// ErrChecksum means the model bytes do not match the Descriptor's SHA256.
	ErrChecksum = errors.New("serving: checksum mismatch")
	// ErrCorruptModel means a format could not decode the model bytes.
	ErrCorruptModel = errors.New("serving: corrupt model")
	// ErrUnsupportedModel means the bytes decode, but the model uses
	// something the format cannot run (an ONNX op, a tree objective).
	ErrUnsupportedModel = errors.New("serving: unsupported model")
	// ErrFeatureCount means a feature vector has the wrong length.
	ErrFeatureCount = errors.New("serving: feature count mismatch")
	// ErrNonFinite means a feature is NaN or ±Inf and the policy refuses it.
	ErrNonFinite = errors.New("serving: non-finite feature")
	// ErrStaleVersion means an activation offered a version that is not
	// newer than the live one, without asking for a rollback.
	ErrStaleVersion = errors.New("serving: stale version")
	// ErrNoModel means no model is live under the name.
	ErrNoModel = errors.New("serving: no model")
	// ErrFetch means the bytes at a Descriptor's Location could not be read.
	ErrFetch = errors.New("serving: fetch failed")
	// ErrTooLarge means a model is larger than the configured limit.
	ErrTooLarge = errors.New("serving: model too large")
	// ErrValidation means a new version failed its trial on the probe
	// set before going live (see WithValidation): an error, a non-finite
	// output, the wrong number of outputs, or disagreement with the live
	// version beyond the tolerance. The live version keeps serving.
	ErrValidation = errors.New("serving: model failed validation")
	// ErrNotAdmitted means an Admitter (see WithAdmission) refused a
	// model; the error also wraps the Admitter's own reason.
	ErrNotAdmitted = errors.New("serving: model not admitted")
	// ErrClosed means the Server, or any other component of the module
	// (a Source, a Sink, a feed, a registry), is closed. Every package of
	// the module returns this one sentinel for that meaning.
	ErrClosed = errors.New("serving: closed")
	// ErrConfig means a constructor, option or call was given an
	// impossible configuration or argument (a negative size, a nil
	// logger, an empty alias). Every package of the module wraps this one
	// sentinel for that meaning; the text says which setting is wrong.
	// A Descriptor that lacks a field is ErrInvalidDescriptor instead.
	ErrConfig = errors.New("serving: invalid configuration")
	// ErrCorruptState means saved state could not be restored: a
	// checkpoint file or the bytes given to an UnmarshalBinary are
	// truncated, fail their checksum, were written by another kind of
	// object, or hold impossible values. Every package of the module that
	// saves state (training checkpoints, quality meters, feedback joins,
	// bandits, feedback readers) wraps this one sentinel for that meaning,
	// and the object being restored is left unchanged.
	ErrCorruptState = errors.New("serving: corrupt saved state")
	// ErrOutcome means feedback about scored records was refused: a
	// prediction, label, loss or reward that is NaN, infinite or out of
	// its range, or that names a class, variant or arm that does not
	// exist. A refused outcome changes no statistic and is counted. Every
	// package that takes outcomes (quality meters, feedback observers,
	// canary Controllers, Bandits) wraps this one sentinel for that
	// meaning, often inside a struct error that names the value.
	ErrOutcome = errors.New("serving: outcome refused")
	// ErrMissingField means a named record lacks a field that the live
	// model reads; the *FieldError names it.
	ErrMissingField = errors.New("serving: missing field")
	// ErrFieldType means a named record's field has the wrong kind of
	// value for the model's input (text where a number goes, a number
	// where a category goes, or a category the model has never seen); the
	// *FieldError names it.
	ErrFieldType = errors.New("serving: bad field value")
)

// FieldError details an ErrMissingField or ErrFieldType: which field of a
// named record could not feed which model input.
type FieldError struct {
	// Field is the input's name.
	Field string
	// Err is ErrMissingField or ErrFieldType, possibly wrapped with detail.
	Err error
}

// Error implements error.
func (e *FieldError) Error() string {
	return fmt.Sprintf("%v: %q", e.Err, e.Field)
}

// Unwrap returns the cause.
func (e *FieldError) Unwrap() error { return e.Err }

// OutcomeError details an ErrOutcome: which value of an outcome was
// refused, and why. A quality.Meter returns it for a prediction, label or
// probability that is NaN, infinite or out of [0, 1], and a
// speculative.Bandit for a reward it cannot take.
type OutcomeError struct {
	// Field names the value refused: "p", "predicted" or "actual" for a
	// quality.Meter, "reward" for a Bandit.
	Field string
	// Value is the value refused.
	Value float64
	// Variant is the variant (arm) the outcome was for, if it names one.
	Variant string
	// Reason says why, such as "not finite" or "unknown variant", or is
	// empty when Field and Value say it.
	Reason string
}

// Error implements error.
func (e *OutcomeError) Error() string {
	s := fmt.Sprintf("%v: %s = %v", ErrOutcome, e.Field, e.Value)
	if e.Variant != "" {
		s += fmt.Sprintf(" for %q", e.Variant)
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Unwrap returns ErrOutcome.
func (e *OutcomeError) Unwrap() error { return ErrOutcome }

// ModelError says which model failed, and why. [Load], [Server.Activate]
// and [Server.ActivateModel] return one when a model cannot be loaded or
// activated, and a Scorer when a model fails on a record (a Server slot
// and [Bind] do; a hand-written Scorer should too). Model names the exact
// version, when one was assigned; Err is the cause, which is usually one
// of the sentinels above, inside a struct error that carries its details.
// Which call returned it says whether loading or scoring failed; the
// message says it too.
type ModelError struct {
	Model ModelRef
	Err   error
	load  bool // set by this package for a load or activation
}

// Error implements error.
func (e *ModelError) Error() string {
	if e.load {
		return fmt.Sprintf("serving: load %s (format %q): %v", e.Model, e.Model.Format, e.Err)
	}
	return fmt.Sprintf("serving: score %s: %v", e.Model, e.Err)
}

// Unwrap returns the cause.
func (e *ModelError) Unwrap() error { return e.Err }

// ChecksumError details an ErrChecksum.
type ChecksumError struct {
	Want, Got string
}

// Error implements error.
func (e *ChecksumError) Error() string {
	// Only the declared hash is echoed: the hash of what was fetched would
	// tell whoever wrote the Location the content of a file it chose.
	return fmt.Sprintf("serving: checksum mismatch: the bytes do not hash to the declared sha256 %s", e.Want)
}

// Is reports whether target is ErrChecksum.
func (e *ChecksumError) Is(target error) bool { return target == ErrChecksum }

// FormatError is returned by formats for bytes they cannot use: made by
// [Corrupt] or [Unsupported], it wraps ErrCorruptModel or
// ErrUnsupportedModel (test with errors.Is) and the cause. Format names
// the format that refused the bytes.
type FormatError struct {
	Format string
	kind   error
	err    error
}

// Error implements error.
func (e *FormatError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("%v (%s)", e.kind, e.Format)
	}
	return fmt.Sprintf("%v (%s): %v", e.kind, e.Format, e.err)
}

// Unwrap returns both the kind and the cause, so errors.Is finds either.
func (e *FormatError) Unwrap() []error {
	if e.err == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.err}
}

// Corrupt returns a *FormatError of kind ErrCorruptModel. Formats use it
// for bytes they cannot decode.
func Corrupt(format string, err error) error {
	return &FormatError{Format: format, kind: ErrCorruptModel, err: err}
}

// Unsupported returns a *FormatError of kind ErrUnsupportedModel. Formats
// use it for models that decode but cannot run.
func Unsupported(format string, err error) error {
	return &FormatError{Format: format, kind: ErrUnsupportedModel, err: err}
}

// FeatureCountError details an ErrFeatureCount.
type FeatureCountError struct {
	Want, Got int
}

// Error implements error.
func (e *FeatureCountError) Error() string {
	return fmt.Sprintf("serving: feature count mismatch: model expects %d, got %d", e.Want, e.Got)
}

// Is reports whether target is ErrFeatureCount.
func (e *FeatureCountError) Is(target error) bool { return target == ErrFeatureCount }

// NonFiniteError details an ErrNonFinite.
type NonFiniteError struct {
	// Index is the model's input, in the order Predict reads its
	// features: for a named record, not the record's field (the message
	// names the input when the model names its inputs).
	Index int
	Value float64
	name  string // the model's name for input Index, if it has one
}

// Error implements error.
func (e *NonFiniteError) Error() string {
	if e.name != "" {
		return fmt.Sprintf("serving: non-finite feature %d (%q): %v", e.Index, e.name, e.Value)
	}
	return fmt.Sprintf("serving: non-finite feature %d: %v", e.Index, e.Value)
}

// Is reports whether target is ErrNonFinite.
func (e *NonFiniteError) Is(target error) bool { return target == ErrNonFinite }

// VersionError details an ErrStaleVersion.
type VersionError struct {
	Name          string
	Live, Offered uint64
}

// Error implements error.
func (e *VersionError) Error() string {
	return fmt.Sprintf("serving: stale version for %q: v%d offered, v%d live (offer a newer version, or 0 for the next one; AllowRollback goes back)", e.Name, e.Offered, e.Live)
}

// Is reports whether target is ErrStaleVersion.
func (e *VersionError) Is(target error) bool { return target == ErrStaleVersion }
