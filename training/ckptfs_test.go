package training

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/internal/atomicfile/crashfs"
)

// withFS makes checkpoints use c until the test ends.
func withFS(t *testing.T, c ckptFS) {
	old := checkpointFS
	checkpointFS = c
	t.Cleanup(func() { checkpointFS = old })
}

// TestCheckpointSurvivesACrashAtEveryStep saves a learner over an older
// checkpoint, crashing at each step of the save in turn (create, write,
// sync, close, rename, directory sync) and also just after Save
// returned, and restores what a restarted process finds. It must always
// find a whole checkpoint: the old one if Save failed, the new one if
// Save returned nil. Dropping the file's fsync, the rename or the
// directory's fsync from writeCheckpoint makes this test fail.
func TestCheckpointSurvivesACrashAtEveryStep(t *testing.T) {
	data := genLinear(200, 1, 0.1)
	l, _ := NewLearner(Linear, 5)
	for _, s := range data[:100] {
		l.Learn(s)
	}
	const path = "/ckpt/learner.ckpt"
	var oldFile []byte
	{
		c := crashfs.New()
		withFS(t, c)
		if err := l.Save(path); err != nil {
			t.Fatal(err)
		}
		oldFile, _ = c.ReadFile(path)
	}
	oldPred := predictAll(t, l, data[:10])
	for _, s := range data[100:] {
		l.Learn(s)
	}
	newPred := predictAll(t, l, data[:10])

	var steps []string
	for failAt := 1; ; failAt++ {
		c := crashfs.New()
		c.Put(path, oldFile)
		c.FailAt = failAt
		withFS(t, c)
		err := l.Save(path)
		if err == nil && c.Step < failAt {
			// Every step ran: crash just after Save returned.
			failAt, steps = 0, c.Steps
		} else if !errors.Is(err, crashfs.ErrCrash) {
			t.Fatalf("crash at step %d: Save returned %v", failAt, err)
		}
		at := "after Save returned"
		if failAt > 0 {
			at = fmt.Sprintf("at step %d (%s)", failAt, c.Steps[failAt-1])
		}
		withFS(t, c.Crash())
		r, rerr := restoreLearner(path)
		switch {
		case rerr != nil:
			t.Errorf("crash %s: no whole checkpoint survives: %v", at, rerr)
		case err == nil:
			if got := predictAll(t, r, data[:10]); !equalBits(got, newPred) {
				t.Errorf("crash %s: Save returned nil, but the restarted process finds the old checkpoint", at)
			}
		default:
			if got := predictAll(t, r, data[:10]); !equalBits(got, oldPred) && !equalBits(got, newPred) {
				t.Errorf("crash %s: the checkpoint found is neither the old nor the new one", at)
			}
		}
		if failAt == 0 {
			break
		}
	}
	if want := "create write sync close rename sync dir"; strings.Join(steps, " ") != want {
		t.Errorf("a save takes the steps %q, want %q (update the test when they change)", strings.Join(steps, " "), want)
	}
}

func equalBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(a[i] != a[i] && b[i] != b[i]) {
			return false
		}
	}
	return true
}
