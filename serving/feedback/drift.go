package feedback

import (
	"fmt"
	"math"

	"github.com/modelstream/modelstream/serving"
)

// maxDriftLoss is the largest loss magnitude Drift feeds to a detector:
// training's detectors ignore a value beyond it (its square, times a
// window's length, would overflow), as quality.Meter and canary refuse
// one.
const maxDriftLoss = 1e100

// Drift returns a function that feeds the live loss of each Match to a
// drift detector and calls onDrift with the Match at which it fires:
// drift detected on the live error of the model that serves, not on its
// training error, for example to retrain it: training.Trainer's
// ReportDrift, given the Match's Score.Provenance.Model, makes the
// trainer retrain and publish a new version. add
// is the detector's Add method, such as that of training.PageHinkley or
// training.ADWIN: it takes a loss and reports whether the mean loss has
// drifted upward. loss computes a Match's loss (such as 0 for a right
// answer and 1 for a wrong one); a loss that is not finite, or whose
// magnitude exceeds 1e100 (beyond what training's detectors take: they
// ignore it, and the outcome would be lost without a word), is not fed
// to add and is returned as an error wrapping serving.ErrOutcome. The
// function is meant for one stream (one model, or one variant); the
// detector is not safe for concurrent use, nor is the function.
func Drift(add func(loss float64) bool, loss func(Match) float64, onDrift func(Match)) (func(Match) error, error) {
	if add == nil || loss == nil || onDrift == nil {
		return nil, fmt.Errorf("%w: feedback: Drift needs a detector, a loss and a function to call", serving.ErrConfig)
	}
	return func(m Match) error {
		x := loss(m)
		if !(math.Abs(x) <= maxDriftLoss) {
			return fmt.Errorf("%w: feedback: drift: loss %v for %q is not finite or exceeds 1e100", serving.ErrOutcome, x, m.Score.Key)
		}
		if add(x) {
			onDrift(m)
		}
		return nil
	}, nil
}
