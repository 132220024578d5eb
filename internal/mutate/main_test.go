package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestEveryMutantApplies: each mutant's original text occurs exactly
// once in its file, so the sweep breaks what it says it breaks. Code
// moves under the mutants (a refactor, a rename), and a mutant whose
// text is gone reads "stale" only when someone runs the sweep, which
// takes twenty minutes; this check takes none.
func TestEveryMutantApplies(t *testing.T) {
	root := filepath.Join("..", "..")
	names := map[string]bool{}
	for _, m := range mutants {
		if names[m.name] {
			t.Errorf("two mutants are named %s", m.name)
		}
		names[m.name] = true
		b, err := os.ReadFile(filepath.Join(root, m.file))
		if err != nil {
			t.Errorf("%s: %v", m.name, err)
			continue
		}
		if n := bytes.Count(b, []byte(m.old)); n != 1 {
			t.Errorf("%s: its original text occurs %d times in %s, want once", m.name, n, m.file)
		}
		if m.old == m.new {
			t.Errorf("%s: changes nothing", m.name)
		}
	}
}
