package serving_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
)

// slowCloser is a BatchPredictor whose Close takes a while and which
// notes any call that overlaps its Close or follows it.
type slowCloser struct {
	inFlight atomic.Int32
	closing  atomic.Int32 // Close calls begun
	overlaps *atomic.Int64
}

func (m *slowCloser) enter() {
	m.inFlight.Add(1)
	if m.closing.Load() != 0 {
		m.overlaps.Add(1)
	}
}

func (m *slowCloser) leave() { m.inFlight.Add(-1) }

func (m *slowCloser) Predict(context.Context, []float64) (serving.Prediction, error) {
	m.enter()
	defer m.leave()
	return serving.Prediction{Value: 1}, nil
}

func (m *slowCloser) PredictBatch(_ context.Context, rows [][]float64, out []serving.Prediction) error {
	m.enter()
	defer m.leave()
	for i := range rows {
		out[i] = serving.Prediction{Value: 1}
	}
	return nil
}

func (m *slowCloser) Close() error {
	m.closing.Add(1)
	if m.inFlight.Load() != 0 {
		m.overlaps.Add(1)
	}
	time.Sleep(50 * time.Microsecond)
	if m.inFlight.Load() != 0 {
		m.overlaps.Add(1)
	}
	return nil
}

type hookDurations struct{ zero, calls atomic.Int64 }

func (h *hookDurations) OnScored(_ serving.ModelRef, took time.Duration, _ error) {
	h.calls.Add(1)
	if took <= 0 {
		h.zero.Add(1)
	}
}

// TestCloseRacesEverything: Score and ScoreBatch from 6 goroutines while
// two others activate and retire versions whose Close is slow, and the
// Server is closed in the middle of it all. No call runs on a version
// being closed or closed, every version made is closed exactly once
// (those that never went live by their failed activation), calls after
// Close fail with ErrClosed, and the HookScored is given a duration
// for every call. It fails when an activation that raced Close is left
// live (and never closed); the narrow window of a call acquiring a
// version whose count just reached zero is stepped through by
// TestVersionRefsAcrossTheSwapRace instead, as load alone rarely hits it.
func TestCloseRacesEverything(t *testing.T) {
	ctx := context.Background()
	hook := &hookDurations{}
	s := newServer(t, serving.WithHooks(hook))
	var overlaps atomic.Int64
	var mu sync.Mutex
	var made []*slowCloser
	newModel := func() *slowCloser {
		m := &slowCloser{overlaps: &overlaps}
		mu.Lock()
		made = append(made, m)
		mu.Unlock()
		return m
	}
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), newModel())))
	sc := s.Model("m")
	bs := sc.(serving.BatchScorer)
	stop := make(chan struct{})
	var calls, unexpected atomic.Int64
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			recs := make([]serving.Record, 4)
			for i := range recs {
				recs[i].Features = []float64{1}
			}
			out, es := make([]serving.Result, 4), make([]error, 4)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				if (g+i)%2 == 0 {
					_, err = sc.Score(ctx, recs[0])
					calls.Add(1)
				} else {
					bs.ScoreBatch(ctx, recs, out, es)
					err = errors.Join(es...)
					calls.Add(int64(len(recs)))
				}
				if err != nil && !errors.Is(err, serving.ErrNoModel) && !errors.Is(err, serving.ErrClosed) {
					unexpected.Add(1)
				}
			}
		})
	}
	var v atomic.Uint64
	v.Store(1)
	for range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if i%7 == 6 {
					s.Retire("m")
					continue
				}
				_, err := s.ActivateModel(ctx, ref("m", v.Add(1)), newModel())
				if err != nil && !errors.Is(err, serving.ErrClosed) && !errors.Is(err, serving.ErrStaleVersion) {
					unexpected.Add(1)
				}
			}
		})
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		mu.Lock()
		n := len(made)
		mu.Unlock()
		if n > 60 {
			break
		}
	}
	require.NoError(t, s.Close())
	time.Sleep(20 * time.Millisecond)
	close(stop)
	wg.Wait()
	_, err := sc.Score(ctx, serving.Record{Features: []float64{1}})
	assert.ErrorIs(t, err, serving.ErrClosed)

	assert.Zero(t, unexpected.Load(), "calls or activations failed for another reason than a closed Server or no live model")
	assert.Zero(t, overlaps.Load(), "calls ran on a version being closed or closed")
	mu.Lock()
	defer mu.Unlock()
	assert.Greater(t, len(made), 60)
	for i, m := range made {
		if n := m.closing.Load(); n != 1 {
			t.Errorf("model %d of %d closed %d times", i, len(made), n)
		}
	}
	assert.Positive(t, hook.calls.Load())
	assert.Zero(t, hook.zero.Load(), "HookScored given no duration")
}
