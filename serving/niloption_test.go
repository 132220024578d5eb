package serving_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// TestNilOptionRefused: a nil Option or ActivateOption is refused with
// ErrConfig, as the other constructors of the module refuse theirs
// (metrics.New, admin.New, trainkafka.NewSource), and a refused
// activation changes nothing: the live version keeps serving, and a
// model given to ActivateModel is closed, as on any error. Before, each
// panicked with a nil function call ("invalid memory address or nil
// pointer dereference").
func TestNilOptionRefused(t *testing.T) {
	ctx := context.Background()
	_, err := serving.NewServer(nil)
	assert.ErrorIs(t, err, serving.ErrConfig, "NewServer(nil)")

	s := newServer(t)
	require.NoError(t, activate(s.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("m", 1))))
	_, err = s.Activate(ctx, servingtest.Spec{Value: 2}.Descriptor("m", 2), serving.AllowRollback(), nil)
	assert.ErrorIs(t, err, serving.ErrConfig, "Activate with a nil ActivateOption")
	_, err = s.Activate(ctx, servingtest.Spec{Value: 2}.Descriptor("m", 0), nil)
	assert.ErrorIs(t, err, serving.ErrConfig, "Activate of Version 0 with a nil ActivateOption")
	f := &servingtest.Fake{Output: serving.Prediction{Value: 3}}
	_, err = s.ActivateModel(ctx, ref("m", 3), f, nil)
	assert.ErrorIs(t, err, serving.ErrConfig, "ActivateModel with a nil ActivateOption")
	assert.EqualValues(t, 1, f.Closes(), "the refused model is closed")
	cur, _ := s.Current("m")
	assert.Equal(t, uint64(1), cur.Version, "the live version")
	n, _ := s.Rejections("m")
	assert.EqualValues(t, 3, n, "rejections counted")
}
