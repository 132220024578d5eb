package tensorflow_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/tensorflow"
)

// TestBatchPlanChoice checks which graphs PredictBatch runs a batch at a
// time: an MLP does; a graph that reduces over the batch dimension, or
// whose placeholder has no batch dimension, does not, and still scores
// each row as Predict does.
func TestBatchPlanChoice(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	mlpGraph := newMLP(rng, f32, 5, 4, 2).graph(f32)

	mixing := &gb{}
	x := mixing.placeholder("x", f64, -1, 3)
	// Subtracting the mean over axis 0 mixes the rows of a batch.
	mean := mixing.op("mean", "Mean", attrs{"T": aType(f64), "keep_dims": aBool(true)}, x, mixing.constI32("ax", false, 0))
	mixing.op("centred", "Sub", attrs{"T": aType(f64)}, x, mean)

	fixed := &gb{}
	y := fixed.placeholder("y", f64, 1, 3)
	fixed.op("r", "Relu", attrs{"T": aType(f64)}, y)

	for _, tc := range []struct {
		name    string
		g       *gb
		batched bool
	}{{"mlp", mlpGraph, true}, {"mixing", mixing, false}, {"fixed", fixed, false}} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustLoad(t, tc.g, nil)
			if tensorflow.Batched(m) != tc.batched {
				t.Fatalf("batched = %v, want %v", tensorflow.Batched(m), tc.batched)
			}
			n := m.Describe().Features
			rows := make([][]float64, 70)
			for i := range rows {
				rows[i] = randVals(rng, n)
			}
			out := make([]serving.Prediction, len(rows))
			if err := m.PredictBatch(context.Background(), rows, out); err != nil {
				t.Fatal(err)
			}
			for i, r := range rows {
				checkNear(t, "row", out[i].Outputs(), outputs(t, m, r), 0)
			}
		})
	}
}

// TestPredictAllocs checks that Predict allocates nothing for a graph
// with one output per record, and only the Values slice for several.
func TestPredictAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops buffers on purpose")
	}
	rng := rand.New(rand.NewPCG(33, 34))
	for _, tc := range []struct {
		outs   int
		allocs float64
	}{{1, 0}, {3, 1}} {
		m := mustLoad(t, newMLP(rng, f32, 30, 64, 64, tc.outs).graph(f32), nil)
		x := randVals(rng, 30)
		m.Predict(context.Background(), x) // fill the pool
		got := testing.AllocsPerRun(100, func() {
			if _, err := m.Predict(context.Background(), x); err != nil {
				t.Fatal(err)
			}
		})
		if got != tc.allocs {
			t.Errorf("%d outputs: %v allocations per Predict, want %v", tc.outs, got, tc.allocs)
		}
	}
}
