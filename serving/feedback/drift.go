package feedback

import (
	"fmt"
	"math"

	"github.com/modelstream/modelstream/serving"
)

// Detector is a drift detector over a stream of losses, such as
// training.PageHinkley or training.ADWIN: Add reports whether the mean
// has drifted upward.
type Detector interface {
	Add(x float64) bool
}

// Drift returns a function that feeds the live loss of each Match to d,
// and calls onDrift with the Match at which d fires: drift detected on
// the live error of the model that serves, not on its training error,
// for example to publish a request for retraining. loss computes a
// Match's loss (such as 0 for a right answer and 1 for a wrong one); a
// non-finite loss is not fed to d and is returned as an error. The
// function is meant for one stream (one model, or one variant); the
// detector is not safe for concurrent use, nor is the function.
func Drift(d Detector, loss func(Match) float64, onDrift func(Match)) (func(Match) error, error) {
	if d == nil || loss == nil || onDrift == nil {
		return nil, fmt.Errorf("%w: feedback: Drift needs a detector, a loss and a function to call", serving.ErrConfig)
	}
	return func(m Match) error {
		x := loss(m)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("feedback: drift: non-finite loss %v for %q", x, m.Score.Key)
		}
		if d.Add(x) {
			onDrift(m)
		}
		return nil
	}, nil
}
