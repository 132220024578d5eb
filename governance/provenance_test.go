package governance

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/modelstream/modelstream/registry"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/wire"
)

// TestWhich reads the provenance that serving/wire encodes: from headers
// alone, from the value alone, and refuses headers and a value that
// disagree.
func TestWhich(t *testing.T) {
	fast := serving.ModelRef{Name: "fraud-fast", Version: 3, ID: serving.ContentID([]byte("fast")), Format: "linear"}
	big := serving.ModelRef{Name: "fraud-big", Version: 7, ID: serving.ContentID([]byte("big")), Format: "onnx"}
	hs := wire.ProvenanceHeaders(serving.Provenance{Model: fast})
	if ref, err := Which(hs, []byte("a,b,c")); err != nil || ref != fast {
		t.Fatalf("headers with a CSV value: %v, %v", ref, err)
	}
	value := []byte(`{"value":1,"provenance":{"model":{"name":"fraud-big","version":7,"id":"` + big.ID + `","format":"onnx"}}}`)
	if ref, err := Which(nil, value); err != nil || ref != big {
		t.Fatalf("value alone: %v, %v", ref, err)
	}
	if _, err := Which(hs, value); !errors.Is(err, wire.ErrBadProvenance) {
		t.Fatalf("disagreeing headers and value: %v", err)
	}
	if _, err := Which(nil, nil); !errors.Is(err, wire.ErrNoProvenance) {
		t.Fatalf("nothing: %v", err)
	}
}

func TestWhichAt(t *testing.T) {
	ctx := context.Background()
	store, _ := registry.NewMemory()
	defer store.Close()
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	v1 := serving.ModelRef{Name: "fraud", Version: 1, ID: "a"}
	v2 := serving.ModelRef{Name: "fraud", Version: 2, ID: "b"}
	_ = store.RecordActivation(ctx, serving.Activation{Model: v1, Kind: serving.EventActivated, At: t0})
	_ = store.RecordActivation(ctx, serving.Activation{Model: v2, Kind: serving.EventActivated, At: t0.Add(time.Minute)})
	if ref, err := WhichAt(ctx, store, "fraud", t0.Add(time.Minute-time.Nanosecond)); err != nil || ref != v1 {
		t.Fatalf("before the swap: %v, %v", ref, err)
	}
	if ref, err := WhichAt(ctx, store, "fraud", t0.Add(time.Minute)); err != nil || ref != v2 {
		t.Fatalf("at the swap: %v, %v", ref, err)
	}
	if _, err := WhichAt(ctx, store, "fraud", t0.Add(-time.Second)); !errors.Is(err, registry.ErrNotActive) {
		t.Fatalf("before anything: %v", err)
	}
}
