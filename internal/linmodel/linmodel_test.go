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

// TestClassifierPredictions: the Prediction every classifier format
// makes of its outputs. Probability 0.5 goes to the positive class; the
// Confidence is the chosen class's probability; an unnamed class is
// labelled by its index.
func TestClassifierPredictions(t *testing.T) {
	for _, c := range []struct {
		p          float64
		label      string
		confidence float64
	}{{0.5, "yes", 0.5}, {0.75, "yes", 0.75}, {0.25, "no", 0.75}, {0, "no", 1}} {
		if got := Binary(c.p, "no", "yes"); got.Value != c.p || got.Label != c.label || got.Confidence != c.confidence {
			t.Errorf("Binary(%v) = %+v, want label %s, confidence %v", c.p, got, c.label, c.confidence)
		}
	}
	vals := []float64{0.2, 0.5, 0.3}
	if got := Classes(vals, Argmax(vals), []string{"a", "b", "c"}, true); got.Value != 0.5 || got.Label != "b" || got.Confidence != 0.5 || &got.Values[0] != &vals[0] {
		t.Errorf("Classes of probabilities = %+v", got)
	}
	if got := Classes(vals, 2, nil, false); got.Value != 0.3 || got.Label != "2" || got.Confidence != 0 {
		t.Errorf("Classes of unnamed scores = %+v", got)
	}
	if Argmax([]float64{1, 3, 3}) != 1 || Argmax(nil) != -1 || Argmax([]float64{math.NaN(), 1}) != 0 || Argmax([]float64{1, math.NaN(), 2}) != 2 {
		t.Error("Argmax is not the first largest")
	}
}
