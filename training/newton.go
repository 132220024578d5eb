package training

import "math"

// newtonPrior is the Newton optimiser's prior precision on each weight
// and bias, in standardised coordinates and in units of records: the fit
// is that of a logistic (or softmax) regression with the penalty
// newtonPrior/2·‖w‖², which weighs as much as one record.
const newtonPrior = 1.0

// newtonMaxFeatures is the largest feature count for which Newton is the
// default: at 64 features a binary learner's step is about 8,000
// multiply-adds, and a whole online update about 6µs of CPU (measured
// the way BenchmarkLearnOnline does, with 64 features); softmax costs
// that per class.
const newtonMaxFeatures = 64

// newton is the solver behind the Newton optimiser: online IRLS, one
// Newton step per record on the record's loss with the curvature of
// every record so far. For logistic regression it is the extended Kalman
// filter, and the Laplace approximation of the Bayesian posterior. For
// each output k it keeps P_k, the inverse of the prior plus the summed
// Hessians of the records' losses, over the weights and bias of k in
// standardised coordinates, and after a record with input x (1 appended)
//
//	P_k ← P_k - h·P_k x xᵀ P_k / (1 + h·xᵀ P_k x),   h = p_k(1-p_k)
//	w_k ← w_k - P_k x (p_k - y_k)
//
// with the updated P_k, in O(d²) per output. Softmax uses the
// block-diagonal part of its Hessian, one block per class.
type newton struct {
	d1 int       // d+1
	p  []float64 // k blocks of (d+1)², row-major, symmetric
	x  []float64 // scratch: the input with 1 appended
	px []float64 // scratch: P x
}

func newNewton(k, d int) *newton {
	n := &newton{d1: d + 1, p: make([]float64, k*(d+1)*(d+1)), x: make([]float64, d+1), px: make([]float64, d+1)}
	n.reset()
	return n
}

func (n *newton) reset() {
	clear(n.p)
	for b := 0; b < len(n.p); b += n.d1 * n.d1 {
		for i := 0; i < n.d1; i++ {
			n.p[b+i*n.d1+i] = 1 / newtonPrior
		}
	}
}

// newtonMinCurvature keeps a confident record's curvature from
// vanishing: h = p(1-p) is at least this.
const newtonMinCurvature = 1e-10

// newtonBig bounds the standardised inputs a Newton step uses. A
// standardised value beyond it comes from a feature whose spread
// overflowed the standardiser (above about 1e154), which then leaves it
// unscaled; xᵀPx would overflow, and every record's step would be lost.
// The step leaves such a value out (as 0), as the LeastSquares solver
// leaves out a feature whose variance overflows, so the other features
// are still learned; the weight of a feature always left out stays 0.
const newtonBig = 1e100

// step takes the Newton step for one record: u is its standardised
// input, and g[k] = p_k - y_k and h[k] = p_k(1-p_k) at the current
// weights w (k rows of d) and biases b. Values of u beyond newtonBig are
// left out. It returns how many of the k outputs' steps it skipped,
// changing nothing, because they were not finite or because xᵀP_k x < 0:
// P_k, positive definite in exact arithmetic, has lost that to rounding,
// and a step with it could go uphill.
func (n *newton) step(u, g, h, w, b []float64) (skipped int) {
	d := n.d1 - 1
	for j, v := range u {
		if !(math.Abs(v) <= newtonBig) {
			v = 0
		}
		n.x[j] = v
	}
	n.x[d] = 1
	for k := range g {
		P := n.p[k*n.d1*n.d1 : (k+1)*n.d1*n.d1]
		var s float64
		for i := 0; i < n.d1; i++ {
			row := P[i*n.d1 : (i+1)*n.d1]
			var v float64
			for j, xj := range n.x {
				v += row[j] * xj
			}
			n.px[i] = v
			s += v * n.x[i]
		}
		hk := max(h[k], newtonMinCurvature)
		den := 1 + hk*s
		f := g[k] / den
		if !(s >= 0) || math.IsInf(s, 0) || math.IsNaN(f) || math.IsInf(f, 0) {
			skipped++
			continue
		}
		c := hk / den
		// The rank-one downdate. c·(px_i·px_j) is the same number for
		// (i, j) and (j, i), so P stays exactly symmetric.
		for i := 0; i < n.d1; i++ {
			row := P[i*n.d1 : (i+1)*n.d1]
			pi := n.px[i]
			for j, pj := range n.px[:len(row)] {
				row[j] -= c * (pi * pj)
			}
		}
		// P' x = P x / (1 + h s).
		wk := w[k*d : (k+1)*d]
		for j := range wk {
			wk[j] -= f * n.px[j]
		}
		b[k] -= f * n.px[d]
	}
	return skipped
}

// state returns the P blocks for a checkpoint.
func (n *newton) state() []float64 { return append([]float64(nil), n.p...) }

// setState restores P from a checkpoint, which the caller has checked:
// k(d+1)² finite values.
func (n *newton) setState(p []float64) { copy(n.p, p) }
