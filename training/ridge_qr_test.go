package training

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// weightedRidgeQR solves the LeastSquares optimiser's documented
// objective, Σ_i w_i (z_i - y_i)² + lsPrior·Σ_j (β_j σ_j)², with σ_j²
// the w-weighted variance of feature j, by gonum's QR least squares on
// the rows scaled by √w_i and the prior as extra rows. It returns the
// intercept, then the coefficients.
func weightedRidgeQR(xs [][]float64, ys, w []float64) []float64 {
	n, d := len(xs), len(xs[0])
	var W float64
	mean, v := make([]float64, d), make([]float64, d)
	for i, x := range xs {
		W += w[i]
		for j := range mean {
			mean[j] += w[i] * x[j]
		}
	}
	for j := range mean {
		mean[j] /= W
	}
	for i, x := range xs {
		for j := range v {
			v[j] += w[i] * sq(x[j]-mean[j])
		}
	}
	A, b := mat.NewDense(n+d, d+1, nil), mat.NewDense(n+d, 1, nil)
	for i, x := range xs {
		s := math.Sqrt(w[i])
		A.Set(i, 0, s)
		for j, xj := range x {
			A.Set(i, j+1, s*xj)
		}
		b.Set(i, 0, s*ys[i])
	}
	for j := range d {
		A.Set(n+j, j+1, math.Sqrt(lsPrior*v[j]/W))
	}
	var sol mat.Dense
	if err := sol.Solve(A, b); err != nil {
		panic(err)
	}
	return mat.Col(nil, 0, &sol)
}

// TestLeastSquaresMatchesWeightedRidgeQR compares the one-pass learner
// with an independent solver (Householder QR on the data, not normal
// equations) of the objective its documentation states, with and
// without forgetting, on well- and ill-conditioned features (nearly
// collinear up to a correlation of 1 - 1e-16, and one feature a million
// times larger than the others).
func TestLeastSquaresMatchesWeightedRidgeQR(t *testing.T) {
	for _, rho := range []float64{1, 0.99, 0.9} {
		for _, spread := range []float64{1, 1e-4, 1e-8} {
			t.Run(fmt.Sprintf("rho=%v/spread=%v", rho, spread), func(t *testing.T) {
				r := rand.New(rand.NewPCG(3, 4))
				const d, n = 6, 3000
				l, err := NewLearner(Linear, d, WithForgetting(rho))
				if err != nil {
					t.Fatal(err)
				}
				var xs [][]float64
				var ys, w []float64
				for i := range n {
					x, base := make([]float64, d), r.NormFloat64()
					for j := range x {
						x[j] = 100 + base + spread*float64(j+1)*r.NormFloat64()
					}
					x[d-1] = 1e6 * r.NormFloat64()
					y := 3 + x[0] - 2*x[1] + 1e-6*x[d-1] + 0.1*r.NormFloat64()
					if _, err := l.Learn(Sample{Features: x, Target: y}); err != nil {
						t.Fatal(err)
					}
					xs, ys = append(xs, x), append(ys, y)
					w = append(w, math.Pow(rho, float64(n-1-i)))
				}
				want := weightedRidgeQR(xs, ys, w)
				var worst float64
				for _, x := range xs {
					p, err := l.Predict(x)
					if err != nil {
						t.Fatal(err)
					}
					q := want[0]
					for j, xj := range x {
						q += want[j+1] * xj
					}
					worst = max(worst, math.Abs(p.Value-q))
				}
				if worst > 1e-9 {
					t.Errorf("predictions differ from the QR solution by up to %g", worst)
				}
			})
		}
	}
}
