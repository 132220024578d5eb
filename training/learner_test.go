package training

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/modelstream/modelstream/internal/linmodel"
	"github.com/modelstream/modelstream/serving"
)

// scales and offsets make the generated features differ in scale by
// orders of magnitude, as real features do.
var (
	genScale  = []float64{1, 10, 1000, 0.01, 5}
	genOffset = []float64{0, 50, -2000, 0.5, 3}
)

func genX(r *rand.Rand) []float64 {
	x := make([]float64, len(genScale))
	for j := range x {
		x[j] = genOffset[j] + genScale[j]*r.NormFloat64()
	}
	return x
}

// regression data: y = b + Σ β_j x_j + N(0, σ²), with β_j chosen so each
// term has a standardised effect of order 1.
var (
	trueBeta = []float64{1.5, -0.2, 0.003, 80, 0.4}
	trueBias = 2.0
)

func genLinear(n int, seed uint64, noise float64) []Sample {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]Sample, n)
	for i := range out {
		x := genX(r)
		y := trueBias
		for j, b := range trueBeta {
			y += b * x[j]
		}
		out[i] = Sample{Features: x, Target: y + noise*r.NormFloat64()}
	}
	return out
}

// leastSquares solves the normal equations (XᵀX)β = Xᵀy with an
// intercept column and returns the coefficients, the intercept and the
// training MSE of the exact fit.
func leastSquares(t *testing.T, data []Sample) ([]float64, float64, float64) {
	t.Helper()
	n, d := len(data), len(data[0].Features)
	X := mat.NewDense(n, d+1, nil)
	y := mat.NewVecDense(n, nil)
	for i, s := range data {
		X.Set(i, 0, 1)
		for j, x := range s.Features {
			X.Set(i, j+1, x)
		}
		y.SetVec(i, s.Target)
	}
	var xtx mat.Dense
	xtx.Mul(X.T(), X)
	var xty mat.VecDense
	xty.MulVec(X.T(), y)
	var beta mat.VecDense
	if err := beta.SolveVec(&xtx, &xty); err != nil {
		t.Fatalf("normal equations: %v", err)
	}
	var mse float64
	for i, s := range data {
		p := beta.AtVec(0)
		for j, x := range s.Features {
			p += beta.AtVec(j+1) * x
		}
		mse += (p - data[i].Target) * (p - s.Target)
	}
	coef := make([]float64, d)
	for j := range coef {
		coef[j] = beta.AtVec(j + 1)
	}
	return coef, beta.AtVec(0), mse / float64(n)
}

func mseOf(l *Learner, data []Sample) float64 {
	var s float64
	for _, d := range data {
		p, _ := l.Predict(d.Features)
		s += (p.Value - d.Target) * (p.Value - d.Target)
	}
	return s / float64(len(data))
}

// TestLinearIsExactLeastSquares checks that the default Linear learner,
// after one pass, is the normal equations' solution, and that a
// mini-batched pass is bit for bit the online one.
func TestLinearIsExactLeastSquares(t *testing.T) {
	data := genLinear(5000, 1, 0.5)
	lsCoef, lsBias, lsMSE := leastSquares(t, data)
	l, err := NewLearner(Linear, 5)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewLearner(Linear, 5)
	for i, s := range data {
		if _, err := l.Learn(s); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			if _, err := b.LearnBatch(data[i-9 : i+1]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if l.Optimizer() != LeastSquares {
		t.Fatalf("default optimizer %v", l.Optimizer())
	}
	got := mseOf(l, data)
	t.Logf("MSE: learner %.9f, exact least squares %.9f", got, lsMSE)
	if got > lsMSE*(1+1e-9) {
		t.Errorf("learner MSE %.9f is above the least-squares MSE %.9f", got, lsMSE)
	}
	coef, bias := l.Coefficients()
	for j, c := range lsCoef {
		// The fixed prior shrinks standardised weights of order 1 by
		// about lsPrior/n = 2e-6.
		if d := math.Abs(coef[0][j]-c) * genScale[j]; d > 1e-5 {
			t.Errorf("coef[%d] = %v, least squares %v (standardised difference %g)", j, coef[0][j], c, d)
		}
	}
	atCentre := func(c []float64, b float64) float64 {
		for j, o := range genOffset {
			b += c[j] * o
		}
		return b
	}
	if got, ls := atCentre(coef[0], bias[0]), atCentre(lsCoef, lsBias); math.Abs(got-ls) > 1e-6 {
		t.Errorf("prediction at the centre %v, least squares %v", got, ls)
	}
	sameBits(t, "mini-batched fit", predictAll(t, b, data[:50]), predictAll(t, l, data[:50]))
}

func TestAdamLinearApproachesLeastSquares(t *testing.T) {
	data := genLinear(20000, 1, 0.5)
	lsCoef, lsBias, lsMSE := leastSquares(t, data)
	l, err := NewLearner(Linear, 5, WithOptimizer(Adam), WithLearningRate(0.005), WithDecay(20))
	if err != nil {
		t.Fatal(err)
	}
	for epoch := 0; epoch < 3; epoch++ {
		for _, s := range data {
			if _, err := l.Learn(s); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := mseOf(l, data)
	t.Logf("MSE: learner %.6f, exact least squares %.6f, ratio %.5f", got, lsMSE, got/lsMSE)
	if got > 1.01*lsMSE {
		t.Errorf("learner MSE %.6f is more than 1%% above the least-squares MSE %.6f", got, lsMSE)
	}
	coef, bias := l.Coefficients()
	for j, b := range trueBeta {
		// Within 2% of the standardised effect of the true coefficient.
		if tol := 0.02 * math.Abs(b) * genScale[j]; math.Abs(coef[0][j]-b)*genScale[j] > tol {
			t.Errorf("coef[%d] = %v, want %v (least squares %v)", j, coef[0][j], b, lsCoef[j])
		}
	}
	// The raw intercept is dominated by the features' large offsets, so
	// compare the fits where the data is: at the features' centre.
	atCentre := func(c []float64, b float64) float64 {
		for j, o := range genOffset {
			b += c[j] * o
		}
		return b
	}
	if got, ls := atCentre(coef[0], bias[0]), atCentre(lsCoef, lsBias); math.Abs(got-ls) > 0.02 {
		t.Errorf("prediction at the centre %v, least squares %v", got, ls)
	}
}

func TestAdamLinearMiniBatchApproachesLeastSquares(t *testing.T) {
	data := genLinear(20000, 2, 0.5)
	_, _, lsMSE := leastSquares(t, data)
	l, err := NewLearner(Linear, 5, WithOptimizer(Adam), WithLearningRate(0.01), WithDecay(20))
	if err != nil {
		t.Fatal(err)
	}
	for epoch := 0; epoch < 20; epoch++ {
		for i := 0; i+64 <= len(data); i += 64 {
			if _, err := l.LearnBatch(data[i : i+64]); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := mseOf(l, data)
	t.Logf("mini-batch MSE: learner %.6f, exact %.6f, ratio %.5f", got, lsMSE, got/lsMSE)
	if got > 1.01*lsMSE {
		t.Errorf("mini-batch MSE %.6f is more than 1%% above the least-squares MSE %.6f", got, lsMSE)
	}
}

func TestLogisticRecoversCoefficients(t *testing.T) {
	beta := []float64{1.2, -0.15, 0.002, -90, 0.3}
	bias := -0.5
	r := rand.New(rand.NewPCG(3, 3))
	data := make([]Sample, 60000)
	for i := range data {
		x := genX(r)
		z := bias
		for j, b := range beta {
			z += b * (x[j] - genOffset[j])
		}
		y := 0.0
		if r.Float64() < linmodel.Sigmoid(z) {
			y = 1
		}
		// Shift the intercept so that the offsets are part of the model.
		data[i] = Sample{Features: x, Target: y}
	}
	l, err := NewLearner(Logistic, 5, WithOptimizer(Adam), WithLearningRate(0.05), WithDecay(20))
	if err != nil {
		t.Fatal(err)
	}
	for epoch := 0; epoch < 3; epoch++ {
		for _, s := range data {
			if _, err := l.Learn(s); err != nil {
				t.Fatal(err)
			}
		}
	}
	coef, _ := l.Coefficients()
	for j, b := range beta {
		// Standardised effect within 0.1 (the MLE on 60k rows is itself
		// within a few hundredths of the truth).
		if d := math.Abs(coef[0][j]-b) * genScale[j]; d > 0.1 {
			t.Errorf("coef[%d] = %v, want %v (standardised error %.3f)", j, coef[0][j], b, d)
		}
	}
	m := l.Metrics()
	t.Logf("logistic: coefficients %v, progressive log loss %.4f, accuracy %.4f", coef[0], m.Loss(), m.Accuracy())
}

func TestSoftmaxRecoversCoefficients(t *testing.T) {
	// Three classes; class 0 is the reference (its true weights are 0).
	beta := [][]float64{{0, 0, 0, 0, 0}, {1.0, 0.1, 0, 0, -0.5}, {-1.0, 0, 0.002, 100, 0}}
	bias := []float64{0, 0.3, -0.2}
	r := rand.New(rand.NewPCG(4, 4))
	data := make([]Sample, 60000)
	z := make([]float64, 3)
	for i := range data {
		x := genX(r)
		for k := range z {
			z[k] = bias[k]
			for j, b := range beta[k] {
				z[k] += b * (x[j] - genOffset[j])
			}
		}
		linmodel.Softmax(z)
		u, c := r.Float64(), 0
		for c < 2 && u > z[c] {
			u -= z[c]
			c++
		}
		data[i] = Sample{Features: x, Target: float64(c)}
	}
	l, err := NewLearner(Softmax, 5, WithClasses(3), WithOptimizer(Adam), WithLearningRate(0.05), WithDecay(20))
	if err != nil {
		t.Fatal(err)
	}
	for epoch := 0; epoch < 3; epoch++ {
		for _, s := range data {
			if _, err := l.Learn(s); err != nil {
				t.Fatal(err)
			}
		}
	}
	coef, _ := l.Coefficients()
	// Softmax weights are identified only up to a common shift, so
	// compare each class with class 0.
	for k := 1; k < 3; k++ {
		for j := range beta[k] {
			got := coef[k][j] - coef[0][j]
			if d := math.Abs(got-beta[k][j]) * genScale[j]; d > 0.1 {
				t.Errorf("class %d coef[%d] = %v, want %v (standardised error %.3f)", k, j, got, beta[k][j], d)
			}
		}
	}
	m := l.Metrics()
	t.Logf("softmax: progressive cross-entropy %.4f, accuracy %.4f", m.Loss(), m.Accuracy())
}

// TestSnapshotPredictsIdentically checks, for every kind, that the
// exported Descriptor loads through serving.Load and predicts bit for
// bit what the learner predicts.
func TestSnapshotPredictsIdentically(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		kind Kind
		opts []Option
		y    func(r *rand.Rand) float64
	}{
		{Linear, nil, func(r *rand.Rand) float64 { return r.NormFloat64() }},
		{Logistic, []Option{WithClassNames("no", "yes")}, func(r *rand.Rand) float64 { return float64(r.IntN(2)) }},
		{Softmax, []Option{WithClasses(4), WithOptimizer(Adam), WithL2(1e-3)}, func(r *rand.Rand) float64 { return float64(r.IntN(4)) }},
		{Softmax, []Option{WithClasses(4)}, func(r *rand.Rand) float64 { return float64(r.IntN(4)) }},
		{Linear, []Option{WithoutStandardization()}, func(r *rand.Rand) float64 { return r.NormFloat64() }},
	} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			l, err := NewLearner(tc.kind, 5, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(5, 5))
			for i := 0; i < 500; i++ {
				if _, err := l.Learn(Sample{Features: genX(r), Target: tc.y(r)}); err != nil {
					t.Fatal(err)
				}
			}
			d, err := l.Snapshot("m", "")
			if err != nil {
				t.Fatal(err)
			}
			if d.SHA256 != serving.ContentID(d.Bytes) || d.Labels[LabelRecords] != "500" || d.Format != "linear" {
				t.Fatalf("descriptor %+v", d)
			}
			m, err := serving.Load(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 200; i++ {
				x := genX(r)
				want, _ := l.Predict(x)
				got, err := m.Predict(ctx, x)
				if err != nil {
					t.Fatal(err)
				}
				if math.Float64bits(got.Value) != math.Float64bits(want.Value) || got.Label != want.Label ||
					math.Float64bits(got.Confidence) != math.Float64bits(want.Confidence) || len(got.Values) != len(want.Values) {
					t.Fatalf("row %d: served %+v, learner %+v", i, got, want)
				}
				for k := range got.Values {
					if math.Float64bits(got.Values[k]) != math.Float64bits(want.Values[k]) {
						t.Fatalf("row %d output %d: served %v, learner %v", i, k, got.Values[k], want.Values[k])
					}
				}
			}
		})
	}
}

func TestInvalidSamplesChangeNothing(t *testing.T) {
	l, _ := NewLearner(Softmax, 2, WithClasses(3))
	for _, s := range []Sample{
		{Features: []float64{1}},
		{Features: []float64{math.NaN(), 1}},
		{Features: []float64{1, 1}, Target: 3},
		{Features: []float64{1, 1}, Target: 0.5},
		{Features: []float64{1, 1}, Soft: []float64{0.5, 0.6, 0}},
	} {
		if _, err := l.Learn(s); err == nil {
			t.Errorf("Learn(%+v) accepted", s)
		} else if !errors.Is(err, ErrInvalidSample) && !errors.Is(err, serving.ErrFeatureCount) {
			t.Errorf("Learn(%+v): %v is neither ErrInvalidSample nor ErrFeatureCount", s, err)
		}
	}
	if _, err := l.LearnBatch([]Sample{{Features: []float64{1, 1}}, {Features: []float64{1, math.Inf(1)}}}); !errors.Is(err, ErrInvalidSample) {
		t.Errorf("LearnBatch with a bad sample: %v", err)
	}
	if l.Steps() != 0 || l.Metrics().Count() != 0 || l.std.n != 0 {
		t.Errorf("invalid samples changed the learner: steps %d, metrics %+v", l.Steps(), l.Metrics())
	}
}

func TestNewLearnerValidates(t *testing.T) {
	for name, f := range map[string]func() (*Learner, error){
		"softmax without classes": func() (*Learner, error) { return NewLearner(Softmax, 3) },
		"zero features":           func() (*Learner, error) { return NewLearner(Linear, 0) },
		"negative rate":           func() (*Learner, error) { return NewLearner(Logistic, 3, WithOptimizer(Adam), WithLearningRate(-1)) },
		"bad beta":                func() (*Learner, error) { return NewLearner(Linear, 3, WithOptimizer(Adam), WithAdam(1, 0.9, 1e-8)) },
		"rate for least squares":  func() (*Learner, error) { return NewLearner(Linear, 3, WithLearningRate(0.1)) },
		"decay for least squares": func() (*Learner, error) { return NewLearner(Linear, 3, WithDecay(10)) },
		"least squares logistic":  func() (*Learner, error) { return NewLearner(Logistic, 3, WithOptimizer(LeastSquares)) },
		"forgetting for Adam":     func() (*Learner, error) { return NewLearner(Softmax, 3, WithClasses(2), WithForgetting(0.99)) },
		"forgetting zero":         func() (*Learner, error) { return NewLearner(Linear, 3, WithForgetting(0)) },
		"forgetting above one":    func() (*Learner, error) { return NewLearner(Linear, 3, WithForgetting(1.01)) },
		"unknown optimizer":       func() (*Learner, error) { return NewLearner(Linear, 3, WithOptimizer(9)) },
		"classes on linear":       func() (*Learner, error) { return NewLearner(Linear, 3, WithClasses(3)) },
		"three logistic classes":  func() (*Learner, error) { return NewLearner(Logistic, 3, WithClassNames("a", "b", "c")) },
		"feature name count":      func() (*Learner, error) { return NewLearner(Linear, 3, WithFeatureNames("a")) },
		"repeated feature name":   func() (*Learner, error) { return NewLearner(Linear, 2, WithFeatureNames("a", "a")) },
		"empty feature name":      func() (*Learner, error) { return NewLearner(Linear, 2, WithFeatureNames("a", "")) },
		"unknown kind":            func() (*Learner, error) { return NewLearner(Kind(9), 3) },
		"newton linear":           func() (*Learner, error) { return NewLearner(Linear, 3, WithOptimizer(Newton)) },
		"rate for newton":         func() (*Learner, error) { return NewLearner(Logistic, 3, WithLearningRate(0.1)) },
		"decay for newton":        func() (*Learner, error) { return NewLearner(Softmax, 3, WithClasses(3), WithDecay(10)) },
		"adam betas for newton":   func() (*Learner, error) { return NewLearner(Logistic, 3, WithAdam(0.9, 0.99, 1e-8)) },
		"l2 for newton":           func() (*Learner, error) { return NewLearner(Logistic, 3, WithL2(1e-3)) },
		"forgetting for newton":   func() (*Learner, error) { return NewLearner(Logistic, 3, WithOptimizer(Newton), WithForgetting(0.9)) },
	} {
		if _, err := f(); !errors.Is(err, serving.ErrConfig) {
			t.Errorf("%s: %v, want serving.ErrConfig", name, err)
		}
	}
}

func TestDivergedLearnerIsNotExported(t *testing.T) {
	l, _ := NewLearner(Logistic, 2)
	l.w[1] = math.Inf(1)
	if _, err := l.Snapshot("m", ""); !errors.Is(err, ErrDiverged) {
		t.Errorf("Snapshot of a diverged learner: %v", err)
	}
	if err := l.Save(t.TempDir() + "/c"); !errors.Is(err, ErrDiverged) {
		t.Errorf("Save of a diverged learner: %v", err)
	}
}

func TestStandardizeForFreezes(t *testing.T) {
	l, _ := NewLearner(Linear, 5, WithStandardizeFor(100))
	for _, s := range genLinear(300, 7, 0.1) {
		if _, err := l.Learn(s); err != nil {
			t.Fatal(err)
		}
	}
	if n := l.std.n; n != 100 {
		t.Errorf("standardiser saw %d records, want 100", n)
	}
	// A snapshot still pairs the weights with the frozen statistics.
	d, _ := l.Snapshot("m", "")
	m, err := serving.Load(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	x := genLinear(1, 8, 0)[0].Features
	a, _ := l.Predict(x)
	b, _ := m.Predict(context.Background(), x)
	if math.Float64bits(a.Value) != math.Float64bits(b.Value) {
		t.Errorf("learner %v, served %v", a.Value, b.Value)
	}
}

// The package documentation promises that learning allocates nothing
// per record, online or in mini-batches.
func TestLearnAllocatesNothing(t *testing.T) {
	for _, kind := range []Kind{Linear, Logistic, Softmax} {
		var opts []Option
		if kind == Softmax {
			opts = append(opts, WithClasses(3))
		}
		l, err := NewLearner(kind, 5, opts...)
		if err != nil {
			t.Fatal(err)
		}
		batch := softmaxStream(64, 3)
		if kind != Softmax {
			for i := range batch {
				batch[i].Target = math.Min(batch[i].Target, 1)
			}
		}
		if a := testing.AllocsPerRun(100, func() {
			if _, err := l.Learn(batch[0]); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("%s: Learn makes %v allocations", kind, a)
		}
		if a := testing.AllocsPerRun(20, func() {
			if _, err := l.LearnBatch(batch); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("%s: LearnBatch makes %v allocations", kind, a)
		}
	}
}

// A snapshot of a learner with feature names declares them as the
// served model's inputs, for every kind.
func TestSnapshotDeclaresInputs(t *testing.T) {
	for _, kind := range []Kind{Linear, Logistic, Softmax} {
		opts := []Option{WithFeatureNames("a", "b", "c", "d", "e")}
		if kind == Softmax {
			opts = append(opts, WithClasses(3))
		}
		l, err := NewLearner(kind, 5, opts...)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range softmaxStream(50, 3) {
			s.Target = math.Min(s.Target, 1)
			if _, err := l.Learn(s); err != nil {
				t.Fatal(err)
			}
		}
		d, err := l.Snapshot("m", "")
		if err != nil {
			t.Fatal(err)
		}
		m, err := serving.Load(context.Background(), d)
		if err != nil {
			t.Fatal(err)
		}
		info := m.(serving.Describer).Describe()
		if len(info.Inputs) != 5 || info.Inputs[0].Name != "a" || info.Inputs[4].Name != "e" {
			t.Errorf("%s: served model declares inputs %+v", kind, info.Inputs)
		}
	}
}
