package training

import (
	"math"
	"math/rand/v2"
	"testing"
)

// degenerateStreams are the streams of issue 16 that once could make a
// learner's weights NaN: each yields n samples of 4 features, with a
// target that is a regression value for Linear, 0/1 for Logistic and a
// class in 0..2 for Softmax (taken from the regression value).
var degenerateStreams = map[string]func(r *rand.Rand) ([]float64, float64){
	"constant feature": func(r *rand.Rand) ([]float64, float64) {
		x := []float64{r.NormFloat64(), 7.25, r.NormFloat64(), r.NormFloat64()}
		return x, 1 + x[0] - 2*x[2] + 0.1*r.NormFloat64()
	},
	"all features constant": func(r *rand.Rand) ([]float64, float64) {
		return []float64{1, -2, 3, 0}, r.NormFloat64()
	},
	"collinear features": func(r *rand.Rand) ([]float64, float64) {
		a, b := r.NormFloat64(), r.NormFloat64()
		return []float64{a, 2 * a, b, a - 3*b}, a + b + 0.1*r.NormFloat64()
	},
	"one repeated row": func(r *rand.Rand) ([]float64, float64) {
		return []float64{0.5, 1e3, -7, 2}, 1
	},
	"scale 1e150": func(r *rand.Rand) ([]float64, float64) {
		x := []float64{1e150 * r.NormFloat64(), 1e150 * (5 + r.NormFloat64()), r.NormFloat64(), 1e-150 * r.NormFloat64()}
		return x, x[0]*1e-150 - x[1]*1e-150 + 0.1*r.NormFloat64()
	},
	"scale 1e-150": func(r *rand.Rand) ([]float64, float64) {
		x := []float64{1e-150 * r.NormFloat64(), 1e-150 * (5 + r.NormFloat64()), 1e-150 * r.NormFloat64(), 1e-150 * r.NormFloat64()}
		return x, x[0]*1e150 + x[2]*1e150 + 0.1*r.NormFloat64()
	},
	"scale 1e300": func(r *rand.Rand) ([]float64, float64) {
		x := []float64{1e300 * r.NormFloat64(), r.NormFloat64(), 1e-300 * r.NormFloat64(), r.NormFloat64()}
		return x, x[1] + 0.1*r.NormFloat64()
	},
	"target scale 1e300": func(r *rand.Rand) ([]float64, float64) {
		x := []float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64(), r.NormFloat64()}
		return x, 1e300 * (x[0] + r.NormFloat64())
	},
	"target without variance": func(r *rand.Rand) ([]float64, float64) {
		return []float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64(), r.NormFloat64()}, 1
	},
}

func degenerateLearners() map[string]func() (*Learner, error) {
	return map[string]func() (*Learner, error){
		"linear/least-squares": func() (*Learner, error) { return NewLearner(Linear, 4) },
		"linear/forgetting":    func() (*Learner, error) { return NewLearner(Linear, 4, WithForgetting(0.99)) },
		"linear/raw":           func() (*Learner, error) { return NewLearner(Linear, 4, WithoutStandardization()) },
		"linear/adam":          func() (*Learner, error) { return NewLearner(Linear, 4, WithOptimizer(Adam)) },
		"logistic":             func() (*Learner, error) { return NewLearner(Logistic, 4) },
		"softmax":              func() (*Learner, error) { return NewLearner(Softmax, 4, WithClasses(3)) },
	}
}

func label(kind Kind, y float64) float64 {
	switch kind {
	case Logistic:
		if y > 0.9 {
			return 1
		}
		return 0
	case Softmax:
		return math.Max(0, math.Min(2, math.Floor(y+1)))
	}
	return y
}

// TestDegenerateStreams feeds every learner each degenerate stream,
// online and in mini-batches, and checks that no weight, bias or
// prediction is ever NaN or infinite, that nothing panics, and that the
// snapshot exports. The documented fallbacks are checked in
// TestLeastSquaresFallbacks.
func TestDegenerateStreams(t *testing.T) {
	for sname, gen := range degenerateStreams {
		for lname, mk := range degenerateLearners() {
			t.Run(sname+"/"+lname, func(t *testing.T) {
				l, err := mk()
				if err != nil {
					t.Fatal(err)
				}
				r := rand.New(rand.NewPCG(16, 1))
				batch := make([]Sample, 8)
				for i := 0; i < 600; i++ {
					x, y := gen(r)
					s := Sample{Features: x, Target: label(l.Kind(), y)}
					if i < 400 {
						if _, err := l.Learn(s); err != nil {
							t.Fatalf("record %d: %v", i, err)
						}
					} else {
						batch[i%8] = s
						if i%8 == 7 {
							if _, err := l.LearnBatch(batch); err != nil {
								t.Fatalf("batch at %d: %v", i, err)
							}
						}
					}
					if i%50 == 0 || i == 599 {
						assertFinite(t, l, x)
					}
				}
				if _, err := l.Snapshot("m", ""); err != nil {
					t.Fatalf("snapshot: %v", err)
				}
			})
		}
	}
}

func assertFinite(t *testing.T, l *Learner, x []float64) {
	t.Helper()
	doc := l.document()
	for k, row := range doc.Weights {
		for j, w := range row {
			if math.IsNaN(w) || math.IsInf(w, 0) {
				t.Fatalf("weight[%d][%d] = %v", k, j, w)
			}
		}
	}
	for k, b := range doc.Bias {
		if math.IsNaN(b) || math.IsInf(b, 0) {
			t.Fatalf("bias[%d] = %v", k, b)
		}
	}
	p, err := l.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range p.Outputs() {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("prediction %+v", p)
		}
	}
}

// TestLeastSquaresFallbacks checks what the package documentation
// promises a LeastSquares learner does with degenerate streams: a
// constant feature gets weight 0, a feature that is a linear combination
// of earlier ones is left out and the fit is that of the others, a
// repeated row or a constant target is predicted exactly, and the fit
// does not depend on the features' scale, down to 1e-150 and up to
// 1e150.
func TestLeastSquaresFallbacks(t *testing.T) {
	fit := func(gen func(r *rand.Rand) ([]float64, float64), opts ...Option) *Learner {
		l, err := NewLearner(Linear, 4, opts...)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(16, 2))
		for i := 0; i < 2000; i++ {
			x, y := gen(r)
			if _, err := l.Learn(Sample{Features: x, Target: y}); err != nil {
				t.Fatal(err)
			}
		}
		return l
	}
	near := func(what string, got, want, tol float64) {
		t.Helper()
		if !(math.Abs(got-want) <= tol) {
			t.Errorf("%s = %v, want %v ± %g", what, got, want, tol)
		}
	}

	l := fit(degenerateStreams["constant feature"])
	coef, icept := l.Coefficients()
	near("constant feature's coefficient", coef[0][1], 0, 0)
	near("coef[0]", coef[0][0], 1, 0.02)
	near("coef[2]", coef[0][2], -2, 0.02)
	near("intercept", icept[0], 1, 0.02)

	// Features 1 and 3 are combinations of 0 and 2: the prior shares
	// the effect among them, and predictions are those of the fit.
	l = fit(degenerateStreams["collinear features"])
	for _, ab := range [][2]float64{{0, 0}, {1, 0}, {0, 1}, {-2, 0.5}} {
		a, b := ab[0], ab[1]
		p, _ := l.Predict([]float64{a, 2 * a, b, a - 3*b})
		near("collinear prediction", p.Value, a+b, 0.02)
	}
	// Without the prior's help (a feature that repeats another bit for
	// bit, at a scale where the prior is negligible), the repeat is left
	// out.
	l = fit(func(r *rand.Rand) ([]float64, float64) {
		a, b := r.NormFloat64(), r.NormFloat64()
		return []float64{a, a, b, b}, a + b + 0.1*r.NormFloat64()
	})
	p, _ := l.Predict([]float64{1, 1, 1, 1})
	near("repeated features' prediction", p.Value, 2, 0.02)

	for _, name := range []string{"one repeated row", "target without variance", "all features constant"} {
		l = fit(degenerateStreams[name])
		p, _ := l.Predict([]float64{0.5, 1e3, -7, 2})
		want := 1.0
		if name == "all features constant" {
			want = l.ls.mean[4] // the target's mean
		}
		near(name+": prediction", p.Value, want, 1e-12)
	}

	// Scale invariance: the fit on features scaled by 1e150 or 1e-150 is
	// the fit on the unscaled features.
	base := func(r *rand.Rand) ([]float64, float64) {
		x := []float64{r.NormFloat64(), 5 + r.NormFloat64(), r.NormFloat64(), r.NormFloat64()}
		return x, 2*x[0] - x[1] + 0.5*x[3] + 0.1*r.NormFloat64()
	}
	ref := fit(base)
	probe := []float64{0.3, 4.2, -1, 0.7}
	want, _ := ref.Predict(probe)
	for _, scale := range []float64{1e150, 1e-150} {
		for _, opts := range [][]Option{nil, {WithoutStandardization()}} {
			l := fit(func(r *rand.Rand) ([]float64, float64) {
				x, y := base(r)
				for j := range x {
					x[j] *= scale
				}
				return x, y
			}, opts...)
			px := append([]float64(nil), probe...)
			for j := range px {
				px[j] *= scale
			}
			got, _ := l.Predict(px)
			near("prediction at scale "+fmtFloat(scale), got.Value, want.Value, 1e-9)
		}
	}
}

// A feature beyond the standardiser's range (its spread overflows, so it
// is left unscaled) must not stop a Newton learner from learning the
// others: its standardised value made xᵀPx overflow, and every step was
// skipped, so the learner stayed at its first record (held-out accuracy
// 0.58 for Logistic, 0.27 for Softmax). Now the value is left out of the
// step and the other features are learned; no step is skipped.
func TestNewtonHugeFeatureStillLearns(t *testing.T) {
	gen := degenerateStreams["scale 1e300"] // the label is a function of feature 1
	for _, kind := range []Kind{Logistic, Softmax} {
		var opts []Option
		if kind == Softmax {
			opts = append(opts, WithClasses(3))
		}
		l, err := NewLearner(kind, 4, opts...)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(1, 2))
		for range 20000 {
			x, y := gen(r)
			if _, err := l.Learn(Sample{Features: x, Target: label(kind, y)}); err != nil {
				t.Fatal(err)
			}
		}
		correct, n := 0, 5000
		for range n {
			x, y := gen(r)
			p, err := l.Predict(x)
			if err != nil {
				t.Fatal(err)
			}
			c := 0.0
			switch {
			case kind == Softmax:
				c = float64(argmax(p.Values))
			case p.Value >= 0.5:
				c = 1
			}
			if c == label(kind, y) {
				correct++
			}
		}
		if acc := float64(correct) / float64(n); acc < 0.9 {
			t.Errorf("%v: held-out accuracy %.3f on a stream whose label is a function of one feature, want >= 0.9", kind, acc)
		}
		if l.SkippedSteps() != 0 {
			t.Errorf("%v: %d Newton steps skipped", kind, l.SkippedSteps())
		}
	}
}

// A Newton step that cannot be taken (not finite, or with a curvature
// matrix rounding left indefinite) changes nothing and is counted, and
// the count survives a checkpoint.
func TestNewtonSkippedStepsAreCounted(t *testing.T) {
	l, err := NewLearner(Logistic, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := l.Learn(Sample{Features: []float64{float64(i), float64(i % 3)}, Target: float64(i % 2)}); err != nil {
			t.Fatal(err)
		}
	}
	if l.SkippedSteps() != 0 {
		t.Fatalf("SkippedSteps() = %d before any trouble", l.SkippedSteps())
	}
	// Make P indefinite, as accumulated rounding could: xᵀPx < 0 for
	// every x.
	for i := range l.nt.p {
		l.nt.p[i] = 0
	}
	for i := 0; i < l.nt.d1; i++ {
		l.nt.p[i*l.nt.d1+i] = -1
	}
	w, b := clone(l.w), clone(l.b)
	if _, err := l.Learn(Sample{Features: []float64{1, 2}, Target: 1}); err != nil {
		t.Fatal(err)
	}
	if l.SkippedSteps() != 1 {
		t.Errorf("SkippedSteps() = %d after a step with an indefinite P, want 1", l.SkippedSteps())
	}
	for j := range w {
		if l.w[j] != w[j] {
			t.Errorf("weight %d moved from %v to %v on a skipped step", j, w[j], l.w[j])
		}
	}
	if l.b[0] != b[0] {
		t.Errorf("bias moved from %v to %v on a skipped step", b[0], l.b[0])
	}
	data, err := l.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back Learner
	if err := back.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if back.SkippedSteps() != 1 {
		t.Errorf("restored SkippedSteps() = %d, want 1", back.SkippedSteps())
	}
	l.Reset()
	if l.SkippedSteps() != 0 {
		t.Errorf("SkippedSteps() = %d after Reset", l.SkippedSteps())
	}
}
