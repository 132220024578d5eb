package training

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// TestCheckpointDegenerateStreams checkpoints every learner after each
// degenerate stream. On features or targets near 1e300 a running
// statistic (a variance, a co-moment, a loss sum) overflows while the
// weights stay finite and the learner keeps predicting; its checkpoint
// must still save, and restore to a learner that predicts the same, bit
// for bit, and encodes the same bytes.
func TestCheckpointDegenerateStreams(t *testing.T) {
	for sname, gen := range degenerateStreams {
		for lname, mk := range degenerateLearners() {
			l, err := mk()
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			for range 200 {
				x, y := gen(r)
				if _, err := l.Learn(Sample{Features: x, Target: label(l.Kind(), y)}); err != nil {
					t.Fatalf("%s, %s: %v", sname, lname, err)
				}
			}
			path := filepath.Join(t.TempDir(), "ckpt")
			if err := l.Save(path); err != nil {
				t.Errorf("%s, %s: Save: %v", sname, lname, err)
				continue
			}
			got, err := restoreLearner(path)
			if err != nil {
				t.Errorf("%s, %s: Restore: %v", sname, lname, err)
				continue
			}
			a, _ := l.MarshalBinary()
			b, _ := got.MarshalBinary()
			if !bytes.Equal(a, b) {
				t.Errorf("%s, %s: the restored learner encodes other bytes", sname, lname)
			}
			for range 20 {
				x, _ := gen(r)
				p, _ := l.Predict(x)
				q, _ := got.Predict(x)
				if math.Float64bits(p.Value) != math.Float64bits(q.Value) {
					t.Errorf("%s, %s: restored predicts %v, saved %v", sname, lname, q.Value, p.Value)
					break
				}
			}
		}
	}
}

// TestTrainerStateNonFiniteWindow: the trainer's window metrics of a
// stream with targets near 1e300 hold an infinite loss sum, and its
// checkpoint state must still encode and decode to the same values.
func TestTrainerStateNonFiniteWindow(t *testing.T) {
	st := trainerState{Version: 3, Records: 9, Window: Metrics{count: 2, lossSum: math.Inf(1), absErrSum: math.NaN(), correct: 1}}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var got trainerState
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Version != 3 || got.Records != 9 || got.Window.count != 2 || got.Window.correct != 1 ||
		!math.IsInf(got.Window.lossSum, 1) || !math.IsNaN(got.Window.absErrSum) {
		t.Fatalf("round trip gave %+v from %s", got, b)
	}
	// A finite state encodes as before: plain JSON numbers.
	b, _ = json.Marshal(trainerState{Window: Metrics{count: 1, lossSum: 0.25}})
	if !bytes.Contains(b, []byte(`"window":{"count":1,"loss_sum":0.25,"abs_err_sum":0,"correct":0}`)) {
		t.Fatalf("finite state encodes as %s", b)
	}
}

// TestDivergedWeightsStillFailToEncode: only statistics may be
// non-finite in a checkpoint; a NaN weight is still ErrDiverged.
func TestDivergedWeightsStillFailToEncode(t *testing.T) {
	l, err := NewLearner(Logistic, 2)
	if err != nil {
		t.Fatal(err)
	}
	l.w[0] = math.NaN()
	if _, err := l.MarshalBinary(); err == nil {
		t.Fatal("a NaN weight encoded")
	}
}
