package feedback

import (
	"math"

	"github.com/modelstream/modelstream/serving/quality"
)

// Task says how a Match measures quality.
type Task uint8

// The tasks.
const (
	// Binary: the prediction's Value is the probability of the positive
	// class, and the label's Value is 1 for positive, 0 for negative.
	Binary Task = iota + 1
	// Multiclass: the prediction's Values are the class probabilities and
	// the label's Value is the true class's index.
	Multiclass
	// Regression: the prediction's Value against the label's Value.
	Regression
)

// Observe returns a function that records each Match in tr, under the
// Key of the score's provenance (its model version and variant). It
// returns the Meter's error for an outcome the Meter refuses (such as a
// binary label other than 0 or 1, or a class index the prediction has no
// probability for), wrapping quality.ErrOutcome, and quality.ErrFull
// when tr has no room for a new series.
func Observe(tr *quality.Tracker, task Task) func(Match) error {
	return func(m Match) error {
		meter, err := tr.Meter(quality.KeyOf(m.Score.Provenance))
		if err != nil {
			return err
		}
		p, y := m.Score.Prediction, m.Label.Value
		switch task {
		case Binary:
			if y != 0 && y != 1 {
				return meter.ObserveClass(math.NaN(), false) // refused and counted
			}
			return meter.ObserveBinary(p.Value, y == 1)
		case Multiclass:
			i := int(y)
			if float64(i) != y || i < 0 || i >= len(p.Values) {
				return meter.ObserveClass(math.NaN(), false)
			}
			best := 0
			for j, v := range p.Values {
				if v > p.Values[best] {
					best = j
				}
			}
			return meter.ObserveClass(p.Values[i], best == i)
		default:
			return meter.ObserveValue(p.Value, y)
		}
	}
}
