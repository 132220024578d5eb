// Package linmodel holds what the linear format and package training must
// compute alike, so that a model training exports predicts bit for bit what
// the learner predicted: the link functions, the feature bound, and the
// Prediction a classifier's outputs make. The tree formats (leaves,
// xgboost) use its Softmax, Binary and Classes too, and pmml its
// Softmax, so that every format takes the same limits for infinite
// scores and fills a classifier's Prediction alike.
package linmodel

import (
	"math"
	"strconv"

	"github.com/modelstream/modelstream/serving"
)

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
	best := Argmax(z)
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

// Argmax returns the index of the first largest value of z, or -1 when z
// is empty. A NaN is never larger, but one at z[0] is returned.
func Argmax(z []float64) int {
	if len(z) == 0 {
		return -1
	}
	best := 0
	for k, v := range z {
		if v > z[best] {
			best = k
		}
	}
	return best
}

// Binary returns the Prediction of a positive-class probability p: p
// itself as the Value, and the likelier class's label (pos when p ≥ 0.5)
// with its probability as the Confidence.
func Binary(p float64, neg, pos string) serving.Prediction {
	if p >= 0.5 {
		return serving.Prediction{Value: p, Label: pos, Confidence: p}
	}
	return serving.Prediction{Value: p, Label: neg, Confidence: 1 - p}
}

// Classes returns the Prediction of per-class outputs vals, whose largest
// is vals[best]: it as the Value, vals as the Values, labels[best] as the
// Label (the class index when labels is nil), and, when the outputs are
// probabilities (prob), the largest as the Confidence.
func Classes(vals []float64, best int, labels []string, prob bool) serving.Prediction {
	p := serving.Prediction{Value: vals[best], Values: vals}
	if labels != nil {
		p.Label = labels[best]
	} else {
		p.Label = strconv.Itoa(best)
	}
	if prob {
		p.Confidence = vals[best]
	}
	return p
}
