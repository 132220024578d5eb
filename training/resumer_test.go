package training

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/modelstream/modelstream/serving"
)

// resumable is a sliceSource that is also a Resumer: its position is the
// index of the next sample, and Resume moves past what a checkpoint
// learned. Its n-th Commit fails without committing.
type resumable struct {
	*sliceSource
	failCommit int
}

func (r *resumable) Commit(ctx context.Context) error {
	if r.failCommit--; r.failCommit == 0 {
		return errCrash
	}
	return r.sliceSource.Commit(ctx)
}

func (r *resumable) Position() (json.RawMessage, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return json.RawMessage(strconv.Itoa(r.next)), nil
}

func (r *resumable) Resume(pos json.RawMessage) error {
	n, err := strconv.Atoi(string(pos))
	if err != nil || n < 0 || n > len(r.data) {
		return errors.New("bad position")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next = max(r.next, n)
	return nil
}

// A Trainer keeps a Resumer's position in its checkpoint and gives it
// back on restore, so a restart after a checkpoint whose commit failed
// learns nothing twice and ends where an uninterrupted run does. A
// position the source refuses makes the checkpoint corrupt.
func TestTrainerResumesSourcePosition(t *testing.T) {
	ctx := context.Background()
	data := conceptStream(3000, 1<<30, 5)
	nop := PublisherFunc(func(context.Context, serving.Descriptor) error { return nil })
	run := func(src Source, path string) (*Learner, error) {
		l, _ := NewLearner(Logistic, 3)
		tr, err := NewTrainer("m", l, src, nop, WithCheckpoint(path, 250), WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			return nil, err
		}
		return l, tr.Run(ctx)
	}
	dir := t.TempDir()
	ref, err := run(&sliceSource{data: data}, filepath.Join(dir, "ref"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "gap")
	src := &resumable{sliceSource: &sliceSource{data: data}, failCommit: 5}
	if _, err := run(src, path); !errors.Is(err, errCrash) {
		t.Fatalf("first run: %v, want the failed commit", err)
	}
	if src.committed != 1000 || src.next != 1250 {
		t.Fatalf("committed %d, read %d: want a checkpoint at 1250 not committed", src.committed, src.next)
	}
	got, err := run(&resumable{sliceSource: src.restart()}, path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Metrics() != ref.Metrics() {
		t.Fatalf("metrics %+v, want %+v", got.Metrics(), ref.Metrics())
	}
	sameBits(t, "weights after resuming", got.w, ref.w)

	bad := &resumable{sliceSource: &sliceSource{data: data[:10]}}
	if _, err := run(bad, path); !errors.Is(err, serving.ErrCorruptState) {
		t.Fatalf("a position the source refuses: %v, want ErrCorruptState", err)
	}
}
