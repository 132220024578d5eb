package quality

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/modelstream/modelstream/serving"
)

// meterState is the JSON form of a Meter. The bins are kept sparse: most
// are empty for a model that scores in a narrow range.
type meterState struct {
	Refused uint64         `json:"refused"`
	Correct uint64         `json:"correct"`
	ClassN  uint64         `json:"class_n"`
	LogLoss [3]float64     `json:"log_loss"` // n, mean, m2
	AbsErr  [3]float64     `json:"abs_err"`
	SqErr   [3]float64     `json:"sq_err"`
	Pos     map[int]uint64 `json:"pos,omitempty"`
	Neg     map[int]uint64 `json:"neg,omitempty"`
}

func (w welford) state() [3]float64 { return [3]float64{float64(w.n), w.mean, w.m2} }

func welfordOf(s [3]float64) (welford, bool) {
	ok := s[0] >= 0 && s[0] == math.Trunc(s[0]) && s[0] < 1<<63 && finite(s[1]) && finite(s[2]) && s[2] >= 0 &&
		s[1] >= 0 && (s[0] > 0 || s[1] == 0 && s[2] == 0) // every tracked value is >= 0
	return welford{n: uint64(s[0]), mean: s[1], m2: s[2]}, ok
}

func (m *Meter) state() meterState {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := meterState{
		Refused: m.refused, Correct: m.correct, ClassN: m.classN,
		LogLoss: m.logLoss.state(), AbsErr: m.absErr.state(), SqErr: m.sqErr.state(),
		Pos: map[int]uint64{}, Neg: map[int]uint64{},
	}
	for b := range bins {
		if m.pos[b] > 0 {
			st.Pos[b] = m.pos[b]
		}
		if m.neg[b] > 0 {
			st.Neg[b] = m.neg[b]
		}
	}
	return st
}

// binsOf reads saved bin counts: the bins, and their sum.
func binsOf(saved map[int]uint64) (out [bins]uint64, n uint64, err error) {
	for b, c := range saved {
		if b < 0 || b >= bins {
			return out, 0, fmt.Errorf("%w: quality: bin %d", serving.ErrCorruptState, b)
		}
		if n+c < n {
			return out, 0, fmt.Errorf("%w: quality: bin counts overflow", serving.ErrCorruptState)
		}
		out[b], n = c, n+c
	}
	return out, n, nil
}

func (m *Meter) restore(st meterState) error {
	ll, ok1 := welfordOf(st.LogLoss)
	ae, ok2 := welfordOf(st.AbsErr)
	se, ok3 := welfordOf(st.SqErr)
	if !ok1 || !ok2 || !ok3 || st.Correct > st.ClassN || ll.n != st.ClassN || ae.n != se.n {
		return fmt.Errorf("%w: quality: inconsistent counts", serving.ErrCorruptState)
	}
	pos, np, err := binsOf(st.Pos)
	if err != nil {
		return err
	}
	neg, nn, err := binsOf(st.Neg)
	if err != nil {
		return err
	}
	if np+nn < np || np+nn > st.ClassN {
		return fmt.Errorf("%w: quality: more binary outcomes than classifications", serving.ErrCorruptState)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.refused, m.correct, m.classN = st.Refused, st.Correct, st.ClassN
	m.logLoss, m.absErr, m.sqErr = ll, ae, se
	m.pos, m.neg, m.nPos, m.nNeg = pos, neg, np, nn
	return nil
}

// MarshalBinary implements encoding.BinaryMarshaler: the Meter's
// counts, as JSON.
func (m *Meter) MarshalBinary() ([]byte, error) { return json.Marshal(m.state()) }

// UnmarshalBinary implements encoding.BinaryUnmarshaler: it replaces the
// Meter's counts with saved ones, or returns an error wrapping
// [serving.ErrCorruptState].
func (m *Meter) UnmarshalBinary(data []byte) error {
	var st meterState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("%w: quality: %v", serving.ErrCorruptState, err)
	}
	return m.restore(st)
}

type seriesState struct {
	Key   Key        `json:"key"`
	Meter meterState `json:"meter"`
}

// MarshalBinary implements encoding.BinaryMarshaler: every series, as
// JSON, so that a Tracker can be checkpointed with the join that feeds
// it (see serving/feedback/feedbackkafka.Save).
func (t *Tracker) MarshalBinary() ([]byte, error) {
	keys, ms := t.all()
	out := make([]seriesState, len(keys))
	for i, m := range ms {
		out[i] = seriesState{Key: keys[i], Meter: m.state()}
	}
	return json.Marshal(out)
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler: it replaces
// every series with the saved ones, or returns an error wrapping
// [serving.ErrCorruptState] and changes nothing. Saved series beyond the Tracker's bound
// are an error too, and so is a series saved twice.
func (t *Tracker) UnmarshalBinary(data []byte) error {
	var saved []seriesState
	if err := json.Unmarshal(data, &saved); err != nil {
		return fmt.Errorf("%w: quality: %v", serving.ErrCorruptState, err)
	}
	if len(saved) > t.max {
		return fmt.Errorf("%w: quality: %d series for a Tracker of %d", serving.ErrCorruptState, len(saved), t.max)
	}
	series := make(map[Key]*Meter, len(saved))
	for _, s := range saved {
		if _, dup := series[s.Key]; dup {
			return fmt.Errorf("%w: quality: series %s saved twice", serving.ErrCorruptState, s.Key)
		}
		m := new(Meter)
		if err := m.restore(s.Meter); err != nil {
			return fmt.Errorf("%w (series %s)", err, s.Key)
		}
		series[s.Key] = m
	}
	t.mu.Lock()
	t.series = series
	t.mu.Unlock()
	return nil
}
