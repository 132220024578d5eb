package quality

import (
	"math"
	"sync"

	"github.com/modelstream/modelstream/serving"
)

// bins is the number of equal-width bins over [0, 1] in which a Meter
// counts positive and negative binary outcomes by predicted probability,
// for the streaming AUC.
const bins = 1024

// logLossClip keeps log-loss finite for a confident wrong answer: a
// probability is clipped to [logLossClip, 1-logLossClip], as scikit-learn
// does.
const logLossClip = 1e-15

// maxAbsErr bounds the regression error a Meter accepts, so that the
// sums of squared deviations of squared errors stay finite.
const maxAbsErr = 1e100

// z95 is the two-sided 95% normal quantile.
const z95 = 1.959963984540054

// Meter accumulates the live quality of one stream of predictions: one
// model version, or one variant. Each observation pairs a prediction
// with the truth that became known later.
//
// Classification outcomes feed accuracy and log-loss, and binary ones
// also the AUC; regression outcomes feed MAE and RMSE. A Meter holds
// both, so one stream of mixed outcomes is measured correctly, but a
// model is normally one or the other.
//
// Memory is fixed (about 16 KiB, most of it the AUC's bins), whatever the
// number of observations. The Observe methods allocate nothing. A Meter
// is safe for concurrent use; its zero value is ready.
type Meter struct {
	mu      sync.Mutex
	refused uint64
	correct uint64
	classN  uint64
	logLoss welford
	absErr  welford
	sqErr   welford
	pos     [bins]uint64
	neg     [bins]uint64
	nPos    uint64
	nNeg    uint64
}

// welford is a running mean and sum of squared deviations (Welford's
// algorithm), numerically stable over millions of values.
type welford struct {
	n    uint64
	mean float64
	m2   float64
}

func (w *welford) add(x float64) {
	w.n++
	d := x - w.mean
	w.mean += d / float64(w.n)
	w.m2 += d * (x - w.mean)
}

// variance is the sample variance, 0 below two values.
func (w *welford) variance() float64 {
	if w.n < 2 {
		return 0
	}
	return w.m2 / float64(w.n-1)
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// ObserveBinary records one outcome of a binary classifier: p is the
// probability the model gave to the positive class, and positive is the
// truth. The prediction counts as correct when p >= 0.5 agrees with
// positive. It feeds accuracy, log-loss and AUC. A p that is not a
// finite number in [0, 1] is refused with a *[serving.OutcomeError], which wraps
// serving.ErrOutcome; a refused outcome changes no statistic and is
// counted in [Summary.Refused].
func (m *Meter) ObserveBinary(p float64, positive bool) error {
	if !(p >= 0 && p <= 1) {
		m.refuse()
		return &serving.OutcomeError{Field: "p", Value: p}
	}
	pTrue := p
	if !positive {
		pTrue = 1 - p
	}
	b := int(p * bins)
	if b == bins {
		b = bins - 1
	}
	m.mu.Lock()
	m.classify(pTrue, (p >= 0.5) == positive)
	if positive {
		m.pos[b]++
		m.nPos++
	} else {
		m.neg[b]++
		m.nNeg++
	}
	m.mu.Unlock()
	return nil
}

// ObserveClass records one outcome of a classifier over any number of
// classes: pTrue is the probability the model gave to the class that
// turned out true, and correct says whether the model's predicted label
// was that class. It feeds accuracy and log-loss (not the AUC, which is
// defined for two classes). A pTrue that is not a finite number in
// [0, 1] is refused with a *[serving.OutcomeError], which wraps
// serving.ErrOutcome; a refused outcome changes no statistic and is
// counted in [Summary.Refused].
func (m *Meter) ObserveClass(pTrue float64, correct bool) error {
	if !(pTrue >= 0 && pTrue <= 1) {
		m.refuse()
		return &serving.OutcomeError{Field: "p", Value: pTrue}
	}
	m.mu.Lock()
	m.classify(pTrue, correct)
	m.mu.Unlock()
	return nil
}

// classify records accuracy and log-loss; m.mu is held.
func (m *Meter) classify(pTrue float64, correct bool) {
	m.classN++
	if correct {
		m.correct++
	}
	m.logLoss.add(-math.Log(min(max(pTrue, logLossClip), 1-logLossClip)))
}

// ObserveValue records one outcome of a regression: the model predicted
// predicted and the truth is actual. It feeds MAE and RMSE. Non-finite
// values, and an error |predicted-actual| above 1e100 (whose square
// would overflow the running variance of the squared errors), are
// refused with a *[serving.OutcomeError], which wraps
// serving.ErrOutcome; a refused outcome changes no statistic and is
// counted in [Summary.Refused].
func (m *Meter) ObserveValue(predicted, actual float64) error {
	if !finite(predicted) {
		m.refuse()
		return &serving.OutcomeError{Field: "predicted", Value: predicted}
	}
	if !finite(actual) {
		m.refuse()
		return &serving.OutcomeError{Field: "actual", Value: actual}
	}
	e := predicted - actual
	if !(math.Abs(e) <= maxAbsErr) { // the running variance of e² would overflow
		m.refuse()
		return &serving.OutcomeError{Field: "predicted", Value: predicted}
	}
	m.mu.Lock()
	m.absErr.add(math.Abs(e))
	m.sqErr.add(e * e)
	m.mu.Unlock()
	return nil
}

func (m *Meter) refuse() {
	m.mu.Lock()
	m.refused++
	m.mu.Unlock()
}

// Estimate is one quality statistic with its count and a two-sided 95%
// confidence interval [Low, High]. N is the number of outcomes it rests
// on; an Estimate with N == 0 has no value yet (Value, Low and High are
// then 0, as JSON cannot carry NaN).
type Estimate struct {
	// N is the number of outcomes measured.
	N uint64 `json:"n"`
	// Value is the point estimate.
	Value float64 `json:"value"`
	// Low and High bound the 95% confidence interval.
	Low  float64 `json:"low"`
	High float64 `json:"high"`
	// StdErr is the estimate's standard error, for callers that build
	// their own tests (such as a sequential one) on it.
	StdErr float64 `json:"stderr"`
}

// Summary is a snapshot of a Meter.
//
// The intervals: accuracy uses the Wilson score interval, which stays
// inside [0, 1] and keeps a width at 0 and 100%; its StdErr is the
// Agresti-Coull one, above 0 there too. AUC uses the Wilson interval as
// well, on the effective number of trials that the Hanley-McNeil (1982)
// variance implies, widened on each side by the binning error bound
// AUCBinError. Log-loss and MAE use the normal interval of a mean,
// mean ± 1.96·s/√n, and RMSE the square root of the normal interval of
// the mean squared error: outcomes that never varied (every error 0,
// say) show no spread, and these intervals then have width 0.
type Summary struct {
	// Accuracy is the share of classification outcomes predicted right.
	Accuracy Estimate `json:"accuracy"`
	// LogLoss is the mean negative log-probability of the true class
	// (natural log, probabilities clipped to [1e-15, 1-1e-15]).
	LogLoss Estimate `json:"log_loss"`
	// AUC is the area under the ROC curve of the binary outcomes; its N
	// is 0 until both a positive and a negative outcome were seen.
	AUC Estimate `json:"auc"`
	// AUCBinError bounds how far the binned AUC can be from the exact
	// AUC of the same outcomes; see [Meter] and the package doc.
	AUCBinError float64 `json:"auc_bin_error"`
	// MAE is the mean absolute error of the regression outcomes.
	MAE Estimate `json:"mae"`
	// RMSE is the root mean squared error of the regression outcomes.
	RMSE Estimate `json:"rmse"`
	// Refused counts the outcomes refused as invalid.
	Refused uint64 `json:"refused"`
}

// Summary returns the statistics so far. It takes O(1024) time (one step per AUC bin) and
// holds the Meter's lock meanwhile.
func (m *Meter) Summary() Summary {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Summary{Refused: m.refused}
	if m.classN > 0 {
		s.Accuracy = wilson(m.correct, m.classN)
		s.LogLoss = meanEstimate(&m.logLoss)
	}
	s.AUC, s.AUCBinError = m.auc()
	if m.absErr.n > 0 {
		s.MAE = meanEstimate(&m.absErr)
		mse := meanEstimate(&m.sqErr)
		s.RMSE = Estimate{
			N:     mse.N,
			Value: math.Sqrt(mse.Value),
			Low:   math.Sqrt(max(mse.Low, 0)),
			High:  math.Sqrt(mse.High),
		}
		if s.RMSE.Value > 0 { // delta method: se(√x) = se(x) / 2√x
			s.RMSE.StdErr = mse.StdErr / (2 * s.RMSE.Value)
		}
	}
	return s
}

// wilson is the Wilson score interval of k successes in n trials.
func wilson(k, n uint64) Estimate { return wilsonAt(float64(k)/float64(n), float64(n), n) }

// wilsonAt is the Wilson score interval of a proportion p measured on
// nf trials (an effective number: the AUC's is not a count), reported
// with count n. Its StdErr is the Agresti-Coull one, sqrt(q(1-q)/(nf+z²))
// with q = (p·nf + z²/2)/(nf + z²) the interval's centre, so that it is
// above 0 at p = 0 and p = 1 as the interval's width is; sqrt(p(1-p)/n)
// was 0 there, whatever n.
func wilsonAt(p, nf float64, n uint64) Estimate {
	z2 := z95 * z95
	centre := (p + z2/(2*nf)) / (1 + z2/nf)
	half := z95 / (1 + z2/nf) * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return Estimate{N: n, Value: p, Low: max(centre-half, 0), High: min(centre+half, 1), StdErr: math.Sqrt(centre * (1 - centre) / (nf + z2))}
}

func meanEstimate(w *welford) Estimate {
	se := math.Sqrt(w.variance() / float64(w.n))
	return Estimate{N: w.n, Value: w.mean, Low: w.mean - z95*se, High: w.mean + z95*se, StdErr: se}
}

// auc computes the binned AUC: a positive and a negative in different
// bins are ordered by their bins, and a pair sharing a bin counts one
// half, as a tie. The exact AUC of the same outcomes differs from it by
// at most half the share of positive-negative pairs that share a bin,
// which is returned as the bin error.
//
// The interval is the Wilson score interval of the AUC on the effective
// number of trials that gives a proportion the Hanley-McNeil variance,
// widened by the bin error on each side. Hanley and McNeil's variance is
// a(1-a) over that number, which stays finite and above 0 as a reaches
// 0 or 1, so the interval keeps a width there; their normal interval
// had none at an AUC of 1, which 20 positives and 20 negatives of a
// model with a true AUC of 0.99 show in a quarter of samples.
func (m *Meter) auc() (Estimate, float64) {
	if m.nPos == 0 || m.nNeg == 0 {
		return Estimate{}, 0
	}
	var below, wins, ties float64 // below: negatives in lower bins
	for b := range bins {
		p, n := float64(m.pos[b]), float64(m.neg[b])
		wins += p * below
		ties += p * n
		below += n
	}
	np, nn := float64(m.nPos), float64(m.nNeg)
	pairs := np * nn
	a := (wins + ties/2) / pairs
	binErr := ties / 2 / pairs
	// Hanley-McNeil: var = (a(1-a) + (np-1)(q1-a²) + (nn-1)(q2-a²)) / pairs,
	// q1 = a/(2-a), q2 = 2a²/(1+a); q1-a² = a(1-a)²/(2-a) and
	// q2-a² = a²(1-a)/(1+a), so var = a(1-a)/neff with neff below.
	neff := pairs / (1 + (np-1)*(1-a)/(2-a) + (nn-1)*a/(1+a))
	e := wilsonAt(a, neff, m.nPos+m.nNeg)
	e.Low, e.High = max(e.Low-binErr, 0), min(e.High+binErr, 1)
	return e, binErr
}
