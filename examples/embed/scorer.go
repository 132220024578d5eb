package main

import (
	"context"
	"errors"

	"github.com/modelstream/modelstream/serving"
)

// ErrNoAmount is returned for a record without an amount.
var ErrNoAmount = errors.New("rules: no amount")

// Rules is a hand-written Scorer: it flags an amount above Limit.
type Rules struct {
	Version uint64  // bump it when the rules change: scores say which rules made them
	Limit   float64 // amounts above it are fraud
}

// Ref names the rules (serving.Referrer), so that a combinator can name
// them even when they have not answered.
func (r Rules) Ref() serving.ModelRef { return serving.ModelRef{Name: "rules", Version: r.Version} }

// Score implements serving.Scorer.
func (r Rules) Score(ctx context.Context, rec serving.Record) (serving.Result, error) {
	if err := ctx.Err(); err != nil { // honour cancellation and deadlines
		return serving.Result{}, err
	}
	prov := serving.Provenance{Model: r.Ref()}
	if len(rec.Features) == 0 {
		return serving.Result{Provenance: prov}, &serving.ModelError{Model: r.Ref(), Err: ErrNoAmount}
	}
	p := serving.Prediction{Value: 0, Label: "ok", Confidence: 0.6}
	if rec.Features[0] > r.Limit {
		p = serving.Prediction{Value: 1, Label: "fraud", Confidence: 0.9}
	}
	return serving.Result{Prediction: p, Provenance: prov}, nil
}

var _ interface {
	serving.Scorer
	serving.Referrer
} = Rules{}
