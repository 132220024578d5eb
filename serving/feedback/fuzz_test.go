package feedback

import (
	"errors"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
)

// A checkpointed join is read back from a file: whatever its bytes,
// restoring a Joiner either refuses them with serving.ErrCorruptState,
// or gives a Joiner that stays within its bound, keeps working and
// whose state reads back.
func FuzzJoinerState(f *testing.F) {
	j, _ := NewJoiner(time.Minute, 4)
	j.AddScore("a", score(1), at(0))
	j.AddLabel(Label{Key: "b", Value: 1, Time: at(1)})
	j.AddScore("c", score(1), at(2))
	j.AddLabel(Label{Key: "c", Value: 0, Time: at(3)})
	seed, _ := j.MarshalBinary()
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		j, _ := NewJoiner(time.Minute, 4)
		if err := j.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, serving.ErrCorruptState) {
				t.Fatalf("error %v does not wrap ErrCorruptState", err)
			}
			return
		}
		if st := j.Stats(); st.PendingScores > 4 || st.PendingLabels > 4 {
			t.Fatalf("restored beyond the bound: %+v", st)
		}
		j.AddScore("a", score(1), at(0))
		j.AddLabel(Label{Key: "a", Value: 1, Time: at(1)})
		j.Advance(at(1000), at(1000))
		again, err := j.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		j2, _ := NewJoiner(time.Minute, 4)
		if err := j2.UnmarshalBinary(again); err != nil {
			t.Fatalf("a restored state does not read back: %v\n%s", err, again)
		}
	})
}
