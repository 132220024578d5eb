package linmodel

import (
	"math"
	"testing"
)

// TestSoftmaxLimits: scores that are all -Inf are equal, so they share
// the probability (the limit of equal scores), not NaN = e^(-Inf+Inf);
// a NaN score makes every probability NaN wherever it stands, also
// beside a +Inf, which would otherwise take all the mass and hide it.
func TestSoftmaxLimits(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	for _, c := range []struct {
		z, want []float64
		best    int
	}{
		{[]float64{-inf, -inf}, []float64{0.5, 0.5}, 0},
		{[]float64{-inf, 0, -inf}, []float64{0, 1, 0}, 1},
		{[]float64{1, inf, -inf}, []float64{0, 1, 0}, 1},
		{[]float64{inf, 0, inf}, []float64{0.5, 0, 0.5}, 0},
		{[]float64{0, 0}, []float64{0.5, 0.5}, 0},
		{[]float64{nan, 1}, []float64{nan, nan}, 0},
		{[]float64{1, nan}, []float64{nan, nan}, 0},
		{[]float64{inf, nan, 0}, []float64{nan, nan, nan}, 0},
		{[]float64{nan, inf}, []float64{nan, nan}, 0},
		{[]float64{-inf, nan}, []float64{nan, nan}, 0},
	} {
		z := append([]float64(nil), c.z...)
		best := Softmax(z)
		ok := best == c.best
		for k := range z {
			ok = ok && (z[k] == c.want[k] || math.IsNaN(z[k]) && math.IsNaN(c.want[k]))
		}
		if !ok {
			t.Errorf("Softmax(%v) = %v (best %d), want %v (best %d)", c.z, z, best, c.want, c.best)
		}
	}
	if Softmax(nil) != -1 {
		t.Error("Softmax(nil) != -1")
	}
}
