package serving_test

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// TestNaNInAMultiOutputIsRefused: a multiclass version whose primary
// Value is finite but one of whose Values is NaN is refused like one
// whose Value is NaN. Dropping the check of every output was caught by
// no test: they all used single-output models.
func TestNaNInAMultiOutputIsRefused(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	three := func(v ...float64) *servingtest.Fake {
		return &servingtest.Fake{Output: serving.Prediction{Value: v[0], Values: v}}
	}
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), three(0.7, 0.2, 0.1))))
	scoreN(t, s, "m", 200, 1, 2)
	_, err := s.ActivateModel(ctx, ref("m", 2), three(0.7, math.NaN(), 0.1))
	require.ErrorIs(t, err, serving.ErrValidation)
	cur, _ := s.Current("m")
	assert.Equal(t, uint64(1), cur.Version)
}

// TestSamplesAreCopies: the records kept to validate new versions on are
// copies. A caller may reuse its feature buffer once Score returns (a
// Kafka source decoding into pooled buffers does), so a sample that kept
// the caller's slice would try the next version on whatever the buffer
// holds later: here a NaN, on which a sound v2 is refused. Keeping the
// caller's slice was caught by no test.
func TestSamplesAreCopies(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), dot{w: []float64{1, 1}})))
	buf := make([]float64, 2)
	for i := range 256 {
		buf[0], buf[1] = float64(i), 1
		_, err := s.Model("m").Score(ctx, serving.Record{Features: buf})
		require.NoError(t, err)
		// The caller reuses its buffer: the record is not the model's.
		buf[0], buf[1] = math.NaN(), math.NaN()
	}
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 2), dot{w: []float64{2, 2}})))
}
