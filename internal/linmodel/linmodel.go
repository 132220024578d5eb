// Package linmodel holds what the linear format and package training must
// compute alike, so that a model training exports predicts bit for bit what
// the learner predicted: the link functions and the feature bound. The
// other formats (leaves, xgboost, pmml) use its Softmax too, so that every
// format takes the same limits for infinite scores.
package linmodel

import "math"

// MaxFeatures bounds the feature count of a linear document, and so of a
// learner that exports one.
const MaxFeatures = 1 << 20

// Sigmoid is the logistic function 1/(1+e^-z), computed without overflow.
func Sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// Softmax replaces z with softmax(z) in place, stably, and returns the
// index of the largest probability, or -1 when z is empty. Infinite
// scores take the limit: the scores equal to the largest share all the
// probability when it is +Inf (a finite input can overflow a score) or
// when every score is -Inf. A NaN score makes every probability NaN.
func Softmax(z []float64) int {
	if len(z) == 0 {
		return -1
	}
	best := 0
	for k, v := range z {
		if v > z[best] {
			best = k
		}
	}
	max := z[best]
	if math.IsInf(max, 0) {
		var n float64
		for _, v := range z {
			if v == max {
				n++
			} else if v != v {
				n = math.NaN()
				break
			}
		}
		for k, v := range z {
			z[k] = 0
			if v == max {
				z[k] = 1
			}
			z[k] /= n
		}
		return best
	}
	var sum float64
	for k, v := range z {
		z[k] = math.Exp(v - max)
		sum += z[k]
	}
	for k := range z {
		z[k] /= sum
	}
	return best
}
