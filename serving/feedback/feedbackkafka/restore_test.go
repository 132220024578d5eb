package feedbackkafka_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/feedback"
	"github.com/modelstream/modelstream/serving/feedback/feedbackkafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// writeCheckpoint writes a checkpoint file in the Reader's layout.
func writeCheckpoint(t *testing.T, offsets map[string]int64, states map[string]json.RawMessage) string {
	t.Helper()
	saved, _ := feedback.NewJoiner(time.Minute, 10)
	saved.AddScore("theirs", wire.Score{}, t0)
	saved.AddScore("theirs too", wire.Score{}, t0)
	join, err := saved.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{"offsets": offsets, "join": json.RawMessage(join), "states": states})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cp.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runBriefly runs r until it returns or 5s have passed.
func runBriefly(r *feedbackkafka.Reader) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return r.Run(ctx)
}

// TestCheckpointRestoreIsAllOrNothing: when one state in a checkpoint is
// refused, Run fails with serving.ErrCorruptState and leaves the Joiner and every
// other state as they were. It restored the Joiner and the states met
// before the refused one, so the program held half a checkpoint.
func TestCheckpointRestoreIsAllOrNothing(t *testing.T) {
	c := kafkatest.New(t)
	path := writeCheckpoint(t, map[string]int64{"l/0": 3}, map[string]json.RawMessage{
		"a": json.RawMessage(`{"restored":1}`), "b": json.RawMessage(`{"restored":1}`), "bad": json.RawMessage(`"not a map"`),
	})
	j, _ := feedback.NewJoiner(time.Minute, 10)
	j.AddScore("mine", wire.Score{}, t0)
	before := j.Stats()
	a, b, bad := newCounter(), newCounter(), newCounter()
	a.seen["kept"], b.seen["kept"], bad.seen["kept"] = 1, 1, 1
	r, err := feedbackkafka.NewReader(newConfig(t, c), "s", "l", j, a.match, feedbackkafka.Checkpoint(path, time.Hour),
		feedbackkafka.Save("a", a), feedbackkafka.Save("b", b), feedbackkafka.Save("bad", bad))
	if err != nil {
		t.Fatal(err)
	}
	if err := runBriefly(r); !errors.Is(err, serving.ErrCorruptState) {
		t.Fatalf("Run: %v, want ErrCorruptState", err)
	}
	if j.Stats() != before {
		t.Errorf("the Joiner was restored from a refused checkpoint: %+v, was %+v", j.Stats(), before)
	}
	for name, s := range map[string]*counter{"a": a, "b": b, "bad": bad} {
		if len(s.seen) != 1 || s.seen["kept"] != 1 {
			t.Errorf("state %s changed by a refused checkpoint: %v", name, s.seen)
		}
	}
}

// TestCheckpointRefusesNegativeOffsets: an offset below 0 in a
// checkpoint is refused with serving.ErrCorruptState. Unchecked, -1 reached
// sarama as OffsetNewest, and the Reader skipped every record waiting in
// that partition.
func TestCheckpointRefusesNegativeOffsets(t *testing.T) {
	c := kafkatest.New(t)
	for _, off := range []int64{-1, -2, -100} {
		path := writeCheckpoint(t, map[string]int64{"l/0": off}, nil)
		j, _ := feedback.NewJoiner(time.Minute, 10)
		r, err := feedbackkafka.NewReader(newConfig(t, c), "s", "l", j, func(feedback.Match) error { return nil }, feedbackkafka.Checkpoint(path, time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if err := runBriefly(r); !errors.Is(err, serving.ErrCorruptState) {
			t.Errorf("offset %d: Run: %v, want ErrCorruptState", off, err)
		}
	}
}
