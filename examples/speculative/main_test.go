package main

import (
	"bytes"
	"context"
	"testing"
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
	if out.budget.Errors != 0 || out.voteBud.Errors != 0 || out.ab.Errors != 0 {
		t.Errorf("errors: budget %d, vote in budget %d, canary %d; the fallback answers every record", out.budget.Errors, out.voteBud.Errors, out.ab.Errors)
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
	// The canary routes by user key: each record to one variant.
	control, canary := out.ab.Models[0].Wins, out.ab.Models[1].Wins
	if control+canary != records {
		t.Errorf("canary split: %d + %d answers, want %d", control, canary, records)
	}
	if share := float64(canary) / records; share < 0.03 || share > 0.2 {
		t.Errorf("canary share %.3f, want about a tenth", share)
	}
	// The budget scored the stream once alone, and again for the
	// control's share of the split.
	if want := records + control; out.budget.Invocations != want {
		t.Errorf("budget invocations %d, want %d", out.budget.Invocations, want)
	}
}
