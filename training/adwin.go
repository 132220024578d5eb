package training

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/modelstream/modelstream/serving"
)

// ADWIN is the adaptive windowing detector of Bifet and Gavaldà (2007),
// in its ADWIN2 form: it keeps a window of recent values, compressed into
// an exponential histogram of buckets, and drops the older part of the
// window whenever the means of the older and newer parts differ by more
// than chance allows at confidence δ. The window therefore holds the
// longest recent stretch whose mean looks stationary.
//
// Every 32 values, ADWIN tries each bucket boundary as a cut into an
// older part W0 (n0 values, mean μ0) and a newer part W1 (n1, μ1), and
// cuts when
//
//	|μ0 - μ1| > √(2·m·σ²·d) + (2/3)·m·d,   m = 1/(n0-k+1) + 1/(n1-k+1),
//	d = ln(2·ln(n)/δ)
//
// where σ² is the window's variance, n its length, and k is set by
// [ADWINMinWindow].
// As a [Detector] it signals drift only when a cut finds the newer part
// worse (μ1 > μ0), since it watches an error; a cut for an improvement
// just shortens the window. After signalling it starts afresh.
//
// The zero value is not usable; use [NewADWIN].
type ADWIN struct{ st adwinState }

// adwinState is the parameters and state of an ADWIN, with the JSON
// form MarshalBinary writes.
type adwinState struct {
	// Delta is the confidence δ (default 0.002). Smaller means fewer
	// false alarms and later detection.
	Delta float64 `json:"delta"`
	// Clock is how many values arrive between two checks for a cut
	// (default 32); checking less often is cheaper and delays detection
	// by at most Clock values.
	Clock int64 `json:"clock"`
	// MaxBuckets is M, the number of buckets of each size kept before two
	// are merged (default 5). More buckets mean finer cut points.
	MaxBuckets int `json:"max_buckets"`
	// MinWindow is k, the fewest values either part of a cut may hold
	// (default 5).
	MinWindow int64 `json:"min_window"`

	// The state below is encoded by MarshalBinary.

	// Rows is the exponential histogram: row i holds buckets of 2^i
	// values, oldest first.
	Rows [][]adwinBucket `json:"rows"`
	// Width is the window's length, in values.
	Width int64 `json:"width"`
	// Total is the sum of the window's values.
	Total float64 `json:"total"`
	// M2 is the sum of squared deviations from the mean over the window.
	M2 float64 `json:"m2"`
	// Ticks counts the values added since the last reset, for Clock.
	Ticks int64 `json:"ticks"`
}

type adwinBucket struct {
	Total float64 `json:"t"`
	M2    float64 `json:"v"`
}

// ADWINOption sets one parameter of an ADWIN detector.
type ADWINOption func(*ADWIN)

// ADWINDelta sets the confidence δ, overriding the default of 0.002.
// Smaller means fewer false alarms and later detection.
func ADWINDelta(d float64) ADWINOption { return func(a *ADWIN) { a.st.Delta = d } }

// adwinClock sets how many values arrive between two checks for a cut
// (32 unless a test says otherwise); checking less often is cheaper and
// delays detection by at most n values.
func adwinClock(n int64) ADWINOption { return func(a *ADWIN) { a.st.Clock = n } }

// adwinMaxBuckets sets M, the number of buckets of each size kept before
// two are merged (5 unless a test says otherwise). More buckets mean
// finer cut points.
func adwinMaxBuckets(m int) ADWINOption { return func(a *ADWIN) { a.st.MaxBuckets = m } }

// ADWINMinWindow sets k, the fewest values either part of a cut may hold,
// overriding the default of 5.
func ADWINMinWindow(k int64) ADWINOption { return func(a *ADWIN) { a.st.MinWindow = k } }

// NewADWIN returns an ADWIN detector with δ = 0.002 and sub-windows of
// at least 5 values unless options say otherwise. It checks for a cut
// every 32 values (so detection is delayed by at most 31 values) and
// keeps 5 buckets of each size, as Bifet and Gavaldà suggest. Invalid
// parameters give an error wrapping serving.ErrConfig: δ must lie in
// (0, 1), and the sub-window size must be at least 1.
func NewADWIN(opts ...ADWINOption) (*ADWIN, error) {
	a := &ADWIN{st: adwinState{Delta: 0.002, Clock: 32, MaxBuckets: 5, MinWindow: 5}}
	for _, o := range opts {
		if o == nil {
			return nil, configErr("NewADWIN: nil option")
		}
		o(a)
	}
	switch {
	case !(a.st.Delta > 0 && a.st.Delta < 1):
		return nil, configErr("ADWIN δ = %v: must lie in (0, 1)", a.st.Delta)
	case a.st.Clock < 1:
		return nil, configErr("ADWIN clock %d: must be at least 1", a.st.Clock)
	case a.st.MaxBuckets < 1:
		return nil, configErr("ADWIN buckets per size %d: must be at least 1", a.st.MaxBuckets)
	case a.st.MinWindow < 1:
		return nil, configErr("ADWIN sub-window %d: must be at least 1", a.st.MinWindow)
	}
	return a, nil
}

// Len returns the current window length.
func (a *ADWIN) Len() int64 { return a.st.Width }

// Mean returns the mean of the current window, or NaN when empty.
func (a *ADWIN) Mean() float64 { return a.st.Total / float64(a.st.Width) }

// Add implements Detector. A NaN, ±Inf or a value beyond ±1e100 is
// skipped (see [Detector]).
func (a *ADWIN) Add(x float64) bool {
	if !usable(x) {
		return false
	}
	a.insert(x)
	a.st.Ticks++
	if a.st.Ticks%a.st.Clock != 0 || a.st.Width < 2*a.st.MinWindow {
		return false
	}
	if a.cut() {
		a.Reset()
		return true
	}
	return false
}

// Reset implements Detector.
func (a *ADWIN) Reset() {
	a.st.Rows, a.st.Width, a.st.Total, a.st.M2, a.st.Ticks = nil, 0, 0, 0, 0
}

func (a *ADWIN) insert(x float64) {
	if a.st.Width > 0 {
		mean := a.st.Total / float64(a.st.Width)
		a.st.M2 += float64(a.st.Width) / float64(a.st.Width+1) * (x - mean) * (x - mean)
	}
	a.st.Width++
	a.st.Total += x
	if len(a.st.Rows) == 0 {
		a.st.Rows = append(a.st.Rows, nil)
	}
	a.st.Rows[0] = append(a.st.Rows[0], adwinBucket{Total: x})
	for i := 0; i < len(a.st.Rows) && len(a.st.Rows[i]) > a.st.MaxBuckets; i++ {
		b0, b1 := a.st.Rows[i][0], a.st.Rows[i][1]
		n := float64(int64(1) << i)
		d := b0.Total/n - b1.Total/n
		merged := adwinBucket{Total: b0.Total + b1.Total, M2: b0.M2 + b1.M2 + n*n/(2*n)*d*d}
		a.st.Rows[i] = append(a.st.Rows[i][:0], a.st.Rows[i][2:]...)
		if i+1 == len(a.st.Rows) {
			a.st.Rows = append(a.st.Rows, nil)
		}
		a.st.Rows[i+1] = append(a.st.Rows[i+1], merged)
	}
}

// dropOldest removes the oldest bucket from the window.
func (a *ADWIN) dropOldest() {
	i := len(a.st.Rows) - 1
	for i >= 0 && len(a.st.Rows[i]) == 0 {
		i--
	}
	if i < 0 {
		return
	}
	b := a.st.Rows[i][0]
	a.st.Rows[i] = a.st.Rows[i][1:]
	s := int64(1) << i
	rest := a.st.Width - s
	if rest <= 0 {
		a.st.Width, a.st.Total, a.st.M2 = 0, 0, 0
		return
	}
	muB, muRest := b.Total/float64(s), (a.st.Total-b.Total)/float64(rest)
	a.st.M2 -= b.M2 + float64(s)*float64(rest)/float64(a.st.Width)*(muB-muRest)*(muB-muRest)
	if a.st.M2 < 0 {
		a.st.M2 = 0
	}
	a.st.Width = rest
	a.st.Total -= b.Total
	for len(a.st.Rows) > 0 && len(a.st.Rows[len(a.st.Rows)-1]) == 0 {
		a.st.Rows = a.st.Rows[:len(a.st.Rows)-1]
	}
}

// cut drops the older part of the window while some cut shows a change,
// and reports whether any change was an increase.
func (a *ADWIN) cut() bool {
	increased := false
	for {
		found, up := a.findCut()
		if !found {
			return increased
		}
		increased = increased || up
		a.dropOldest()
	}
}

// findCut scans the bucket boundaries, oldest first, for a cut whose
// parts differ significantly.
func (a *ADWIN) findCut() (found, up bool) {
	n := float64(a.st.Width)
	if a.st.Width < 2*a.st.MinWindow {
		return false, false
	}
	v := a.st.M2 / n
	d := math.Log(2 * math.Log(n) / a.st.Delta)
	k := float64(a.st.MinWindow)
	var n0, t0 float64
	for i := len(a.st.Rows) - 1; i >= 0; i-- {
		s := float64(int64(1) << i)
		for _, b := range a.st.Rows[i] {
			n0 += s
			t0 += b.Total
			n1 := n - n0
			if n0 < k || n1 < k {
				continue
			}
			mu0, mu1 := t0/n0, (a.st.Total-t0)/n1
			m := 1/(n0-k+1) + 1/(n1-k+1)
			eps := math.Sqrt(2*m*v*d) + 2.0/3.0*d*m
			if math.Abs(mu0-mu1) > eps {
				return true, mu1 > mu0
			}
		}
	}
	return false, false
}

// MarshalBinary encodes the detector's parameters and window, so a
// Trainer checkpoint can carry it.
func (a *ADWIN) MarshalBinary() ([]byte, error) { return json.Marshal(a.st) }

// UnmarshalBinary restores what MarshalBinary encoded. Data that does
// not decode, or holds parameters NewADWIN would refuse or a window that
// does not add up, is refused with an error wrapping
// serving.ErrCorruptState, and a is unchanged.
func (a *ADWIN) UnmarshalBinary(b []byte) error {
	st := a.st
	st.Rows = nil // not merged with the current window's
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("%w: training: ADWIN state: %v", serving.ErrCorruptState, err)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: training: ADWIN state: "+format, append([]any{serving.ErrCorruptState}, args...)...)
	}
	q, err := NewADWIN(ADWINDelta(st.Delta), adwinClock(st.Clock), adwinMaxBuckets(st.MaxBuckets), ADWINMinWindow(st.MinWindow))
	if err != nil {
		return fail("%v", err)
	}
	if len(st.Rows) > 62 {
		return fail("%d bucket rows", len(st.Rows))
	}
	var width int64
	var total float64
	for i, row := range st.Rows {
		if len(row) > st.MaxBuckets {
			return fail("row %d holds %d buckets, more than %d", i, len(row), st.MaxBuckets)
		}
		for _, bk := range row {
			if !finite(bk.Total) || !finite(bk.M2) || bk.M2 < 0 {
				return fail("bucket %+v in row %d", bk, i)
			}
			total += bk.Total
		}
		width += int64(len(row)) << i
	}
	if width != st.Width || st.Ticks < 0 || !finite(st.Total) || !finite(st.M2) || st.M2 < 0 ||
		math.Abs(total-st.Total) > 1e-9*max(1, math.Abs(total), math.Abs(st.Total))*float64(max(st.Width, 1)) {
		return fail("width %d and total %v for buckets of %d values summing to %v", st.Width, st.Total, width, total)
	}
	q.st = st
	*a = *q
	return nil
}
