package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestTail runs the example with no flags: on the embedded broker it
// writes seven scores and a dead letter through a Sink, and prints each
// on one readable line, the scores with the model version that made them
// and their input's origin, the dead letter with its stage and reason.
func TestTail(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, "", "scores", "oldest", 0); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 8 {
		t.Fatalf("%d lines, want 8", len(lines))
	}
	var scores, dead int
	for _, l := range lines {
		switch {
		case strings.Contains(l, "by fraud@v1 (id ") && strings.Contains(l, "from transactions/"):
			scores++
		case strings.Contains(l, "DEAD LETTER from transactions/1@7 (decode): ") && strings.Contains(l, "not a number"):
			dead++
		default:
			t.Errorf("unexpected line %q", l)
		}
	}
	if scores != 7 || dead != 1 {
		t.Errorf("%d scores and %d dead letters, want 7 and 1", scores, dead)
	}
	if err := run(context.Background(), &out, "", "scores", "latest", 0); err == nil {
		t.Error("-from latest: no error, want one naming oldest or newest")
	}
}
