package feedback

import (
	"fmt"
	"math"

	"github.com/modelstream/modelstream/serving"
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
// Key of the score's provenance (its model version and variant). The
// function returns the Meter's error for an outcome the Meter refuses
// (such as a binary label other than 0 or 1, or a class index the
// prediction has no probability for), wrapping serving.ErrOutcome, and
// quality.ErrFull when tr has no room for a new series.
//
// A label that names its class (Label.Class, such as "red") is read by
// its name, not by its Value, against classes: the class names in the
// order of the prediction's outputs (for a Binary task, the negative
// class and then the positive one, whose probability is the
// prediction's Value; for Multiclass, one name per element of Values).
// A label naming a class outside the list is refused as an unknown
// class, with an error wrapping serving.ErrOutcome, and counted by the
// Meter as refused. Labels without a name are read by their Value.
//
// Without classes only a Binary outcome can be measured by name: the
// name is compared with the prediction's Label, the class the model
// chose, which tells whether the truth is the positive class. A name
// the model never chose cannot be told from the other class then, so a
// misspelt label counts as a wrong answer; give the classes to refuse
// it. A Multiclass outcome by name needs the classes, to find the
// probability of the true class, and is refused without them as an
// unknown class (an error wrapping serving.ErrOutcome, counted by the
// Meter as refused), as is a named label whose prediction names no
// class, or any named label of a Regression.
//
// Observe returns an error wrapping serving.ErrConfig for a nil tr or
// an unknown task, and, when classes are given, for an empty or
// repeated name, for fewer than two classes, for other than two classes
// with Binary, and for a Regression.
func Observe(tr *quality.Tracker, task Task, classes ...string) (func(Match) error, error) {
	o := observer{tr: tr, task: task}
	switch {
	case tr == nil:
		return nil, fmt.Errorf("%w: feedback: Observe: nil Tracker", serving.ErrConfig)
	case task < Binary || task > Regression:
		return nil, fmt.Errorf("%w: feedback: Observe: unknown task %d", serving.ErrConfig, task)
	case len(classes) == 0:
		return o.observe, nil
	case task == Regression:
		return nil, fmt.Errorf("%w: feedback: Observe: a regression has no classes", serving.ErrConfig)
	case task == Binary && len(classes) != 2:
		return nil, fmt.Errorf("%w: feedback: Observe: a binary task has 2 classes, not %d", serving.ErrConfig, len(classes))
	case len(classes) < 2:
		return nil, fmt.Errorf("%w: feedback: Observe: need at least 2 classes, have %d", serving.ErrConfig, len(classes))
	}
	o.index = make(map[string]int, len(classes))
	for i, c := range classes {
		if _, dup := o.index[c]; dup || c == "" {
			return nil, fmt.Errorf("%w: feedback: Observe: class %d (%q) is empty or repeated", serving.ErrConfig, i, c)
		}
		o.index[c] = i
	}
	return o.observe, nil
}

// observer measures matches into a Tracker; index maps class names to
// output positions, nil when the classes are not known.
type observer struct {
	tr    *quality.Tracker
	task  Task
	index map[string]int
}

func (o observer) observe(m Match) error {
	meter, err := o.tr.Meter(quality.KeyOf(m.Score.Provenance))
	if err != nil {
		return err
	}
	p, y := m.Score.Prediction, m.Label.Value
	if c := m.Label.Class; c != "" && o.task != Regression {
		i, err := o.classIndex(p, c)
		if err != nil {
			_ = meter.ObserveClass(math.NaN(), false) // counted as refused
			return err
		}
		y = float64(i)
	}
	switch o.task {
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
		if m.Label.Class != "" {
			_ = meter.ObserveClass(math.NaN(), false)
			return fmt.Errorf("%w: feedback: unknown class %q: a regression's label is a number", serving.ErrOutcome, m.Label.Class)
		}
		return meter.ObserveValue(p.Value, y)
	}
}

// classIndex places the class named c among the prediction's outputs.
func (o observer) classIndex(p serving.Prediction, c string) (int, error) {
	if o.index != nil {
		if i, ok := o.index[c]; ok {
			return i, nil
		}
		return 0, fmt.Errorf("%w: feedback: unknown class %q is not one of the %d classes", serving.ErrOutcome, c, len(o.index))
	}
	switch {
	case o.task != Binary:
		return 0, fmt.Errorf("%w: feedback: unknown class %q: reading a multiclass label by name needs the class names given to Observe", serving.ErrOutcome, c)
	case p.Label == "":
		return 0, fmt.Errorf("%w: feedback: unknown class %q: the prediction names no class to compare with", serving.ErrOutcome, c)
	}
	// The model chose the positive class when p.Value >= 0.5; the truth
	// is the positive class when it is the one chosen and the model chose
	// positive, or it is not and the model chose negative.
	if (c == p.Label) == (p.Value >= 0.5) {
		return 1, nil
	}
	return 0, nil
}
