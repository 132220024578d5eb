package training

import (
	"encoding"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/modelstream/modelstream/serving"
)

// TestDetectorsSkipUnusableValues: a value a detector cannot use leaves
// it as it was, and its checkpoint still encodes and restores to a
// detector that fires on the next jump.
//
//   - Non-finite values (an infinite loss): they made the running mean
//     infinite for good, so the detector never fired again, and its
//     checkpoint failed to encode ("json: unsupported value: +Inf"),
//     which failed every Trainer checkpoint after it.
//   - Finite values too large to square (1e200, the squared loss of a
//     prediction off by 1e100): ADWIN's variance became +Inf, so its cut
//     threshold was infinite and it never fired again, with the same
//     checkpoint failure; Page-Hinkley's sum went to -Inf for good on
//     -1e308.
func TestDetectorsSkipUnusableValues(t *testing.T) {
	detectors := []struct {
		name string
		new  func() Detector
	}{
		{"Page-Hinkley", func() Detector { d, _ := NewPageHinkley(PHLambda(5)); return d }},
		{"ADWIN", func() Detector { d, _ := NewADWIN(); return d }},
	}
	values := []struct {
		name string
		xs   []float64
	}{
		{"non-finite", []float64{math.Inf(1), math.NaN(), math.Inf(-1)}},
		{"too large to square", []float64{1e200, -1e200, math.MaxFloat64, -math.MaxFloat64, -math.MaxFloat64}},
	}
	for _, dt := range detectors {
		for _, vs := range values {
			t.Run(dt.name+"/"+vs.name, func(t *testing.T) {
				d := dt.new()
				for range 200 {
					d.Add(0)
				}
				for _, x := range vs.xs {
					if d.Add(x) {
						t.Fatalf("Add(%v) signalled drift", x)
					}
				}
				b, err := d.(encoding.BinaryMarshaler).MarshalBinary()
				if err != nil {
					t.Fatalf("checkpoint after %v: %v", vs.xs, err)
				}
				restored := dt.new()
				if err := restored.(encoding.BinaryUnmarshaler).UnmarshalBinary(b); err != nil {
					t.Fatalf("restore: %v", err)
				}
				for name, d := range map[string]Detector{"the detector": d, "its restored checkpoint": restored} {
					fired := false
					for i := 0; i < 2000 && !fired; i++ {
						fired = d.Add(1)
					}
					if !fired {
						t.Errorf("%s missed a jump from 0 to 1 after %v", name, vs.xs)
					}
				}
			})
		}
	}
}

// TestDetectorsRefuseImpossibleState: a detector's UnmarshalBinary
// refuses, with serving.ErrCorruptState and without changing the
// detector, a state with parameters its constructor would refuse or a
// window that does not add up. ADWIN took {"clock":0} and then panicked
// (integer divide by zero) on the next Add; Page-Hinkley took α = 0 and
// a NaN-free but impossible state silently. A state saved by a detector
// after a long run still restores, and the restored detector goes on
// exactly as the saved one.
func TestDetectorsRefuseImpossibleState(t *testing.T) {
	for _, tc := range []struct {
		name string
		new  func() Detector
		bad  []string
	}{
		{"Page-Hinkley", func() Detector { d, _ := NewPageHinkley(PHLambda(5)); return d }, []string{
			`{"alpha":0}`, `{"lambda":-1}`, `{"min_instances":0}`, `{"n":-1}`, `{"min":3}`, `{"mean":1e300}`, `[1]`,
		}},
		{"ADWIN", func() Detector { d, _ := NewADWIN(); return d }, []string{
			`{"clock":0}`, `{"delta":2}`, `{"max_buckets":0}`, `{"min_window":0}`,
			`{"width":5}`, `{"rows":[[{"t":1}]],"width":1,"total":7}`, `{"rows":[[{"t":1},{"t":1},{"t":1},{"t":1},{"t":1},{"t":1}]],"width":6,"total":6}`,
			`{"rows":[[{"t":1,"v":-1}]],"width":1,"total":1}`, `{"ticks":-1}`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.new()
			r := rand.New(rand.NewPCG(1, 2))
			for range 10000 {
				d.Add(r.Float64() * 0.2)
			}
			saved, err := d.(encoding.BinaryMarshaler).MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			for _, bad := range tc.bad {
				func() {
					defer func() {
						if p := recover(); p != nil {
							t.Errorf("%s: panicked: %v", bad, p)
						}
					}()
					err := d.(encoding.BinaryUnmarshaler).UnmarshalBinary([]byte(bad))
					if !errors.Is(err, serving.ErrCorruptState) {
						t.Errorf("UnmarshalBinary(%s) = %v, want serving.ErrCorruptState", bad, err)
					}
					for range 64 {
						d.Add(0.1) // would panic on a clock of 0
					}
				}()
				if err := d.(encoding.BinaryUnmarshaler).UnmarshalBinary(saved); err != nil {
					t.Fatalf("restoring a saved state after refusing %s: %v", bad, err)
				}
			}
			restored := tc.new()
			if err := restored.(encoding.BinaryUnmarshaler).UnmarshalBinary(saved); err != nil {
				t.Fatal(err)
			}
			for i := range 20000 {
				x := r.Float64() * 0.2
				if i > 5000 {
					x += 0.5
				}
				if a, b := d.Add(x), restored.Add(x); a != b {
					t.Fatalf("value %d: the detector says %v, its restored copy %v", i, a, b)
				}
			}
		})
	}
}
