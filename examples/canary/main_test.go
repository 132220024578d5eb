package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelstream/modelstream/speculative/canary"
)

// TestRollouts runs the example's two rollouts and checks the story: the
// good candidate goes through every step and is promoted, the bad one is
// rolled back for its quality before 5% of the traffic saw it, and the
// chart is written.
func TestRollouts(t *testing.T) {
	good, err := run(io.Discard, scenario{name: "good", wrong: 0.07})
	if err != nil {
		t.Fatal(err)
	}
	if good.final.Action != canary.Promote || len(good.decisions) != 4 || good.audited < 5 {
		t.Errorf("good candidate: %s after %d decisions (%d audited): %s", good.final.Action, len(good.decisions), good.audited, good.final.Reason)
	}
	bad, err := run(io.Discard, scenario{name: "bad", wrong: 0.30})
	if err != nil {
		t.Fatal(err)
	}
	if bad.final.Action != canary.Rollback || bad.final.Seen >= 0.05 || bad.final.Guardrails[2].Verdict != "breach" {
		t.Errorf("bad candidate: %s, seen %.2f%%: %s", bad.final.Action, 100*bad.final.Seen, bad.final.Reason)
	}
	path := filepath.Join(t.TempDir(), "canary.png")
	if err := chart(path, good, bad); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() < 10000 {
		t.Errorf("chart: %v", err)
	}
}
