package main

import (
	"context"
	"io"
	"path/filepath"
	"testing"
)

// TestRetrainRecovers runs the example on the embedded broker with a
// shorter stream and checks the story it tells: drift is detected soon
// after the shift and never before, a retrained version goes live, and
// the rolling accuracy collapses and then recovers.
func TestRetrainRecovers(t *testing.T) {
	cfg := defaultConfig()
	cfg.records, cfg.shift, cfg.every, cfg.retrain, cfg.perSec = 8000, 4000, 1500, 300, 16000
	cfg.plot = filepath.Join(t.TempDir(), "retrain.png")
	sum, err := run(context.Background(), io.Discard, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("drift at %v, activations %v, accuracy before %.3f, worst %.3f, end %.3f",
		sum.driftAt, sum.activated, sum.accBefore, sum.accLow, sum.accEnd)
	if len(sum.driftAt) != 1 || sum.driftAt[0] <= int64(cfg.shift) || sum.driftAt[0] > int64(cfg.shift)+600 {
		t.Errorf("drift detected at %v, want once within 600 records after %d", sum.driftAt, cfg.shift)
	}
	swapped := false
	for _, a := range sum.activated {
		if uint64(a[1]) == sum.retrainVer && a[0] > cfg.shift {
			swapped = true
		}
	}
	if sum.retrainVer == 0 || !swapped {
		t.Errorf("the retrained version v%d never went live after the shift (activations %v)", sum.retrainVer, sum.activated)
	}
	if sum.accBefore < 0.85 || sum.accLow > 0.7 || sum.accEnd < 0.85 {
		t.Errorf("rolling accuracy before %.3f, worst after %.3f, end %.3f: want high, collapsed, recovered", sum.accBefore, sum.accLow, sum.accEnd)
	}
}
