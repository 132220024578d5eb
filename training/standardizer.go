package training

import "math"

// minScale is the smallest standard deviation a standardizer divides by.
// A feature whose running standard deviation is below it (a constant
// feature, or one seen fewer than twice) gets scale 1, so that it is
// centred but not blown up.
const minScale = 1e-12

// standardizer keeps the running mean and variance of each feature with
// Welford's algorithm, which is numerically stable in one pass, and
// standardises vectors as (x - mean) / scale, where scale is the sample
// standard deviation (or 1 when it is below 1e-12 or not finite).
//
// A standardizer is not safe for concurrent use.
type standardizer struct {
	n     int64
	mean  []float64
	m2    []float64
	scale []float64
}

// newStandardizer returns a standardizer for d features, with mean 0
// and scale 1 until it has seen data.
func newStandardizer(d int) *standardizer {
	s := &standardizer{mean: make([]float64, d), m2: make([]float64, d), scale: make([]float64, d)}
	for j := range s.scale {
		s.scale[j] = 1
	}
	return s
}

// add folds x into the running statistics. x must have the
// standardizer's length and be finite.
func (s *standardizer) add(x []float64) {
	s.fold(x)
	s.refresh()
}

// fold adds x to the running sums without refreshing the scales.
func (s *standardizer) fold(x []float64) {
	s.n++
	n := float64(s.n)
	for j, xj := range x {
		d := xj - s.mean[j]
		s.mean[j] += d / n
		s.m2[j] += d * (xj - s.mean[j])
	}
}

// refresh recomputes the scales from the running sums.
func (s *standardizer) refresh() {
	if s.n < 2 {
		return
	}
	n := float64(s.n)
	for j, m2 := range s.m2 {
		sd := math.Sqrt(m2 / (n - 1))
		if !(sd >= minScale) || math.IsInf(sd, 0) {
			sd = 1
		}
		s.scale[j] = sd
	}
}

// transform writes (x - mean) / scale into dst, which must have len(x).
func (s *standardizer) transform(dst, x []float64) {
	for j, xj := range x {
		dst[j] = (xj - s.mean[j]) / s.scale[j]
	}
}

func (s *standardizer) reset() {
	s.n = 0
	for j := range s.mean {
		s.mean[j], s.m2[j], s.scale[j] = 0, 0, 1
	}
}

// standardizerState is the checkpointed form of a standardizer.
type standardizerState struct {
	N     int64 `json:"n"`
	Mean  nums  `json:"mean"`
	M2    nums  `json:"m2"`
	Scale nums  `json:"scale"`
}

func (s *standardizer) state() standardizerState {
	return standardizerState{N: s.n, Mean: clone(s.mean), M2: clone(s.m2), Scale: clone(s.scale)}
}

func clone(x []float64) []float64 { return append([]float64(nil), x...) }
