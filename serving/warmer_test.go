package serving_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// warming is a model that wants a warm-up: how it goes is in its bytes.
type warming struct {
	how   string
	warms *atomic.Int64
}

var errWarm = errors.New("warm-up failed")

func (w *warming) Warm(context.Context) error {
	w.warms.Add(1)
	switch w.how {
	case "panic":
		var m map[string]int
		m["a warm-up bug the model's bytes reach"]++ // a nil-map write: panics
	case "fail":
		return errWarm
	}
	return nil
}

func (w *warming) Predict(context.Context, []float64) (serving.Prediction, error) {
	if w.warms.Load() == 0 {
		return serving.Prediction{}, errors.New("called cold")
	}
	return serving.Prediction{Value: 2}, nil
}

var warms atomic.Int64

func init() {
	serving.Register("test-warming", serving.FormatFunc(func(_ context.Context, d serving.Descriptor) (serving.Model, error) {
		return &warming{how: string(d.Bytes), warms: &warms}, nil
	}))
}

// TestWarmerRunsBeforeTraffic: a model that implements serving.Warmer is
// warmed once before it goes live; one whose warm-up fails is refused
// with that error, and one whose warm-up panics is refused as a corrupt
// model, as a format's panic in Load is: the live version keeps serving.
// A panicking Warm took down the goroutine activating it (a model feed,
// and with it the process).
func TestWarmerRunsBeforeTraffic(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	require.NoError(t, activate(s.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("m", 1))))

	before := warms.Load()
	require.NoError(t, activate(s.Activate(ctx, serving.Descriptor{Name: "w", Format: "test-warming", Bytes: []byte("ok")})))
	assert.Equal(t, before+1, warms.Load(), "warmed once")
	res, err := s.Model("w").Score(ctx, serving.Record{Features: []float64{1}})
	require.NoError(t, err)
	assert.Equal(t, 2.0, res.Value)

	for _, how := range []string{"fail", "panic"} {
		_, err := s.Activate(ctx, serving.Descriptor{Name: "m", Version: 2, Format: "test-warming", Bytes: []byte(how)})
		require.Error(t, err, how)
		if how == "fail" {
			assert.ErrorIs(t, err, errWarm)
		} else {
			assert.ErrorIs(t, err, serving.ErrCorruptModel)
		}
		cur, _ := s.Current("m")
		assert.Equal(t, uint64(1), cur.Version, "after a warm-up that went %s", how)
		res, err := s.Model("m").Score(ctx, serving.Record{Features: []float64{1}})
		require.NoError(t, err)
		assert.Equal(t, 1.0, res.Value)
	}
}

// describing is a model whose Describe panics: a format's bug that the
// model's bytes reach, like a panicking Load or Warm.
type describing struct{}

func (describing) Describe() serving.ModelInfo {
	var m map[string]int
	m["a describe bug"]++ // a nil-map write: panics
	return serving.ModelInfo{}
}

func (describing) Predict(context.Context, []float64) (serving.Prediction, error) {
	return serving.Prediction{Value: 3}, nil
}

// TestDescriberPanicRefusesTheModel: the Server asks a Describer for its
// inputs when it activates it; a panic there refuses the model with
// ErrCorruptModel, and the live version keeps serving. It took down the
// goroutine activating it.
func TestDescriberPanicRefusesTheModel(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	require.NoError(t, activate(s.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("m", 1))))
	_, err := s.ActivateModel(ctx, serving.ModelRef{Name: "m", Version: 2, Format: "test"}, describing{})
	require.ErrorIs(t, err, serving.ErrCorruptModel)
	cur, _ := s.Current("m")
	assert.Equal(t, uint64(1), cur.Version)
}
