package training

import (
	"encoding"
	"math"
	"testing"
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
