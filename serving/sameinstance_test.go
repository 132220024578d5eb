package serving_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// The Server owns each model instance it is given, however many times it
// is given: one instance activated as two versions, or under two names,
// or offered again and refused, is closed exactly once, when no version
// holding it is live or in flight, and never while one still serves.
func TestActivateModelSameInstance(t *testing.T) {
	ctx := context.Background()
	rec := serving.Record{Features: []float64{1}}

	t.Run("two versions", func(t *testing.T) {
		s := newServer(t)
		f := &servingtest.Fake{Output: serving.Prediction{Value: 7}}
		require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), f)))
		require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 2), f)))
		assert.Zero(t, f.Closes(), "v1 drained, but its model is v2's and still live")
		res, err := s.Model("m").Score(ctx, rec)
		require.NoError(t, err)
		assert.Equal(t, uint64(2), res.Provenance.Model.Version)
		g := &servingtest.Fake{}
		require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 3), g)))
		assert.EqualValues(t, 1, f.Closes(), "closed once, when the last version holding it drained")
		require.NoError(t, s.Close())
		assert.EqualValues(t, 1, f.Closes())
		assert.EqualValues(t, 1, g.Closes())
	})

	t.Run("refused again", func(t *testing.T) {
		s := newServer(t)
		f := &servingtest.Fake{}
		require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 2), f)))
		_, err := s.ActivateModel(ctx, ref("m", 1), f)
		var ve *serving.VersionError
		require.ErrorAs(t, err, &ve)
		_, err = s.ActivateModel(ctx, serving.ModelRef{}, f)
		require.ErrorIs(t, err, serving.ErrInvalidDescriptor)
		assert.Zero(t, f.Closes(), "a refused offer of the live instance must not close it")
		_, err = s.Model("m").Score(ctx, rec)
		require.NoError(t, err)
		require.NoError(t, s.Close())
		assert.EqualValues(t, 1, f.Closes())
	})

	t.Run("two names", func(t *testing.T) {
		s := newServer(t)
		f := &servingtest.Fake{}
		require.NoError(t, activate(s.ActivateModel(ctx, ref("a", 1), f)))
		require.NoError(t, activate(s.ActivateModel(ctx, ref("b", 1), f)))
		s.Retire("a")
		assert.Zero(t, f.Closes(), "still live as b")
		_, err := s.Model("b").Score(ctx, rec)
		require.NoError(t, err)
		s.Retire("b")
		assert.EqualValues(t, 1, f.Closes())
	})

	t.Run("refused, not live", func(t *testing.T) {
		// An instance no version holds is still closed when refused.
		s := newServer(t)
		f := &servingtest.Fake{}
		_, err := s.ActivateModel(ctx, serving.ModelRef{}, f)
		require.Error(t, err)
		assert.EqualValues(t, 1, f.Closes())
	})
}

// sliceCloser is a Closer whose dynamic type cannot be compared: the
// Server cannot tell two offers of it apart, and must not panic trying.
type sliceCloser struct {
	w      []float64
	closes *int
}

func (sliceCloser) Predict(context.Context, []float64) (serving.Prediction, error) {
	return serving.Prediction{}, nil
}

func (c sliceCloser) Close() error { *c.closes++; return nil }

func TestActivateModelUncomparable(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	var closes int
	m := sliceCloser{w: []float64{1}, closes: &closes}
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), m)))
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 2), &servingtest.Fake{})))
	assert.Equal(t, 1, closes)
	_, err := s.ActivateModel(ctx, serving.ModelRef{}, m)
	require.Error(t, err)
	assert.Equal(t, 2, closes, "closed once per activation")
}
