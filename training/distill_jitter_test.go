package training

import (
	"errors"
	"testing"
)

// Rows of different lengths are refused with ErrInvalidSample. Before,
// a row longer than the first panicked (index out of range in the
// standardizer) and a shorter one yielded samples of the wrong length.
func TestJitteredRefusesRaggedRows(t *testing.T) {
	for name, rows := range map[string][][]float64{
		"longer":  {{1, 2}, {3, 4, 5}},
		"shorter": {{1, 2, 3}, {4, 5}},
		"empty":   {{1, 2}, {}},
	} {
		seq, err := Jittered(rows, 10, 0.1, 1)
		if !errors.Is(err, ErrInvalidSample) || seq != nil {
			t.Errorf("%s: got %v (sequence %v), want ErrInvalidSample", name, err, seq != nil)
		}
	}
	seq, err := Jittered([][]float64{{1, 2}, {3, 4}}, 5, 0.1, 1)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for x := range seq {
		if len(x) != 2 {
			t.Fatalf("sample %v", x)
		}
		n++
	}
	if n != 5 {
		t.Fatalf("%d samples, want 5", n)
	}
}
