package feedback

import (
	"fmt"
	"math"

	"github.com/modelstream/modelstream/serving"
)

// Drift returns a function that feeds the live loss of each Match to a
// drift detector and calls onDrift with the Match at which it fires:
// drift detected on the live error of the model that serves, not on its
// training error, for example to retrain it: training.Trainer's
// ReportDrift, given the Match's Score.Provenance.Model, makes the
// trainer retrain and publish a new version. add
// is the detector's Add method, such as that of training.PageHinkley or
// training.ADWIN: it takes a loss and reports whether the mean loss has
// drifted upward. loss computes a Match's loss (such as 0 for a right
// answer and 1 for a wrong one); a non-finite loss is not fed to add and
// is returned as an error wrapping serving.ErrOutcome. The function is meant for one stream (one
// model, or one variant); the detector is not safe for concurrent use,
// nor is the function.
func Drift(add func(loss float64) bool, loss func(Match) float64, onDrift func(Match)) (func(Match) error, error) {
	if add == nil || loss == nil || onDrift == nil {
		return nil, fmt.Errorf("%w: feedback: Drift needs a detector, a loss and a function to call", serving.ErrConfig)
	}
	return func(m Match) error {
		x := loss(m)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w: feedback: drift: non-finite loss %v for %q", serving.ErrOutcome, x, m.Score.Key)
		}
		if add(x) {
			onDrift(m)
		}
		return nil
	}, nil
}
