package atomicfile_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/internal/atomicfile"
	"github.com/modelstream/modelstream/internal/atomicfile/crashfs"
)

// TestWriteSurvivesACrashAtEveryStep replaces a file, crashing at each
// step in turn and just after Write returned: a restarted process finds
// the old content if Write failed, the new one (or, at the last step,
// either) otherwise, never a mix. Dropping the file's sync, the rename
// or the directory's sync makes it fail.
func TestWriteSurvivesACrashAtEveryStep(t *testing.T) {
	const path = "/d/state"
	old, new := []byte("old content"), []byte("the new content, longer")
	var steps []string
	for failAt := 1; ; failAt++ {
		c := crashfs.New()
		c.Put(path, old)
		c.FailAt = failAt
		err := atomicfile.Write(c, path, new)
		if err == nil && c.Step < failAt {
			failAt, steps = 0, c.Steps // every step ran: crash after Write returned
		} else if !errors.Is(err, crashfs.ErrCrash) {
			t.Fatalf("crash at step %d: Write returned %v", failAt, err)
		}
		at := "after Write returned"
		if failAt > 0 {
			at = fmt.Sprintf("at step %d (%s)", failAt, c.Steps[failAt-1])
		}
		got, rerr := c.Crash().ReadFile(path)
		switch {
		case rerr != nil:
			t.Errorf("crash %s: the file is gone: %v", at, rerr)
		case err == nil && string(got) != string(new):
			t.Errorf("crash %s: Write returned nil, but a restarted process finds %q", at, got)
		case string(got) != string(old) && string(got) != string(new):
			t.Errorf("crash %s: the file holds %q, neither the old content nor the new", at, got)
		}
		if failAt == 0 {
			break
		}
	}
	if want := "create write sync close rename sync dir"; strings.Join(steps, " ") != want {
		t.Errorf("a write takes the steps %q, want %q", strings.Join(steps, " "), want)
	}
}

// TestWriteReplacesOnDisk: over the operating system's filesystem, the
// file holds the new content and no temporary file is left.
func TestWriteReplacesOnDisk(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/state"
	for _, content := range []string{"one", "two, longer"} {
		if err := atomicfile.Write(atomicfile.OS, path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := atomicfile.OS.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("read %q, %v; want %q", got, err, content)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("the directory holds %d entries, want the file alone", len(ents))
	}
	if err := atomicfile.Write(atomicfile.OS, dir+"/missing/state", []byte("x")); err == nil {
		t.Fatal("a write into a missing directory succeeded")
	}
	// A write that fails after its temporary file was made (here the
	// rename, over a directory that is not empty) removes that file: a
	// checkpoint failing on every tick must not fill the disk with them.
	busy := dir + "/busy"
	if err := os.MkdirAll(busy+"/inside", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.Write(atomicfile.OS, busy, []byte("x")); err == nil {
		t.Fatal("a write over a non-empty directory succeeded")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("after a failed write the directory holds %q, want the file and the directory alone", names)
	}
}
