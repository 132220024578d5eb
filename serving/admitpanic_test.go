package serving_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// panickyAdmitter is an Admitter and Committer that panics on the calls its
// counters say, as a buggy policy or a store whose driver panics would.
type panickyAdmitter struct {
	admitPanics, commitPanics atomic.Int32 // calls left to panic
}

func (p *panickyAdmitter) Admit(context.Context, serving.Descriptor) error {
	if p.admitPanics.Add(-1) >= 0 {
		panic("admitter bug")
	}
	return nil
}

func (p *panickyAdmitter) Commit(context.Context, serving.Descriptor) error {
	if p.commitPanics.Add(-1) >= 0 {
		panic("store driver bug")
	}
	return nil
}

// TestAdmitterPanicIsARefusal: an Admitter or a Committer that panics
// refuses that model, with an error wrapping ErrNotAdmitted, and the
// live version keeps serving. The panic went up through Activate, which
// may be a model feed's partition goroutine, where it ends the process;
// a Committer's also left the name's lock held, so that the next
// activation of the name never returned.
func TestAdmitterPanicIsARefusal(t *testing.T) {
	p := &panickyAdmitter{}
	s := newServer(t, serving.WithAdmission(p))
	ctx := context.Background()
	_, err := s.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("m", 1))
	require.NoError(t, err)

	p.admitPanics.Store(1)
	assert.NotPanics(t, func() { _, err = s.Activate(ctx, servingtest.Spec{Value: 2}.Descriptor("m", 2)) })
	require.ErrorIs(t, err, serving.ErrNotAdmitted)
	assert.ErrorContains(t, err, "admitter bug")

	p.commitPanics.Store(1)
	assert.NotPanics(t, func() { _, err = s.Activate(ctx, servingtest.Spec{Value: 3}.Descriptor("m", 3)) })
	require.ErrorIs(t, err, serving.ErrNotAdmitted)
	assert.ErrorContains(t, err, "store driver bug")
	cur, _ := s.Current("m")
	assert.Equal(t, uint64(1), cur.Version, "a refused version went live")

	err = activateWithin(t, 10*time.Second, s, servingtest.Spec{Value: 4}.Descriptor("m", 4))
	require.NoError(t, err, "the name takes a new version after the panics")
	cur, _ = s.Current("m")
	assert.Equal(t, uint64(4), cur.Version)
}
