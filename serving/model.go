package serving

import (
	"context"
	"fmt"
)

// Model is one loaded version of one model.
//
// Predict must be safe for concurrent use. It must not modify or retain
// features. It should honour ctx where the model can stop early, and it
// returns a *FeatureCountError when len(features) is not what the model
// expects.
//
// A Model may implement the optional interfaces [BatchPredictor],
// [Closer], [Warmer] and [Describer]; callers find them by type assertion.
type Model interface {
	Predict(ctx context.Context, features []float64) (Prediction, error)
}

// BatchPredictor is implemented by models that score many rows faster
// together than one at a time. PredictBatch writes one Prediction per row
// into out, which has len(rows) elements.
type BatchPredictor interface {
	PredictBatch(ctx context.Context, rows [][]float64, out []Prediction) error
}

// Closer is implemented by models that hold resources. The Server calls
// Close exactly once, after the last in-flight call on the model returns.
type Closer interface {
	Close() error
}

// Warmer is implemented by models that benefit from a warm-up before they
// take traffic, such as a JIT or a cache. The Server calls Warm before
// activating the model; an error refuses the activation, and so does a
// panic, as an error wrapping ErrCorruptModel.
type Warmer interface {
	Warm(ctx context.Context) error
}

// Describer is implemented by models that can say what they expect.
// The Server asks it when it activates the model; a panic there refuses
// the model, as an error wrapping ErrCorruptModel, and so does a
// ModelInfo whose Inputs are not Features many (when both are set).
type Describer interface {
	Describe() ModelInfo
}

// ModelInfo describes a model's inputs and outputs.
type ModelInfo struct {
	// Features is the number of input features, or 0 if unknown.
	Features int
	// Inputs names the model's inputs in the order Predict reads them:
	// features[i] is Inputs[i]. It is nil for a model whose inputs have no
	// names, which is then fed positionally. When set, len(Inputs) equals
	// Features.
	Inputs []Input
	// Outputs is the number of outputs: 1 for regression and binary
	// classification, the number of classes for multiclass models.
	Outputs int
	// Input describes the expected input in words, such as
	// "float32 tensor [1 3 224 224]", for formats where shape matters.
	Input string
}

// Scorer scores a Record. A Model behind a Server slot is a Scorer, and
// so is every combinator in package speculative, so that they nest.
//
// Score must be safe for concurrent use and must honour ctx: when ctx is
// done it returns promptly with an error wrapping ctx.Err().
//
// A Scorer of your own (rules, a remote model, a lookup in front of a
// model) is expected to:
//   - fill Result.Provenance.Model with a ModelRef naming exactly what
//     answered, with a Version bumped whenever its behaviour changes, and
//     return that provenance with errors too; leave Decision to the
//     combinators;
//   - implement [Referrer], so that a combinator names it even when it did
//     not answer;
//   - return a *[ModelError] naming its ModelRef around the cause, and a
//     *[FieldError] with [ErrMissingField] or [ErrFieldType] for a bad input
//     field, never panic, and neither change nor keep r.Features or r.Text
//     after returning;
//   - in a vote, label its answers with the same vocabulary as the other
//     candidates (Prediction.Label; empty abstains), and a Confidence
//     between 0 and 1.
//
// README.md's "Writing your own Scorer" has a complete one.
type Scorer interface {
	Score(ctx context.Context, r Record) (Result, error)
}

// ScorerFunc adapts a function to the Scorer interface.
type ScorerFunc func(ctx context.Context, r Record) (Result, error)

// Score calls f(ctx, r).
func (f ScorerFunc) Score(ctx context.Context, r Record) (Result, error) { return f(ctx, r) }

// Bind returns a Scorer that scores with m and stamps ref as the
// provenance of every Result. It adds nothing else: checking the feature
// count is left to m, and a Server slot adds stats, hot swap, named
// inputs and the NonFinite policy. A Predict error is returned as a
// *ModelError.
//
// A nil m is refused the way a Server slot with nothing live is: every
// Score returns a *ModelError wrapping ErrNoModel, naming ref, and never
// panics.
func Bind(ref ModelRef, m Model) Scorer {
	if m == nil {
		return &bound{ref: ref, m: noModel{ref}}
	}
	return &bound{ref: ref, m: m}
}

// noModel stands for the nil Model given to Bind.
type noModel struct{ ref ModelRef }

func (n noModel) Predict(context.Context, []float64) (Prediction, error) {
	return Prediction{}, fmt.Errorf("%w: %s was bound to a nil Model", ErrNoModel, n.ref)
}

type bound struct {
	ref ModelRef
	m   Model
}

func (b *bound) Score(ctx context.Context, r Record) (Result, error) {
	p, err := b.m.Predict(ctx, r.Features)
	if err != nil {
		return Result{Provenance: Provenance{Model: b.ref}}, &ModelError{Model: b.ref, Err: err}
	}
	return Result{Prediction: p, Provenance: Provenance{Model: b.ref}}, nil
}

// Ref returns the ModelRef that b stamps.
func (b *bound) Ref() ModelRef { return b.ref }

// Referrer is implemented by Scorers that stand for one known model, such
// as those returned by [Bind] and [Server.Model]. Combinators use it to
// name candidates that have not answered.
type Referrer interface {
	Ref() ModelRef
}

// Input is one named input of a model.
//
// A numeric input is fed the record's number for the field of that name.
// A categorical input lists its Categories; a record's text value for the
// field reaches Predict as its index in Categories, as a float64, so the
// core method stays one []float64. A model that takes integer category
// codes directly (LightGBM) may leave Categories nil and read numbers.
type Input struct {
	// Name is the field name the model was trained on.
	Name string `json:"name"`
	// Categories lists the values of a categorical input, in the order of
	// their codes; nil for a numeric input.
	Categories []string `json:"categories,omitempty"`
}
