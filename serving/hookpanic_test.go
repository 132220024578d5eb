package serving_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

type panicEvents struct{}

func (panicEvents) OnModelEvent(serving.ModelEvent) { panic("hook boom") }

type kindLog struct {
	mu    sync.Mutex
	kinds []serving.EventKind
}

func (l *kindLog) OnModelEvent(e serving.ModelEvent) {
	l.mu.Lock()
	l.kinds = append(l.kinds, e.Kind)
	l.mu.Unlock()
}

// A HookModelEvent is told of an event that has happened: the version is
// live already. A hook that panics must neither keep the hooks after it
// (a registry.Follower recording the activation, say) from hearing of
// it, nor unwind into the caller of Activate, which may be a ModelFeed's
// partition goroutine, where the panic ended the process.
func TestModelEventHookPanicContained(t *testing.T) {
	var log kindLog
	s, err := serving.NewServer(serving.WithHooks(panicEvents{}, &log))
	require.NoError(t, err)
	defer s.Close()
	f := &servingtest.Fake{Output: serving.Prediction{Value: 7}}
	var got serving.ModelRef
	assert.NotPanics(t, func() {
		got, err = s.ActivateModel(context.Background(), serving.ModelRef{Name: "m", Version: 1}, f)
	})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), got.Version)
	assert.NotPanics(t, func() { s.Retire("m") })
	log.mu.Lock()
	defer log.mu.Unlock()
	assert.Equal(t, []serving.EventKind{serving.EventActivated, serving.EventRetired}, log.kinds, "the hook after the panicking one heard every event")
}
