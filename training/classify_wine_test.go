package training

import (
	"flag"
	"math"
	"math/rand/v2"
	"testing"
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
func classifyCV(t testing.TB, rows0 []Sample, kind Kind, shuffles, passes int, newLearner func() (*Learner, error)) (acc, logloss float64) {
	const folds = 5
	rows := append([]Sample(nil), rows0...)
	r := rand.New(rand.NewPCG(1, 2009))
	var n, hits int
	var train []Sample
	for sh := 0; sh < shuffles; sh++ {
		r.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		for k := 0; k < folds; k++ {
			train = train[:0]
			for i, s := range rows {
				if i%folds != k {
					train = append(train, s)
				}
			}
			l, err := newLearner()
			if err != nil {
				t.Fatal(err)
			}
			for s := range Replay(train, passes, uint64(sh*folds+k+1)*uint64(min(passes-1, 1))) {
				if _, err := l.Learn(s); err != nil {
					t.Fatal(err)
				}
			}
			for i := k; i < len(rows); i += folds {
				s := rows[i]
				p, err := l.Predict(s.Features)
				if err != nil {
					t.Fatal(err)
				}
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
			}
		}
	}
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
