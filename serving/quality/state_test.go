package quality

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/modelstream/modelstream/serving"
)

func TestStateRoundTrip(t *testing.T) {
	tr, _ := NewTracker(4)
	rng := rand.New(rand.NewPCG(1, 1))
	for _, k := range []Key{{"m", 1, ""}, {"m", 2, "canary"}} {
		m, _ := tr.Meter(k)
		for range 500 {
			m.ObserveBinary(rng.Float64(), rng.IntN(2) == 0)
			m.ObserveValue(rng.NormFloat64(), 0)
		}
		m.ObserveClass(0.4, true)
		m.ObserveBinary(2, true) // refused
	}
	data, err := tr.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	back, _ := NewTracker(4)
	if err := back.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	a, b := tr.Snapshot(), back.Snapshot()
	if len(a) != 2 || len(b) != 2 {
		t.Fatalf("%d and %d series", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("series %d:\n%+v\nrestored as\n%+v", i, a[i], b[i])
		}
	}
	small, _ := NewTracker(1)
	for name, bad := range map[string]string{
		"not JSON":      "[",
		"too many":      string(data),
		"correct > n":   `[{"key":{"model":"m","version":1},"meter":{"correct":5,"class_n":1,"log_loss":[1,0,0]}}]`,
		"bin out":       `[{"key":{"model":"m","version":1},"meter":{"class_n":1,"log_loss":[1,0,0],"pos":{"5000":1}}}]`,
		"negative m2":   `[{"key":{"model":"m","version":1},"meter":{"abs_err":[2,1,-1],"sq_err":[2,1,1]}}]`,
		"fractional n":  `[{"key":{"model":"m","version":1},"meter":{"abs_err":[1.5,1,1],"sq_err":[1.5,1,1]}}]`,
		"binary excess": `[{"key":{"model":"m","version":1},"meter":{"class_n":1,"log_loss":[1,0,0],"pos":{"3":2}}}]`,
	} {
		if err := small.UnmarshalBinary([]byte(bad)); !errors.Is(err, serving.ErrCorruptState) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if len(small.Snapshot()) != 0 {
		t.Error("a refused state changed the tracker")
	}
}

// A saved state that no sequence of observations can produce is refused:
// a negative mean of squared errors (its RMSE is NaN), a mean with no
// values, and bin counts whose sum wraps around 2^64.
func TestStateRefusesImpossibleState(t *testing.T) {
	for name, bad := range map[string]string{
		"negative mse":      `[{"key":{"model":"m","version":1},"meter":{"abs_err":[2,1,0],"sq_err":[2,-4,0]}}]`,
		"negative mae":      `[{"key":{"model":"m","version":1},"meter":{"abs_err":[2,-1,0],"sq_err":[2,1,0]}}]`,
		"negative log-loss": `[{"key":{"model":"m","version":1},"meter":{"class_n":2,"log_loss":[2,-3,0]}}]`,
		"mean of nothing":   `[{"key":{"model":"m","version":1},"meter":{"abs_err":[0,5,1],"sq_err":[0,5,1]}}]`,
		"bins wrap":         `[{"key":{"model":"m","version":1},"meter":{"class_n":1,"log_loss":[1,0,0],"pos":{"1":18446744073709551615,"2":2}}}]`,
	} {
		tr, _ := NewTracker(2)
		err := tr.UnmarshalBinary([]byte(bad))
		if !errors.Is(err, serving.ErrCorruptState) {
			t.Errorf("%s: accepted (%v); snapshot %+v", name, err, tr.Snapshot())
		}
		if _, err := json.Marshal(tr.Snapshot()); err != nil {
			t.Errorf("%s: snapshot cannot be encoded: %v", name, err)
		}
	}
}

// A saved state that names one series twice is refused: the second would
// silently replace the first, and the counts the first carried would be
// lost without a word.
func TestStateRefusesDuplicateSeries(t *testing.T) {
	tr, _ := NewTracker(4)
	dup := `[{"key":{"model":"m","version":1},"meter":{"class_n":1,"log_loss":[1,0.5,0]}},` +
		`{"key":{"model":"m","version":1},"meter":{"class_n":2,"log_loss":[2,0.5,0]}}]`
	if err := tr.UnmarshalBinary([]byte(dup)); !errors.Is(err, serving.ErrCorruptState) {
		t.Fatalf("a series saved twice was accepted (%v); snapshot %+v", err, tr.Snapshot())
	}
	if len(tr.Snapshot()) != 0 {
		t.Error("a refused state changed the tracker")
	}
	// The same model and version under another variant is a different series.
	two := `[{"key":{"model":"m","version":1},"meter":{"class_n":1,"log_loss":[1,0.5,0]}},` +
		`{"key":{"model":"m","version":1,"variant":"canary"},"meter":{"class_n":1,"log_loss":[1,0.5,0]}}]`
	if err := tr.UnmarshalBinary([]byte(two)); err != nil {
		t.Fatal(err)
	}
	if n := len(tr.Snapshot()); n != 2 {
		t.Fatalf("%d series, want 2", n)
	}
}
