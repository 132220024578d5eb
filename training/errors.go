package training

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/modelstream/modelstream/serving"
)

// Sentinel errors. Test for them with errors.Is; most are wrapped in a
// struct error that carries details.
var (
	// ErrInvalidSample means a Sample cannot be learned: a non-finite
	// feature or target, a logistic target outside [0, 1], or a softmax
	// class outside [0, K).
	ErrInvalidSample = errors.New("training: invalid sample")
	// ErrDiverged means a learner's weights are no longer finite, so it
	// cannot be exported or checkpointed. Reset it, and lower the
	// learning rate.
	ErrDiverged = errors.New("training: learner diverged (non-finite weights)")
	// ErrVersionLookup means a Trainer could not find the latest version
	// already published under its model name (see [VersionLookup]), so
	// it refused to start rather than publish numbers that may clash.
	// The error wraps the publisher's own as well.
	ErrVersionLookup = errors.New("training: cannot find the latest published version")
)

// SampleError details an ErrInvalidSample.
type SampleError struct {
	// Index is the feature index at fault, or -1 when the target is.
	Index int
	// Value is the offending value.
	Value float64
	// Reason says what is wrong, in words.
	Reason string
}

// Error says which value of the sample is at fault and why.
func (e *SampleError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("training: invalid sample: target %v: %s", e.Value, e.Reason)
	}
	return fmt.Sprintf("training: invalid sample: feature %d = %v: %s", e.Index, e.Value, e.Reason)
}

// Is reports whether target is ErrInvalidSample.
func (e *SampleError) Is(target error) bool { return target == ErrInvalidSample }

// checkpointErr is the error of a checkpoint that cannot be written
// (op "save") or read (op "restore"): an *fs.PathError naming the file,
// whose Op is "training: save checkpoint" or "training: restore
// checkpoint". It wraps serving.ErrCorruptState (a truncated, damaged or
// undecodable file, or one written for another kind of learner or
// another model: never half applied), or the operating system's error (test with errors.Is(err, fs.ErrNotExist)).
func checkpointErr(op, path string, err error) error {
	return &fs.PathError{Op: "training: " + op + " checkpoint", Path: path, Err: err}
}

// configErr wraps serving.ErrConfig, the module's one sentinel for an
// invalid option or argument.
func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: training: "+format, append([]any{serving.ErrConfig}, args...)...)
}
