package training

import (
	"slices"
	"testing"
)

// Replay must yield every row exactly once per pass, in order without a
// seed and in a fresh order each pass with one.
func TestReplayShufflesEachPass(t *testing.T) {
	rows := make([]int, 20)
	for i := range rows {
		rows[i] = i
	}
	passes := func(seed uint64) [][]int {
		var all []int
		for r := range Replay(rows, 3, seed) {
			all = append(all, r)
		}
		if len(all) != 3*len(rows) {
			t.Fatalf("seed %d: %d rows yielded, want %d", seed, len(all), 3*len(rows))
		}
		return [][]int{all[:20], all[20:40], all[40:]}
	}
	for e, p := range passes(0) {
		if !slices.Equal(p, rows) {
			t.Errorf("seed 0, pass %d: %v, want the rows in order", e, p)
		}
	}
	shuffled := passes(7)
	for e, p := range shuffled {
		sorted := slices.Sorted(slices.Values(p))
		if !slices.Equal(sorted, rows) {
			t.Errorf("seed 7, pass %d: %v is not every row once", e, p)
		}
		if slices.Equal(p, rows) {
			t.Errorf("seed 7, pass %d is in input order, want it shuffled", e)
		}
		if e > 0 && slices.Equal(p, shuffled[e-1]) {
			t.Errorf("seed 7, pass %d repeats pass %d's order %v", e, e-1, p)
		}
	}
	if again := passes(7); !slices.Equal(slices.Concat(again...), slices.Concat(shuffled...)) {
		t.Error("the same seed gave a different order")
	}
	n := 0
	for range Replay(rows, 3, 7) {
		if n++; n == 5 {
			break
		}
	}
	if n != 5 {
		t.Errorf("stopped after %d rows, want 5", n)
	}
}
