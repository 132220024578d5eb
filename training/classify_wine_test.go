package training

import (
	"flag"
	"math"
	"testing"

	"github.com/modelstream/modelstream/serving"
)

var wineClassify = flag.Bool("wine.classify", false, "print the red-wine classification figures of the Logistic and Softmax optimisers (Adam, Newton) per pass")

// wineClasses turns red wine into the two classification tasks: good
// (quality ≥ 6, 53% of the rows) or not for Logistic, and the grade
// (3..8 as classes 0..5) for Softmax.
func wineClasses(data []Sample, kind Kind) []Sample {
	out := make([]Sample, len(data))
	for i, s := range data {
		out[i] = Sample{Features: s.Features}
		if kind == Logistic {
			if s.Target >= 6 {
				out[i].Target = 1
			}
		} else {
			out[i].Target = s.Target - 3
		}
	}
	return out
}

// classifyCV is wineCV for a classifier: accuracy and mean log-loss of
// the held-out predictions.
func classifyCV(t testing.TB, rows []Sample, kind Kind, shuffles, passes int, newLearner func() (*Learner, error)) (acc, logloss float64) {
	var n, hits int
	cvFolds(t, rows, shuffles, passes, 1, newLearner, func(p serving.Prediction, s Sample) {
		var py float64
		switch kind {
		case Logistic:
			py = p.Value
			if s.Target == 0 {
				py = 1 - py
			}
			if (p.Value >= 0.5) == (s.Target == 1) {
				hits++
			}
		default:
			py = p.Values[int(s.Target)]
			if argmax(p.Values) == int(s.Target) {
				hits++
			}
		}
		logloss -= math.Log(max(py, 1e-15))
		n++
	})
	return float64(hits) / float64(n), logloss / float64(n)
}

func TestWineClassifiers(t *testing.T) {
	if !*wineClassify {
		t.Skip("opt-in: -wine.classify")
	}
	data := loadWine(t)
	for _, kind := range []Kind{Logistic, Softmax} {
		rows := wineClasses(data, kind)
		var opts []Option
		if kind == Softmax {
			opts = append(opts, WithClasses(6))
		}
		for _, c := range []struct {
			name string
			opts []Option
		}{
			{"adam", []Option{WithOptimizer(Adam)}},
			{"adam η=0.03", []Option{WithOptimizer(Adam), WithLearningRate(0.03)}},
			{"adam η=0.1 τ=100", []Option{WithOptimizer(Adam), WithLearningRate(0.1), WithDecay(100)}},
			{"newton (default)", nil},
		} {
			for _, passes := range []int{1, 2, 5} {
				acc, ll := classifyCV(t, rows, kind, 20, passes, func() (*Learner, error) {
					return NewLearner(kind, 11, append(append([]Option(nil), opts...), c.opts...)...)
				})
				t.Logf("%-8s %-18s %d pass: accuracy %.2f%%  log-loss %.4f", kind, c.name, passes, 100*acc, ll)
			}
		}
	}
}
