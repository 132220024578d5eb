package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/modelstream/modelstream/speculative"
)

// TestTour runs the example and checks what it promises, leaving the
// latencies, which depend on the machine, to the printed table: every
// composition answers every record although the flaky model fails, the
// budgets and the vote consult the models they name, and the canary
// sends about a tenth of the traffic to the vote.
func TestTour(t *testing.T) {
	var buf bytes.Buffer
	out, err := tour(context.Background(), &buf)
	t.Log("\n" + buf.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{"linear alone", "deep alone", "budget 20ms", "vote in budget", "canary 90/10"} {
		n, ok := out.errors[row]
		if !ok || n != 0 {
			t.Errorf("%s: %d errors (row present: %v), want an answer for every record", row, n, ok)
		}
	}
	for _, st := range []struct {
		name   string
		models int
	}{{"budget", 3}, {"vote", 3}, {"vote-in-budget", 2}, {"canary", 2}} {
		var got int
		switch st.name {
		case out.budget.Name:
			got = len(out.budget.Models)
		case out.vote.Name:
			got = len(out.vote.Models)
		case out.voteBud.Name:
			got = len(out.voteBud.Models)
		case out.ab.Name:
			got = len(out.ab.Models)
		}
		if got != st.models {
			t.Errorf("combinator %q: %d models in its stats, want %d", st.name, got, st.models)
		}
	}
	// The fallback answers every record, unless the process went
	// unscheduled for longer than the budget (a loaded machine): such a
	// call fails with ErrFallbackLate, counted apart, and is also a
	// fallback miss. Any other error is a bug. Both budgets also serve
	// the canary's calls.
	late := uint64(out.late["budget 20ms"] + out.late["vote in budget"] + out.late["canary 90/10"])
	if got := out.budget.Errors + out.voteBud.Errors; got != late {
		t.Errorf("budgets: %d errors, %d calls late; want late errors only", got, late)
	}
	for _, st := range []speculative.Stats{out.budget, out.voteBud} {
		if st.Errors > st.FallbackMisses {
			t.Errorf("%s: %d errors, more than its %d fallback misses", st.Name, st.Errors, st.FallbackMisses)
		}
	}
	if out.ab.Errors != uint64(out.late["canary 90/10"]) {
		t.Errorf("canary: %d errors, %d of them late; want late errors only", out.ab.Errors, out.late["canary 90/10"])
	}
	var flakyErrors uint64
	for _, m := range out.vote.Models {
		if m.Model.Name == "flaky" {
			flakyErrors = m.Errors
		}
	}
	if flakyErrors == 0 {
		t.Error("the flaky model never failed in the vote: the example shows nothing")
	}
	// The budget's promise: the deep model wins when it answers in time
	// (its median is 8ms against a 20ms budget), the fallback otherwise.
	wins := map[string]uint64{}
	for _, m := range out.budget.Models {
		wins[m.Model.Name] = m.Wins
	}
	if wins["deep"] == 0 || wins["linear"] == 0 {
		t.Errorf("budget wins %v: want both the deep model and the linear fallback to answer some records", wins)
	}
	if out.voteBud.Models[1].Wins == 0 {
		t.Errorf("vote in budget: the vote never answered in time (%+v)", out.voteBud.Models)
	}
	// The canary routes by user key: each record to one variant, which
	// either answers it (a win) or fails it (a late fallback on a loaded
	// machine, counted above). A variant's calls are the Split's calls
	// less those it skipped, whatever became of them.
	control, canary := out.ab.Models[0], out.ab.Models[1]
	if out.ab.Invocations != records || control.Skipped+canary.Skipped != records {
		t.Errorf("canary split: %d calls, %d + %d skipped, want %d calls each skipped by one variant", out.ab.Invocations, control.Skipped, canary.Skipped, records)
	}
	routed := [2]uint64{records - control.Skipped, records - canary.Skipped}
	for i, m := range []speculative.ModelStats{control, canary} {
		if m.Wins+m.Errors != routed[i] {
			t.Errorf("canary %s: %d wins and %d errors, want %d calls in all", m.Role, m.Wins, m.Errors, routed[i])
		}
	}
	if share := float64(routed[1]) / records; share < 0.03 || share > 0.2 {
		t.Errorf("canary share %.3f, want about a tenth", share)
	}
	// Each budget scored the stream once alone, and again for its
	// variant's share of the split.
	if want := records + routed[0]; out.budget.Invocations != want {
		t.Errorf("budget invocations %d, want %d", out.budget.Invocations, want)
	}
	if want := records + routed[1]; out.voteBud.Invocations != want {
		t.Errorf("vote-in-budget invocations %d, want %d", out.voteBud.Invocations, want)
	}
}
