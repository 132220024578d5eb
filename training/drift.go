package training

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/modelstream/modelstream/serving"
)

// Detector watches a stream of values, usually a model's per-record
// loss or 0/1 error, and reports when their mean has drifted upward.
// Add returns true on the record at which drift is detected; the
// detector then starts afresh by itself. PageHinkley and ADWIN skip a
// NaN, an infinite value (an infinite loss) and a value beyond ±1e100
// (a squared loss of a prediction off by 1e50 or more): such a value
// has no usable size, and would make their sums or variance overflow to
// ±Inf for good, so that they never fire again and cannot be
// checkpointed. Detectors are not safe for concurrent use.
type Detector interface {
	// Add observes x and reports whether drift was detected.
	Add(x float64) bool
	// Reset forgets everything observed.
	Reset()
}

// PageHinkley is the Page-Hinkley test for an increase in the mean of a
// stream (Page 1954; Hinkley 1971; as used for concept drift by Gama et
// al.). With the running mean x̄_t of the values seen since the last
// reset, it keeps
//
//	m_t = α·m_{t-1} + (x_t - x̄_t - δ),   M_t = min(M_{t-1}, m_t)
//
// and signals drift when t ≥ the warm-up ([PHMinInstances]) and m_t - M_t > λ. δ is the
// size of change that is tolerated, λ the evidence needed, and α < 1
// fades old deviations so that the test stays responsive on long runs.
//
// The zero value is not usable; use [NewPageHinkley].
type PageHinkley struct{ st phState }

// phState is the parameters and state of a PageHinkley, with the JSON
// form MarshalBinary writes.
type phState struct {
	// Delta is δ, the tolerated drift per record, in the units of the
	// values (default 0.005).
	Delta float64 `json:"delta"`
	// Lambda is λ, the threshold (default 50). Higher means fewer false
	// alarms and later detection; the delay for a mean shift of size s
	// is about λ/(s - δ) records.
	Lambda float64 `json:"lambda"`
	// Alpha is α, the fading factor in (0, 1] (default 0.9999).
	Alpha float64 `json:"alpha"`
	// MinInstances is how many values must be seen after a reset before
	// drift can be signalled (default 30).
	MinInstances int64 `json:"min_instances"`

	// The state below is encoded by MarshalBinary.

	// N counts the values seen since the last reset.
	N int64 `json:"n"`
	// Mean is their running mean x̄_t.
	Mean float64 `json:"mean"`
	// Sum is the faded cumulative deviation m_t.
	Sum float64 `json:"sum"`
	// Min is the smallest Sum seen since the last reset, M_t.
	Min float64 `json:"min"`
}

// PageHinkleyOption sets one parameter of a PageHinkley detector.
type PageHinkleyOption func(*PageHinkley)

// PHDelta sets δ, the tolerated drift per record in the units of the
// values, overriding the default of 0.005.
func PHDelta(d float64) PageHinkleyOption { return func(p *PageHinkley) { p.st.Delta = d } }

// PHLambda sets λ, the threshold, overriding the default of 50. Higher
// means fewer false alarms and later detection; the delay for a mean
// shift of size s is about λ/(s - δ) records.
func PHLambda(l float64) PageHinkleyOption { return func(p *PageHinkley) { p.st.Lambda = l } }

// PHAlpha sets α, the fading factor in (0, 1], overriding the default of
// 0.9999.
func PHAlpha(a float64) PageHinkleyOption { return func(p *PageHinkley) { p.st.Alpha = a } }

// PHMinInstances sets how many values must be seen after a reset before
// drift can be signalled, overriding the default of 30.
func PHMinInstances(n int64) PageHinkleyOption { return func(p *PageHinkley) { p.st.MinInstances = n } }

// NewPageHinkley returns a Page-Hinkley detector with δ = 0.005,
// λ = 50, α = 0.9999 and 30 warm-up records, unless options say
// otherwise. Invalid parameters give an error wrapping serving.ErrConfig.
func NewPageHinkley(opts ...PageHinkleyOption) (*PageHinkley, error) {
	p := &PageHinkley{st: phState{Delta: 0.005, Lambda: 50, Alpha: 0.9999, MinInstances: 30}}
	for _, o := range opts {
		if o == nil {
			return nil, configErr("NewPageHinkley: nil option")
		}
		o(p)
	}
	switch {
	case !(p.st.Delta >= 0) || math.IsInf(p.st.Delta, 0):
		return nil, configErr("Page-Hinkley δ = %v: must be zero or positive", p.st.Delta)
	case !(p.st.Lambda > 0) || math.IsInf(p.st.Lambda, 0):
		return nil, configErr("Page-Hinkley λ = %v: must be positive", p.st.Lambda)
	case !(p.st.Alpha > 0 && p.st.Alpha <= 1):
		return nil, configErr("Page-Hinkley α = %v: must lie in (0, 1]", p.st.Alpha)
	case p.st.MinInstances < 1:
		return nil, configErr("Page-Hinkley warm-up %d: must be at least 1", p.st.MinInstances)
	}
	return p, nil
}

// Add implements Detector. A NaN, ±Inf or a value beyond ±1e100 is
// skipped (see [Detector]).
func (p *PageHinkley) Add(x float64) bool {
	if !usable(x) {
		return false
	}
	p.st.N++
	p.st.Mean += (x - p.st.Mean) / float64(p.st.N)
	p.st.Sum = p.st.Alpha*p.st.Sum + (x - p.st.Mean - p.st.Delta)
	if p.st.Sum < p.st.Min {
		p.st.Min = p.st.Sum
	}
	if p.st.N >= p.st.MinInstances && p.st.Sum-p.st.Min > p.st.Lambda {
		p.Reset()
		return true
	}
	return false
}

// Reset implements Detector.
func (p *PageHinkley) Reset() { p.st.N, p.st.Mean, p.st.Sum, p.st.Min = 0, 0, 0, 0 }

// MarshalBinary encodes the detector's parameters and state, so a
// Trainer checkpoint can carry it.
func (p *PageHinkley) MarshalBinary() ([]byte, error) { return json.Marshal(p.st) }

// UnmarshalBinary restores what MarshalBinary encoded. Data that does
// not decode, or holds parameters NewPageHinkley would refuse or a state
// no run can reach, is refused with an error wrapping
// serving.ErrCorruptState, and p is unchanged.
func (p *PageHinkley) UnmarshalBinary(b []byte) error {
	st := p.st
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("%w: training: Page-Hinkley state: %v", serving.ErrCorruptState, err)
	}
	q, err := NewPageHinkley(PHDelta(st.Delta), PHLambda(st.Lambda), PHAlpha(st.Alpha), PHMinInstances(st.MinInstances))
	if err != nil {
		return fmt.Errorf("%w: training: Page-Hinkley state: %v", serving.ErrCorruptState, err)
	}
	if st.N < 0 || !usable(st.Mean) || !finite(st.Sum) || !finite(st.Min) || st.Min > 0 {
		return fmt.Errorf("%w: training: Page-Hinkley state: n %d, mean %v, sum %v, min %v", serving.ErrCorruptState, st.N, st.Mean, st.Sum, st.Min)
	}
	q.st = st
	*p = *q
	return nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// maxDetectorValue bounds the values PageHinkley and ADWIN take: the
// square of a difference of two of them, times a window's length, stays
// far from overflowing.
const maxDetectorValue = 1e100

// usable reports whether a detector can take x: finite and within
// ±maxDetectorValue.
func usable(x float64) bool { return math.Abs(x) <= maxDetectorValue }
