package training

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// num is a float64 of a checkpoint's running statistics. It encodes as a
// JSON number when finite and as the string "NaN", "+Inf" or "-Inf"
// otherwise: a statistic may overflow on a degenerate stream (a variance
// of features near 1e300, a loss sum of targets near 1e300) while the
// weights stay finite, and such a learner must still checkpoint. Weights
// and biases are plain float64, so a diverged learner still fails to
// encode.
type num float64

func (x num) MarshalJSON() ([]byte, error) {
	f := float64(x)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte(`"` + strconv.FormatFloat(f, 'g', -1, 64) + `"`), nil
	}
	return json.Marshal(f)
}

func (x *num) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || !(math.IsNaN(f) || math.IsInf(f, 0)) {
			return fmt.Errorf("a statistic is a number, or \"NaN\", \"+Inf\" or \"-Inf\", not %q", s)
		}
		*x = num(f)
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*x = num(f)
	return nil
}

// nums is a []float64 of running statistics, encoded element by element
// as num.
type nums []float64

func (v nums) MarshalJSON() ([]byte, error) {
	if v == nil {
		return []byte("null"), nil
	}
	w := make([]num, len(v))
	for i, x := range v {
		w[i] = num(x)
	}
	return json.Marshal(w)
}

func (v *nums) UnmarshalJSON(b []byte) error {
	var w []num
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	if w == nil {
		*v = nil
		return nil
	}
	*v = make([]float64, len(w))
	for i, x := range w {
		(*v)[i] = float64(x)
	}
	return nil
}

// metricsState is the checkpointed form of Metrics, whose sums may
// overflow.
type metricsState struct {
	Count     int64 `json:"count"`
	LossSum   num   `json:"loss_sum"`
	AbsErrSum num   `json:"abs_err_sum"`
	Correct   int64 `json:"correct"`
}

func (m Metrics) state() metricsState {
	return metricsState{Count: m.count, LossSum: num(m.lossSum), AbsErrSum: num(m.absErrSum), Correct: m.correct}
}

func (m metricsState) metrics() Metrics {
	return Metrics{count: m.Count, lossSum: float64(m.LossSum), absErrSum: float64(m.AbsErrSum), correct: m.Correct}
}

// trainerStateJSON is trainerState with its metrics in checkpoint form;
// the outer Window shadows the embedded one.
type trainerStateJSON struct {
	plainTrainerState
	Window metricsState `json:"window"`
}

type plainTrainerState trainerState

func (s trainerState) MarshalJSON() ([]byte, error) {
	return json.Marshal(trainerStateJSON{plainTrainerState: plainTrainerState(s), Window: s.Window.state()})
}

func (s *trainerState) UnmarshalJSON(b []byte) error {
	var j trainerStateJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = trainerState(j.plainTrainerState)
	s.Window = j.Window.metrics()
	return nil
}
