package atomicfile_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/modelstream/modelstream/internal/atomicfile"
	"github.com/modelstream/modelstream/internal/atomicfile/crashfs"
)

// TestWriteRemovesLeftoverTemporaries: temporary files of earlier
// Writes to the same path, which a process that died before the rename
// left behind, go with the next Write that succeeds; files that only
// look alike (another path's, a name off the pattern) stay.
func TestWriteRemovesLeftoverTemporaries(t *testing.T) {
	c := crashfs.New()
	c.Put("/d/state", []byte("old"))
	others := []string{"/d/.other.tmp-3", "/d/.state.tmp-", "/d/.state.tmp-12x", "/d/state.tmp-5", "/e/.state.tmp-4"}
	for _, name := range append([]string{"/d/.state.tmp-7", "/d/.state.tmp-4294967295"}, others...) {
		c.Put(name, []byte("partial"))
	}
	// A process that dies at each step of a Write: whatever it left, the
	// restarted process's next Write leaves only its own file.
	for failAt := 1; failAt <= 5; failAt++ {
		c.FailAt, c.Step = failAt, 0
		if err := atomicfile.Write(c, "/d/state", []byte("dying")); err == nil {
			t.Fatalf("crash at step %d: Write succeeded", failAt)
		}
		c = c.Crash()
		if err := atomicfile.Write(c, "/d/state", []byte("new")); err != nil {
			t.Fatal(err)
		}
		want := slices.Sorted(slices.Values(append([]string{"/d/state"}, others...)))
		if got := c.Names(); !slices.Equal(got, want) {
			t.Fatalf("after a crash at step %d and a Write: %q, want %q", failAt, got, want)
		}
		c.Put("/d/.state.tmp-8", []byte("partial")) // for the next round
	}
}

// TestWriteRemovesLeftoversOnDisk: over the operating system's
// filesystem, a leftover older than the write goes; one newer than it
// (a Write still running elsewhere), a directory, and names off the
// pattern stay.
func TestWriteRemovesLeftoversOnDisk(t *testing.T) {
	dir := t.TempDir()
	past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	files := map[string]time.Time{
		".state.tmp-123": past, ".state.tmp-456": future, ".state.tmp-abc": past,
		".other.tmp-1": past, "state.tmp-2": past,
	}
	for name, mt := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".state.tmp-9"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(dir, ".state.tmp-9"), past, past); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.Write(atomicfile.OS, filepath.Join(dir, "state"), []byte("new")); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	want := []string{".other.tmp-1", ".state.tmp-456", ".state.tmp-9", ".state.tmp-abc", "state", "state.tmp-2"}
	if !slices.Equal(got, want) {
		t.Fatalf("the directory holds %q, want %q", got, want)
	}
}
