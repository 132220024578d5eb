package feedback_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/feedback"
	"github.com/modelstream/modelstream/serving/wire"
	"github.com/modelstream/modelstream/training"
)

// The live error of a model goes from 10% to 40% at the 3,000th joined
// label: a Page-Hinkley detector on the live 0/1 loss fires soon after,
// and not before.
func TestDriftOnLiveError(t *testing.T) {
	ph, err := training.NewPageHinkley()
	if err != nil {
		t.Fatal(err)
	}
	var fired []string
	feed, err := feedback.Drift(ph.Add, func(m feedback.Match) float64 {
		if (m.Score.Prediction.Value >= 0.5) == (m.Label.Value == 1) {
			return 0
		}
		return 1
	}, func(m feedback.Match) { fired = append(fired, m.Score.Key) })
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 6000 {
		wrong := 0.1
		if i >= 3000 {
			wrong = 0.4
		}
		y := float64(rng.IntN(2))
		p := y
		if rng.Float64() < wrong {
			p = 1 - y
		}
		m := feedback.Match{Score: wire.Score{Key: fmt.Sprint(i), Prediction: serving.Prediction{Value: p}}, Label: feedback.Label{Value: y}}
		if err := feed(m); err != nil {
			t.Fatal(err)
		}
	}
	if len(fired) == 0 {
		t.Fatal("no drift detected")
	}
	var first int
	fmt.Sscan(fired[0], &first)
	if first < 3000 || first > 3400 {
		t.Errorf("drift detected at %d (all: %v), want soon after 3000", first, fired)
	}
	if err := feed(feedback.Match{}); err != nil {
		t.Error(err)
	}
	// 1e200 is finite, but training's detectors ignore it: the outcome
	// was lost without an error.
	for _, x := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 1e200, -1e101} {
		bad, _ := feedback.Drift(ph.Add, func(feedback.Match) float64 { return x }, func(feedback.Match) { t.Error("fired") })
		// A refused loss is a refused outcome, like every other observer's.
		if err := bad(feedback.Match{}); !errors.Is(err, serving.ErrOutcome) {
			t.Errorf("loss %v: %v, want an error wrapping serving.ErrOutcome", x, err)
		}
	}
	if _, err := feedback.Drift(nil, nil, nil); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("Drift(nil...): %v", err)
	}
}
