package modelstream

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestNoCommittedBinaries fails when git tracks an executable or object
// file (ELF, Mach-O, PE or a Go archive): the programs of this module are
// built from source, and `go build ./examples/x` at the root leaves one
// behind that is easy to commit (probe, then canary and mutate were). It
// reads the index, so it needs git and a clone; without them it skips.
func TestNoCommittedBinaries(t *testing.T) {
	if _, err := os.Stat(".git"); err != nil {
		t.Skip("not a git clone (the module as go get fetches it has no index to check)")
	}
	out, err := exec.Command("git", "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("git ls-files: %v", err)
	}
	magic := [][]byte{
		[]byte("\x7fELF"),
		{0xfe, 0xed, 0xfa, 0xce}, {0xfe, 0xed, 0xfa, 0xcf}, {0xce, 0xfa, 0xed, 0xfe}, {0xcf, 0xfa, 0xed, 0xfe}, // Mach-O
		[]byte("MZ"),        // PE
		[]byte("!<arch>\n"), // ar: Go archives, .a
	}
	var found []string
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		f, err := os.Open(name)
		if err != nil {
			continue // deleted in the work tree
		}
		head := make([]byte, 8)
		n, _ := f.Read(head)
		f.Close()
		for _, m := range magic {
			if bytes.HasPrefix(head[:n], m) {
				found = append(found, name)
				break
			}
		}
	}
	if len(found) > 0 {
		t.Errorf("git tracks binaries; remove them (git rm --cached) and ignore them in .gitignore: %s", strings.Join(found, ", "))
	}
}
