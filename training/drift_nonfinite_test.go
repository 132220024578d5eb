package training

import (
	"encoding"
	"math"
	"testing"
)

// TestDetectorsSkipNonFiniteValues: a NaN or ±Inf value (an infinite
// loss) leaves a detector as it was. It made the running mean infinite
// for good, so the detector never fired again, and its checkpoint
// failed to encode ("json: unsupported value: +Inf"), which failed every
// Trainer checkpoint after it.
func TestDetectorsSkipNonFiniteValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		new  func() Detector
	}{
		{"Page-Hinkley", func() Detector { d, _ := NewPageHinkley(PHLambda(5)); return d }},
		{"ADWIN", func() Detector { d, _ := NewADWIN(); return d }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.new()
			for i := 0; i < 200; i++ {
				d.Add(0)
			}
			for _, x := range []float64{math.Inf(1), math.NaN(), math.Inf(-1)} {
				if d.Add(x) {
					t.Fatalf("Add(%v) signalled drift", x)
				}
			}
			b, err := d.(encoding.BinaryMarshaler).MarshalBinary()
			if err != nil {
				t.Fatalf("checkpoint after a non-finite value: %v", err)
			}
			if err := tc.new().(encoding.BinaryUnmarshaler).UnmarshalBinary(b); err != nil {
				t.Fatalf("restore: %v", err)
			}
			fired := false
			for i := 0; i < 2000 && !fired; i++ {
				fired = d.Add(1)
			}
			if !fired {
				t.Fatal("a jump from 0 to 1 after a non-finite value went undetected")
			}
		})
	}
}

// TestDetectorsSkipValuesTooLargeToSquare: a finite value too large to
// square (1e200, a squared loss of a prediction off by 1e100) leaves a
// detector as it was, like an infinite one. ADWIN's variance became
// +Inf: its cut threshold was infinite, so it never fired again, and
// its checkpoint failed to encode, failing every Trainer checkpoint
// after it; Page-Hinkley's sum went to -Inf for good on -1e308.
func TestDetectorsSkipValuesTooLargeToSquare(t *testing.T) {
	for _, tc := range []struct {
		name string
		new  func() Detector
	}{
		{"Page-Hinkley", func() Detector { d, _ := NewPageHinkley(PHLambda(5)); return d }},
		{"ADWIN", func() Detector { d, _ := NewADWIN(); return d }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.new()
			for i := 0; i < 200; i++ {
				d.Add(0)
			}
			for _, x := range []float64{1e200, -1e200, math.MaxFloat64, -math.MaxFloat64, -math.MaxFloat64} {
				if d.Add(x) {
					t.Fatalf("Add(%v) signalled drift", x)
				}
			}
			b, err := d.(encoding.BinaryMarshaler).MarshalBinary()
			if err != nil {
				t.Fatalf("checkpoint after a huge value: %v", err)
			}
			if err := tc.new().(encoding.BinaryUnmarshaler).UnmarshalBinary(b); err != nil {
				t.Fatalf("restore: %v", err)
			}
			fired := false
			for i := 0; i < 2000 && !fired; i++ {
				fired = d.Add(1)
			}
			if !fired {
				t.Fatal("a jump from 0 to 1 after a huge value went undetected")
			}
		})
	}
}
