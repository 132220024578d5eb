package serving_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// TestHistoryTrimmed: WithHistory(n) keeps the n latest activations of a
// name, oldest first, and forgets the earlier ones; rollbacks and
// retirements count as activations.
func TestHistoryTrimmed(t *testing.T) {
	ctx := context.Background()
	srv := newServer(t, serving.WithHistory(3))
	for v := uint64(1); v <= 5; v++ {
		if _, err := srv.Activate(ctx, servingtest.Spec{Value: float64(v)}.Descriptor("m", v)); err != nil {
			t.Fatal(err)
		}
	}
	check := func(want ...uint64) {
		t.Helper()
		h := srv.History("m")
		if len(h) != len(want) {
			t.Fatalf("history %v, want versions %v", h, want)
		}
		for i, a := range h {
			if a.Model.Version != want[i] {
				t.Fatalf("history %v, want versions %v", h, want)
			}
		}
	}
	check(3, 4, 5)
	srv.Retire("m")
	check(4, 5, 5)
	if h := srv.History("m"); h[2].Kind != serving.EventRetired {
		t.Errorf("last activation %+v, want the retirement", h[2])
	}
	if _, err := srv.Activate(ctx, servingtest.Spec{Value: 6}.Descriptor("m", 6)); err != nil {
		t.Fatal(err)
	}
	check(5, 5, 6)
	if _, err := serving.NewServer(serving.WithHistory(0)); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("WithHistory(0): %v, want ErrConfig", err)
	}
}

// Activation's JSON names its kind ("activated"), and reads it back; a
// name that is no kind is refused, not read as zero.
func TestActivationJSON(t *testing.T) {
	at := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	for _, k := range []serving.EventKind{serving.EventLoaded, serving.EventRejected, serving.EventActivated, serving.EventRolledBack, serving.EventRetired} {
		a := serving.Activation{Model: ref("m", 3), Kind: k, At: at}
		b, err := json.Marshal(a)
		require.NoError(t, err)
		assert.Contains(t, string(b), `"kind":"`+k.String()+`"`)
		var back serving.Activation
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, a, back)
	}
	var a serving.Activation
	for _, bad := range []string{`"unknown"`, `""`, `"Activated"`, `3`} {
		assert.Error(t, json.Unmarshal([]byte(`{"kind":`+bad+`}`), &a), bad)
	}
}
