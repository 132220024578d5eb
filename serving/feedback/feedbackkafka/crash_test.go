package feedbackkafka

import (
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/modelstream/modelstream/internal/atomicfile/crashfs"
	"github.com/modelstream/modelstream/serving/feedback"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// TestCheckpointSurvivesACrashAtEveryStep saves a checkpoint over an
// older one, crashing at each step of the save in turn (create, write,
// sync, close, rename, directory sync) and just after it returned, and
// restores what a restarted Reader finds: always a whole checkpoint, the
// new one if the save returned nil. The save did not sync the directory:
// a crash just after it returned found the old checkpoint, and the
// Reader read the records since again, counting them twice.
func TestCheckpointSurvivesACrashAtEveryStep(t *testing.T) {
	c := kafkatest.New(t)
	cfg, err := kafka.NewConfig(c.Addrs())
	if err != nil {
		t.Fatal(err)
	}
	const path = "/feedback/cp.json"
	newReader := func() (*Reader, *feedback.Joiner) {
		j, _ := feedback.NewJoiner(time.Minute, 10)
		r, err := NewReader(cfg, "s", "l", j, func(feedback.Match) error { return nil }, Checkpoint(path, time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return r, j
	}
	old, new := map[string]int64{"l/0": 5, "s/0": 3}, map[string]int64{"l/0": 9, "s/0": 8}
	var oldFile []byte
	{
		fsys := crashfs.New()
		withFS(t, fsys)
		r, j := newReader()
		j.AddScore("a", wire.Score{}, time.Unix(0, 0))
		if err := r.save(old); err != nil {
			t.Fatal(err)
		}
		oldFile, _ = fsys.ReadFile(path)
	}
	var steps []string
	for failAt := 1; ; failAt++ {
		fsys := crashfs.New()
		fsys.Put(path, oldFile)
		fsys.FailAt = failAt
		withFS(t, fsys)
		r, j := newReader()
		j.AddScore("a", wire.Score{}, time.Unix(0, 0))
		j.AddScore("b", wire.Score{}, time.Unix(1, 0))
		err := r.save(new)
		if err == nil && fsys.Step < failAt {
			failAt, steps = 0, fsys.Steps // every step ran: crash after save returned
		} else if !errors.Is(err, crashfs.ErrCrash) {
			t.Fatalf("crash at step %d: save returned %v", failAt, err)
		}
		at := "after save returned"
		if failAt > 0 {
			at = fmt.Sprintf("at step %d (%s)", failAt, fsys.Steps[failAt-1])
		}
		withFS(t, fsys.Crash())
		restarted, rj := newReader()
		offsets, rerr := restarted.restore()
		switch {
		case rerr != nil:
			t.Errorf("crash %s: no whole checkpoint survives: %v", at, rerr)
		case err == nil && (!maps.Equal(offsets, new) || rj.Stats().PendingScores != 2):
			t.Errorf("crash %s: save returned nil, but a restarted Reader finds offsets %v", at, offsets)
		case !maps.Equal(offsets, old) && !maps.Equal(offsets, new):
			t.Errorf("crash %s: offsets %v are neither the old checkpoint's nor the new one's", at, offsets)
		}
		if failAt == 0 {
			break
		}
	}
	if len(steps) != 6 || steps[5] != "sync dir" {
		t.Errorf("a save takes the steps %v, want create, write, sync, close, rename, sync dir", steps)
	}
}

// withFS makes checkpoints use fsys until the test ends.
func withFS(t *testing.T, fsys *crashfs.FS) {
	prev := checkpointFS
	checkpointFS = fsys
	t.Cleanup(func() { checkpointFS = prev })
}
