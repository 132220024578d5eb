package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/speculative/canary"
)

// TestRollouts runs the example's two rollouts on the embedded broker
// and checks the story: the good candidate goes through every step and
// is promoted, the bad one is rolled back for its live quality before 5%
// of the traffic saw it, the truth was joined from the feedback topic
// (by class name) and measured per version, and the chart is written.
func TestRollouts(t *testing.T) {
	cfg := defaultConfig()
	// About three times what the good rollout needs (50000 transactions
	// in each of two runs at load 11 to 20 on 2 cores: the producer waits
	// for the join, so a slow machine takes longer, not more
	// transactions): a broken rollout fails soon.
	cfg.maxRecords = 150000
	good, bad, err := runBoth(context.Background(), io.Discard, cfg)
	if err != nil {
		t.Fatal(err)
	}
	actions := func(r result) (out []canary.Action) {
		for _, m := range r.marks {
			out = append(out, m.d.Action)
		}
		return out
	}
	t.Logf("good: %v after %d evaluations; bad: %v (seen %.2f%%)", actions(good), len(good.points), actions(bad), 100*bad.final.Seen)
	if good.final.Action != canary.Promote || len(good.marks) != 4 || good.final.Share != 1 || good.audited < 5 {
		t.Errorf("good candidate: %s after %v (%d audited): %s", good.final.Action, actions(good), good.audited, good.final.Reason)
	}
	if bad.final.Action != canary.Rollback || bad.final.Seen >= 0.05 || bad.final.Share != 0 || bad.final.Guardrails[2].Verdict != "breach" {
		t.Errorf("bad candidate: %s, seen %.2f%%: %s", bad.final.Action, 100*bad.final.Seen, bad.final.Reason)
	}
	for _, r := range []result{good, bad} {
		fs := r.feedback
		if fs.Joined < 1000 || fs.BadLabels != 0 || fs.MatchErrors != 0 {
			t.Errorf("%s: feedback %+v", r.name, fs)
		}
		// Live quality per version: the champion is right about 90% of
		// the time, the candidates about 93% and 70%.
		want := map[uint64][2]float64{1: {0.87, 0.93}}
		if r.angle < 20 {
			want[2] = [2]float64{0.89, 0.97}
		} else {
			want[2] = [2]float64{0.55, 0.85}
		}
		for _, s := range r.quality {
			w := want[s.Version]
			if s.Accuracy.N < 200 || s.Accuracy.Value < w[0] || s.Accuracy.Value > w[1] || s.Refused != 0 {
				t.Errorf("%s: live quality of v%d (%s): accuracy %.3f over %d, refused %d; want in %v", r.name, s.Version, s.Variant, s.Accuracy.Value, s.Accuracy.N, s.Refused, w)
			}
		}
		// The points and the marks run forward in records, as the chart
		// draws them in order.
		for i := 1; i < len(r.points); i++ {
			if r.points[i].record < r.points[i-1].record {
				t.Errorf("%s: point %d at record %d after one at %d", r.name, i, r.points[i].record, r.points[i-1].record)
			}
		}
		for i := 1; i < len(r.marks); i++ {
			if r.marks[i].record < r.marks[i-1].record {
				t.Errorf("%s: decision %d at record %d after one at %d", r.name, i, r.marks[i].record, r.marks[i-1].record)
			}
		}
		if len(r.quality) != 2 {
			t.Errorf("%s: %d quality series, want 2", r.name, len(r.quality))
		}
	}
	path := filepath.Join(t.TempDir(), "canary.png")
	if err := chart(path, good, bad); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() < 10000 {
		t.Errorf("chart: %v", err)
	}
}

// A guardrail with too few calls on a side printed "candidate 0.0000
// champion 0.0000 difference in [+0.0000, +0.0000]: no data", numbers
// that were never measured; it now gives the counts it lacks.
func TestGuardrailsWithoutDataShowTheirCounts(t *testing.T) {
	var out strings.Builder
	writeGuardrails(&out, defaultConfig(), []canary.Guardrail{
		{Name: "errors", N: [2]uint64{392, 35600}, Margin: 0.005, Verdict: "no data"},
		{Name: "quality", Candidate: 0.27, Champion: 0.098, N: [2]uint64{222, 21098}, Low: 0.077, High: 0.268, Margin: 0.01, Verdict: "breach"},
	})
	t.Log("\n" + out.String())
	for _, want := range []string{
		"errors   no data yet: 392 candidate and 35600 champion calls, 400 a side needed\n",
		"quality  candidate 0.2700  champion 0.0980  difference in [+0.0770, +0.2680], margin 0.010: breach (222 and 21098 outcomes)\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out.String(), "+0.0000") {
		t.Error("a guardrail without data shows an interval")
	}
}
