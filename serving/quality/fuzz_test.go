package quality

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/modelstream/modelstream/serving"
)

// A checkpoint is read back from a file: whatever its bytes, restoring a
// Meter either refuses them with serving.ErrCorruptState or gives a
// Meter whose Summary can be written as JSON (no NaN or infinity) and
// whose state reads back the same.
func FuzzMeterState(f *testing.F) {
	var m Meter
	_ = m.ObserveBinary(0.9, true)
	_ = m.ObserveBinary(0.2, false)
	_ = m.ObserveValue(3, 1)
	seed, _ := m.MarshalBinary()
	f.Add(seed)
	f.Add([]byte(`{"class_n":1,"correct":1,"log_loss":[1,1e308,1e308],"abs_err":[1,1e308,0],"sq_err":[1,1.7e308,1.7e308],"pos":{"1023":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Meter
		if err := m.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, serving.ErrCorruptState) {
				t.Fatalf("error %v does not wrap ErrCorruptState", err)
			}
			return
		}
		if _, err := json.Marshal(m.Summary()); err != nil {
			t.Fatalf("restored %q: Summary cannot be encoded: %v", data, err)
		}
		again, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var m2 Meter
		if err := m2.UnmarshalBinary(again); err != nil {
			t.Fatalf("a restored state does not read back: %v", err)
		}
	})
}
