package training

import "math"

// lsPrior is the ridge every LeastSquares learner starts with, in
// standardised coordinates and in units of records: the fit minimises
// Σ_i ρ^(t-i)(z_i - y_i)² + lsPrior·‖a‖², where a are the weights on
// features standardised to unit variance. It is recursive least squares'
// initial P = I/lsPrior, except that it is not forgotten with the data
// (so P cannot wind up under forgetting). It keeps the first records'
// fits tame, and weighs as much as a hundredth of a record: after n
// records it shrinks the weights by about 0.01/n (on red wine it changes
// no figure at the fourth decimal between 1e-6 and 1).
const lsPrior = 0.01

// lsDropTol is the smallest pivot, relative to a standardised variance
// of 1, that the Cholesky factorisation keeps. A smaller pivot means the
// feature is (numerically) a linear combination of the features before
// it, and it is left out of the fit.
const lsDropTol = 1e-13

// lsMinVar is the smallest variance a feature must have to be fitted:
// below it (a constant feature, or one whose standard deviation, below
// 1e-153, is too tiny to square in float64) the feature gets weight 0
// and its effect is the intercept's.
const lsMinVar = 1e-306

// lsq is the exact one-pass least-squares solver behind the LeastSquares
// optimiser. It keeps the exponentially weighted running means and
// co-moments of (x, y), in mean form so that they stay in range for
// features up to about 1e150 in size, updated in O(d²) per record with
// the weighted form of Welford's algorithm; and it solves the normal
// equations in correlation space, (R + (lsPrior/W + λ)·I)·a = g, by a
// Cholesky factorisation when the weights are needed (O(d³), once per
// record in a stream with progressive validation). The solution is the
// exact (ridge-regularised) least-squares fit of every record seen, in
// any order, and it does not depend on the features' units.
type lsq struct {
	d      int
	rho    float64 // forgetting factor ρ in (0, 1]
	l2     float64 // λ, per unit of weight W
	w      float64 // W = Σ ρ^(t-i)
	mean   []float64
	cov    []float64 // (d+1)², lower triangle used; index d is y
	dirty  bool      // cov changed since the last solve
	beta   []float64 // raw-unit coefficients of the last solve
	icept  float64   // raw-unit intercept of the last solve
	dev    []float64 // scratch, d+1
	inv    []float64 // 1/σ_j, or 0 for a dropped feature
	chol   []float64 // d², the factor
	sol    []float64 // d, right-hand side, then a
	active []bool
}

func newLSQ(d int, rho, l2 float64) *lsq {
	return &lsq{
		d: d, rho: rho, l2: l2,
		mean: make([]float64, d+1), cov: make([]float64, (d+1)*(d+1)),
		beta: make([]float64, d), dev: make([]float64, d+1), inv: make([]float64, d),
		chol: make([]float64, d*d), sol: make([]float64, d), active: make([]bool, d),
	}
}

func (q *lsq) reset() {
	q.w, q.icept, q.dirty = 0, 0, false
	clear(q.mean)
	clear(q.cov)
	clear(q.beta)
}

// add folds one record into the running statistics:
// W' = ρW + 1, f = 1/W', δ = v - mean, mean' = mean + f·δ,
// C' = (1-f)·(C + f·δδᵀ).
func (q *lsq) add(x []float64, y float64) {
	q.w = q.rho*q.w + 1
	f := 1 / q.w
	g := 1 - f
	n := q.d + 1
	for j, xj := range x {
		q.dev[j] = xj - q.mean[j]
	}
	q.dev[q.d] = y - q.mean[q.d]
	for i := 0; i < n; i++ {
		fd := f * q.dev[i]
		row := q.cov[i*n : i*n+i+1]
		for j, dj := range q.dev[:i+1] {
			row[j] = g * (row[j] + fd*dj)
		}
		q.mean[i] += fd
	}
	q.dirty = true
}

// solve refreshes beta and icept from the statistics, if they changed.
func (q *lsq) solve() {
	if !q.dirty {
		return
	}
	q.dirty = false
	d, n := q.d, q.d+1
	if q.w == 0 {
		clear(q.beta)
		q.icept = 0
		return
	}
	for j := 0; j < d; j++ {
		v := q.cov[j*n+j]
		q.active[j] = v > lsMinVar && v > sq(1e-13*q.mean[j]) && !math.IsInf(v, 0)
		q.inv[j] = 0
		if q.active[j] {
			q.inv[j] = 1 / math.Sqrt(v)
		}
	}
	ridge := lsPrior/q.w + q.l2
	// Build R + ridge·I (lower triangle) and g = C_xy/σ, then factor it
	// as LLᵀ in place, row by row. A feature out of the fit has a zero
	// row and column (its inv is 0) and a unit pivot, which decouples it.
	L, g := q.chol, q.sol
	cy := q.cov[d*n : d*n+d]
	for i := 0; i < d; i++ {
		ci, li, si := q.cov[i*n:i*n+i], L[i*d:i*d+i], q.inv[i]
		for j, c := range ci {
			li[j] = (c * si) * q.inv[j]
		}
		L[i*d+i] = 1 + ridge
		g[i] = cy[i] * si
	}
	for j := 0; j < d; j++ {
		lj := L[j*d : j*d+j]
		if !q.active[j] {
			clear(lj)
			L[j*d+j], g[j] = 1, 0
			continue
		}
		s := L[j*d+j] - dot(lj, lj)
		if !(s > lsDropTol*(1+ridge)) {
			// Collinear with the features before it: leave it out, and
			// undo what it contributed to the rows below.
			q.active[j], q.inv[j] = false, 0
			clear(lj)
			L[j*d+j], g[j] = 1, 0
			for i := j + 1; i < d; i++ {
				L[i*d+j] = 0
			}
			continue
		}
		s = math.Sqrt(s)
		L[j*d+j] = s
		r := 1 / s
		for i := j + 1; i < d; i++ {
			li := L[i*d : i*d+j+1]
			li[j] = (li[j] - dot(li[:j], lj)) * r
		}
	}
	// L·u = g, then Lᵀ·a = u, both by rows of L.
	a := g
	for i := 0; i < d; i++ {
		a[i] = (a[i] - dot(L[i*d:i*d+i], a[:i])) / L[i*d+i]
	}
	for i := d - 1; i >= 0; i-- {
		a[i] /= L[i*d+i]
		ai := a[i]
		for k, lik := range L[i*d : i*d+i] {
			a[k] -= lik * ai
		}
	}
	// Raw units: z = icept + Σ β_j x_j with β_j = a_j/σ_j, written
	// around the means as z = ȳ + Σ β_j (x_j - x̄_j).
	c := q.mean[d]
	for j := 0; j < d; j++ {
		b := a[j] * q.inv[j]
		if math.IsInf(b, 0) || math.IsNaN(b) {
			b = 0
		}
		q.beta[j] = b
	}
	q.icept = c
}

// export writes the solution in the coordinates of a standardiser with
// the given mean and scale (nil for raw features): z = b + Σ w_j u_j
// with u_j = (x_j - mean_j)/scale_j. A coefficient that cannot be
// represented in those coordinates is left out (weight 0).
func (q *lsq) export(w []float64, mean, scale []float64) (b float64) {
	q.solve()
	b = q.icept
	for j, beta := range q.beta {
		m, s := 0.0, 1.0
		if mean != nil {
			m, s = mean[j], scale[j]
		}
		wj := beta * s
		shift := beta * (m - q.mean[j])
		if math.IsInf(wj, 0) || math.IsNaN(wj) || math.IsInf(shift, 0) || math.IsNaN(shift) {
			wj, shift = 0, 0
		}
		w[j] = wj
		b += shift
	}
	if math.IsInf(b, 0) || math.IsNaN(b) {
		b = q.mean[q.d]
	}
	return b
}

func sq(x float64) float64 { return x * x }

// dot returns Σ a_i·b_i over len(a); b must be at least as long.
func dot(a, b []float64) float64 {
	b = b[:len(a)]
	var s float64
	for i, x := range a {
		s += x * b[i]
	}
	return s
}

// lsqState is the checkpointed form of an lsq.
type lsqState struct {
	W    num  `json:"w"`
	Mean nums `json:"mean"`
	Cov  nums `json:"cov"`
}

func (q *lsq) state() *lsqState {
	return &lsqState{W: num(q.w), Mean: clone(q.mean), Cov: clone(q.cov)}
}

func (q *lsq) setState(st *lsqState) {
	q.w = float64(st.W)
	copy(q.mean, st.Mean)
	copy(q.cov, st.Cov)
	q.dirty = true
}
