package serving_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

func init() {
	serving.Register("test-panicking-loader", serving.FormatFunc(func(context.Context, serving.Descriptor) (serving.Model, error) {
		var m map[string]int
		m["decoder bug on hostile bytes"]++ // a nil-map write: panics
		return nil, nil
	}))
}

// TestFormatPanicIsACorruptModel: a format that panics on the bytes of a
// model message (a decoder bug that hostile bytes reach) refuses that
// model with ErrCorruptModel, and the live version keeps serving. The
// panic went up through Activate and took down the goroutine that read
// the models topic, and with it the process: one message was enough.
func TestFormatPanicIsACorruptModel(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	require.NoError(t, activate(s.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("m", 1))))
	_, err := s.Activate(ctx, serving.Descriptor{Name: "m", Version: 2, Format: "test-panicking-loader", Bytes: []byte("hostile")})
	require.ErrorIs(t, err, serving.ErrCorruptModel)
	_, err = serving.Load(ctx, serving.Descriptor{Name: "m", Version: 2, Format: "test-panicking-loader", Bytes: []byte("hostile")})
	require.ErrorIs(t, err, serving.ErrCorruptModel)
	cur, _ := s.Current("m")
	assert.Equal(t, uint64(1), cur.Version)
}
