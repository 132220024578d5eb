package bolt

import (
	"path/filepath"
	"testing"
)

// TestCommitsAreSynced: the database is opened with its syncs on: a
// registry that acknowledges a Put before the data reaches the disk
// could lose it on a power failure, which killing a process (registry's
// crash test) cannot show. TestCommitFailsAtEachFailedStep checks the
// same behaviourally on Linux, by making each sync fail in the kernel.
func TestCommitsAreSynced(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.db.NoSync || s.db.NoGrowSync {
		t.Errorf("bbolt opened with NoSync=%v NoGrowSync=%v: commits would not be durable", s.db.NoSync, s.db.NoGrowSync)
	}
}
