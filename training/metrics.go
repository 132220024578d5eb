package training

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/modelstream/modelstream/serving"
)

// Metrics are progressive-validation metrics: every record is scored by
// the model as it stood before learning that record, so they estimate
// the error on unseen data without a held-out set.
type Metrics struct {
	count     int64   // records scored
	lossSum   float64 // sum of the records' losses
	absErrSum float64 // sum of |prediction - target|; zero for Softmax
	correct   int64   // records whose predicted class matched
}

func (m *Metrics) add(o Outcome, target float64, kind Kind) {
	m.count++
	m.lossSum += o.Loss
	if o.Correct {
		m.correct++
	}
	if kind != Softmax {
		m.absErrSum += math.Abs(o.Value - target)
	}
}

// Merge adds o's counts into m, so that m's means are over the records
// of both.
func (m *Metrics) Merge(o Metrics) {
	m.count += o.count
	m.lossSum += o.lossSum
	m.absErrSum += o.absErrSum
	m.correct += o.correct
}

// Count returns the number of records scored.
func (m Metrics) Count() int64 { return m.count }

// Loss returns the mean loss (the MSE for Linear), or NaN when empty.
func (m Metrics) Loss() float64 { return m.lossSum / float64(m.count) }

// Accuracy returns the share of records whose predicted class matched
// the target (for Linear: whose prediction rounded to the target's
// nearest integer), or NaN when empty.
func (m Metrics) Accuracy() float64 { return float64(m.correct) / float64(m.count) }

// MAE returns the mean absolute error |prediction - target|: for
// Linear the regression's, for Logistic the distance of the probability
// from the target. It is NaN when empty, and 0 for Softmax.
func (m Metrics) MAE() float64 { return m.absErrSum / float64(m.count) }

// The label keys a snapshot carries. They are the contract with
// dashboards and the registry: keep them stable.
const (
	// LabelKind is the learner kind: linear, logistic or softmax.
	LabelKind = "training.kind"
	// LabelRecords is the number of records the model has learned.
	LabelRecords = "training.records"
	// LabelSteps is the number of optimiser steps.
	LabelSteps = "training.steps"
	// LabelLoss is the progressive-validation mean loss.
	LabelLoss = "training.pv_loss"
	// LabelAccuracy is the progressive-validation accuracy.
	LabelAccuracy = "training.pv_accuracy"
	// LabelMAE is the progressive-validation mean absolute error, for
	// Linear learners.
	LabelMAE = "training.pv_mae"
	// LabelWindowLoss, LabelWindowAccuracy and LabelWindowRecords are the
	// progressive metrics over the records since the previous version
	// was published, set by a Trainer.
	LabelWindowLoss     = "training.window_pv_loss"
	LabelWindowAccuracy = "training.window_pv_accuracy"
	LabelWindowRecords  = "training.window_records"
	// LabelTotalRecords is the number of records a Trainer has consumed
	// over its whole life, across resets.
	LabelTotalRecords = "training.total_records"
	// LabelParentVersion is the version number of the parent model, set
	// by a Trainer; the parent's content ID is Descriptor.Parent.
	LabelParentVersion = "training.parent_version"
	// LabelTrigger says why a Trainer published: "records", "interval",
	// "drift", "live_drift" (a drift reported with Trainer.ReportDrift)
	// or "final"; see the Trigger constants.
	LabelTrigger = "training.trigger"
)

func fmtFloat(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }

// Snapshot exports the learner's current model as a Descriptor in the
// linear format that serving.Load loads: Bytes is the JSON document,
// SHA256 its content ID, Parent the given parent content ID (empty for a
// root model), Created the current time, and Labels the kind, record
// count, optimiser steps and progressive metrics (see the Label
// constants). The Version is left 0 for the caller or registry to set.
// The loaded model predicts exactly what [Learner.Predict] predicts.
func (l *Learner) Snapshot(name, parent string) (serving.Descriptor, error) {
	doc := l.document()
	b, err := doc.Marshal()
	if err != nil {
		return serving.Descriptor{}, fmt.Errorf("training: snapshot %q: %w: %v", name, ErrDiverged, err)
	}
	labels := map[string]string{
		LabelKind:    l.kind.String(),
		LabelRecords: strconv.FormatInt(l.metrics.count, 10),
		LabelSteps:   strconv.FormatUint(l.step, 10),
	}
	if l.metrics.count > 0 {
		labels[LabelLoss] = fmtFloat(l.metrics.Loss())
		labels[LabelAccuracy] = fmtFloat(l.metrics.Accuracy())
		if l.kind == Linear {
			labels[LabelMAE] = fmtFloat(l.metrics.MAE())
		}
	}
	return serving.Descriptor{
		Name:    name,
		Format:  "linear",
		Bytes:   b,
		SHA256:  serving.ContentID(b),
		Created: time.Now().UTC(),
		Parent:  parent,
		Labels:  labels,
	}, nil
}
