package serving_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

func newServer(t *testing.T, opts ...serving.Option) *serving.Server {
	t.Helper()
	opts = append([]serving.Option{serving.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	s, err := serving.NewServer(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func ref(name string, v uint64) serving.ModelRef {
	return serving.ModelRef{Name: name, Version: v, Format: "fake"}
}

// TestHotSwapUnderLoad: 8 goroutines score continuously while versions 1
// to 50 are swapped in. Every result names a version that was live at
// some moment during its call, no call fails, and every replaced model is
// closed exactly once.
func TestHotSwapUnderLoad(t *testing.T) {
	s := newServer(t)
	const versions = 50
	fakes := make([]*servingtest.Fake, versions+1)
	for v := 1; v <= versions; v++ {
		// Each version answers with its own number, so the answer and the
		// provenance can be checked against each other.
		fakes[v] = &servingtest.Fake{Output: serving.Prediction{Value: float64(v)}, Latency: servingtest.Fixed(20 * time.Microsecond)}
	}
	ctx := context.Background()
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), fakes[1])))

	// liveLo and liveHi bracket the live version: liveHi is raised just
	// before a swap, liveLo just after. A call that reads liveLo at its
	// start and liveHi at its end must see a version in [lo, hi].
	var liveLo, liveHi atomic.Uint64
	liveLo.Store(1)
	liveHi.Store(1)

	sc := s.Model("m")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calls atomic.Int64
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				lo := liveLo.Load()
				res, err := sc.Score(ctx, serving.Record{Features: []float64{1}})
				hi := liveHi.Load()
				calls.Add(1)
				if err != nil {
					errs <- err
					return
				}
				v := res.Provenance.Model.Version
				if v < lo || v > hi {
					errs <- fmt.Errorf("result from v%d, live versions during the call were v%d..v%d", v, lo, hi)
					return
				}
				if res.Value != float64(v) {
					errs <- fmt.Errorf("provenance says v%d but the answer came from v%v", v, res.Value)
					return
				}
			}
		}()
	}
	for v := 2; v <= versions; v++ {
		time.Sleep(200 * time.Microsecond)
		liveHi.Store(uint64(v))
		require.NoError(t, activate(s.ActivateModel(ctx, ref("m", uint64(v)), fakes[v])))
		liveLo.Store(uint64(v))
	}
	time.Sleep(time.Millisecond)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.Greater(t, calls.Load(), int64(versions), "the scorers should have run throughout the swaps")

	for v := 1; v < versions; v++ {
		assert.EqualValues(t, 1, fakes[v].Closes(), "v%d must be closed exactly once", v)
	}
	assert.EqualValues(t, 0, fakes[versions].Closes(), "the live version must stay open")
	require.NoError(t, s.Close())
	assert.EqualValues(t, 1, fakes[versions].Closes(), "Close closes the live version once")
	require.NoError(t, s.Close())
	assert.EqualValues(t, 1, fakes[versions].Closes(), "a second Close does not close again")
}

// TestInFlightFinishesOnOldModel: a call that started on v1 finishes on
// v1 even though v2 was activated meanwhile, and v1 is closed only when
// that call returns.
func TestInFlightFinishesOnOldModel(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	started := make(chan struct{})
	release := make(chan struct{})
	v1 := &servingtest.Fake{OutputFunc: func([]float64) serving.Prediction {
		close(started)
		<-release
		return serving.Prediction{Value: 1}
	}}
	v2 := &servingtest.Fake{Output: serving.Prediction{Value: 2}}
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), v1)))

	done := make(chan serving.Result)
	go func() {
		res, err := s.Model("m").Score(ctx, serving.Record{})
		assert.NoError(t, err)
		done <- res
	}()
	<-started
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 2), v2)))
	res, err := s.Model("m").Score(ctx, serving.Record{})
	require.NoError(t, err)
	servingtest.AssertModel(t, res, "m", 2)
	assert.EqualValues(t, 0, v1.Closes(), "v1 must stay open while a call runs on it")

	close(release)
	old := <-done
	servingtest.AssertModel(t, old, "m", 1)
	assert.Equal(t, 1.0, old.Value)
	assert.EqualValues(t, 1, v1.Closes(), "v1 is closed when its last call returns")
}

func TestStaleVersionRefusedUnlessRollback(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	f3 := &servingtest.Fake{Output: serving.Prediction{Value: 3}}
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 3), f3)))

	for _, v := range []uint64{3, 2} {
		f := &servingtest.Fake{}
		_, err := s.ActivateModel(ctx, ref("m", v), f)
		require.ErrorIs(t, err, serving.ErrStaleVersion)
		var ve *serving.VersionError
		require.ErrorAs(t, err, &ve)
		assert.Equal(t, uint64(3), ve.Live)
		assert.Equal(t, v, ve.Offered)
		assert.EqualValues(t, 1, f.Closes(), "a refused model is closed")
	}
	cur, _ := s.Current("m")
	assert.Equal(t, uint64(3), cur.Version)
	n, last := s.Rejections("m")
	assert.EqualValues(t, 2, n)
	assert.ErrorIs(t, last, serving.ErrStaleVersion)

	f2 := &servingtest.Fake{Output: serving.Prediction{Value: 2}}
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 2), f2, serving.AllowRollback())))
	res, err := s.Model("m").Score(ctx, serving.Record{})
	require.NoError(t, err)
	servingtest.AssertModel(t, res, "m", 2)
	h := s.History("m")
	require.Len(t, h, 2)
	assert.Equal(t, serving.EventActivated, h[0].Kind)
	assert.Equal(t, serving.EventRolledBack, h[1].Kind)
	assert.Equal(t, uint64(2), h[1].Model.Version)
}

func TestFailedLoadNeverReplaces(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	good := servingtest.Spec{Value: 7}.Descriptor("m", 1)
	_, err := s.Activate(ctx, good)
	require.NoError(t, err)

	corrupt := serving.Descriptor{Name: "m", Version: 2, Format: "fake", Bytes: []byte("{not json")}
	badSum := servingtest.Spec{Value: 8}.Descriptor("m", 3)
	badSum.SHA256 = serving.ContentID([]byte("something else"))
	unknown := serving.Descriptor{Name: "m", Version: 4, Format: "no-such-format", Bytes: []byte("x")}
	tooBig := servingtest.Spec{Value: 9}.Descriptor("m", 5)
	dir := t.TempDir() + "/"
	files := newServer(t, serving.WithLoadOptions(serving.LoadOptions{AllowLocations: []string{"file://" + dir}}))

	cases := []struct {
		name string
		d    serving.Descriptor
		s    *serving.Server
		want error
	}{
		{"corrupt", corrupt, s, serving.ErrCorruptModel},
		{"checksum", badSum, s, serving.ErrChecksum},
		{"unknown format", unknown, s, serving.ErrUnknownFormat},
		{"empty name", serving.Descriptor{Format: "fake", Bytes: []byte("{}")}, s, serving.ErrInvalidDescriptor},
		{"no bytes", serving.Descriptor{Name: "m", Version: 6, Format: "fake"}, s, serving.ErrInvalidDescriptor},
		{"location not allowed", serving.Descriptor{Name: "m", Version: 7, Format: "fake", Location: "file:///nonexistent/model"}, s, serving.ErrLocationNotAllowed},
		{"missing file", serving.Descriptor{Name: "m", Version: 7, Format: "fake", Location: "file://" + dir + "nonexistent", SHA256: serving.ContentID(nil)}, files, serving.ErrFetch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.s.Activate(ctx, c.d)
			require.ErrorIs(t, err, c.want)
			var le *serving.ModelError
			require.ErrorAs(t, err, &le)
			res, err := s.Model("m").Score(ctx, serving.Record{})
			require.NoError(t, err)
			servingtest.AssertModel(t, res, "m", 1)
			assert.Equal(t, 7.0, res.Value)
		})
	}
	small, err := serving.NewServer(serving.WithLoadOptions(serving.LoadOptions{MaxBytes: 4}))
	require.NoError(t, err)
	_, err = small.Activate(ctx, tooBig)
	assert.ErrorIs(t, err, serving.ErrTooLarge)

	_, err = s.Activate(ctx, unknown)
	assert.ErrorContains(t, err, `unknown format "no-such-format" (forgotten import?)`)
	n, _ := s.Rejections("m")
	assert.GreaterOrEqual(t, n, uint64(len(cases)-1))
}

func TestActivateFromFileLocation(t *testing.T) {
	dir := t.TempDir()
	s := newServer(t, serving.WithLoadOptions(serving.LoadOptions{AllowLocations: []string{"file://" + dir + "/"}}))
	d := servingtest.Spec{Value: 5}.Descriptor("m", 1)
	path := dir + "/model.json"
	require.NoError(t, writeFile(path, d.Bytes))
	d.Bytes = nil
	d.Location = "file://" + path
	got, err := s.Activate(context.Background(), d)
	require.NoError(t, err)
	assert.Equal(t, d.SHA256, got.ID)
	res, err := s.Model("m").Score(context.Background(), serving.Record{})
	require.NoError(t, err)
	assert.Equal(t, 5.0, res.Value)
}

func TestStats(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	lat := []time.Duration{3 * time.Millisecond, 1 * time.Millisecond, 5 * time.Millisecond}
	var i atomic.Int64
	f := &servingtest.Fake{OutputFunc: func([]float64) serving.Prediction {
		time.Sleep(lat[i.Add(1)-1])
		return serving.Prediction{}
	}}
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), f)))
	st, ok := statsOf(s, "m")
	require.True(t, ok)
	assert.Zero(t, st.Min, "no calls yet: min is zero, not a sentinel")

	for range lat {
		_, err := s.Model("m").Score(ctx, serving.Record{})
		require.NoError(t, err)
	}
	st, _ = statsOf(s, "m")
	assert.EqualValues(t, 3, st.Invocations)
	assert.EqualValues(t, 0, st.Errors)
	// Min must be the real shortest call (not stuck at zero): at least 1ms.
	assert.GreaterOrEqual(t, st.Min, 1*time.Millisecond)
	assert.GreaterOrEqual(t, st.Max, 5*time.Millisecond)
	assert.LessOrEqual(t, st.Min, st.Mean)
	assert.LessOrEqual(t, st.Mean, st.Max)
	assert.Equal(t, st.Total/3, st.Mean)

	// A failing model counts errors; a new version starts fresh stats.
	bad := &servingtest.Fake{FailRate: 1}
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 2), bad)))
	_, err := s.Model("m").Score(ctx, serving.Record{})
	require.ErrorIs(t, err, servingtest.ErrInjected)
	var se *serving.ModelError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, uint64(2), se.Model.Version)
	st, _ = statsOf(s, "m")
	assert.EqualValues(t, 1, st.Invocations)
	assert.EqualValues(t, 1, st.Errors)
	assert.Equal(t, uint64(2), st.Model.Version)
}

func TestNonFinitePolicy(t *testing.T) {
	ctx := context.Background()
	nan := []float64{1, nanValue(), 3}
	inf := []float64{1, 2, infValue()}
	for _, c := range []struct {
		policy       serving.NonFinitePolicy
		nanOK, infOK bool
	}{
		{serving.RejectNonFinite, false, false},
		{serving.AllowMissing, true, false},
		{serving.PassNonFinite, true, true},
	} {
		s := newServer(t, serving.WithNonFinite(c.policy))
		f := &servingtest.Fake{}
		require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), f)))
		_, err := s.Model("m").Score(ctx, serving.Record{Features: nan})
		if c.nanOK {
			assert.NoError(t, err)
		} else {
			var ne *serving.NonFiniteError
			require.ErrorAs(t, err, &ne)
			assert.Equal(t, 1, ne.Index)
			assert.ErrorIs(t, err, serving.ErrNonFinite)
		}
		_, err = s.Model("m").Score(ctx, serving.Record{Features: inf})
		if c.infOK {
			assert.NoError(t, err)
		} else {
			assert.ErrorIs(t, err, serving.ErrNonFinite)
		}
	}
	_, err := serving.NewServer(serving.WithNonFinite(99))
	assert.Error(t, err)
}

func TestNoModel(t *testing.T) {
	s := newServer(t)
	sc := s.Model("later")
	_, err := sc.Score(context.Background(), serving.Record{})
	require.ErrorIs(t, err, serving.ErrNoModel)
	require.NoError(t, activate(s.ActivateModel(context.Background(), ref("later", 1), &servingtest.Fake{})))
	_, err = sc.Score(context.Background(), serving.Record{})
	require.NoError(t, err, "a Scorer taken before the first version uses it once it is live")
	s.Retire("later")
	_, err = sc.Score(context.Background(), serving.Record{})
	require.ErrorIs(t, err, serving.ErrNoModel)
}

func TestClosedServerRefusesActivation(t *testing.T) {
	s := newServer(t)
	require.NoError(t, s.Close())
	f := &servingtest.Fake{}
	_, err := s.ActivateModel(context.Background(), ref("m", 1), f)
	require.True(t, errors.Is(err, serving.ErrClosed), "got %v", err)
	assert.EqualValues(t, 1, f.Closes())
}

// TestClosedServerRefusesBeforeLoading: Close's doc says later
// activations fail with ErrClosed. Activate loaded, warmed and validated
// the model first (fetching a Location, if any), so a closed Server did
// the whole work of a load only to refuse it, and a model that failed to
// load was reported as corrupt rather than refused as closed.
func TestClosedServerRefusesBeforeLoading(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	require.NoError(t, s.Close())
	before, rejected := warms.Load(), s.TotalRejections()
	_, err := s.Activate(ctx, serving.Descriptor{Name: "w", Format: "test-warming", Bytes: []byte("ok")})
	require.ErrorIs(t, err, serving.ErrClosed)
	assert.Equal(t, before, warms.Load(), "a closed Server loaded and warmed a model it would refuse")
	_, err = s.Activate(ctx, serving.Descriptor{Name: "w", Format: "test-warming", Bytes: []byte("fail")})
	require.ErrorIs(t, err, serving.ErrClosed)
	assert.Equal(t, rejected+2, s.TotalRejections(), "each refusal counted")
}

type eventLog struct {
	mu     sync.Mutex
	events []serving.ModelEvent
}

func (l *eventLog) OnModelEvent(e serving.ModelEvent) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func TestModelEventHooks(t *testing.T) {
	var log eventLog
	s := newServer(t, serving.WithHooks(&log))
	ctx := context.Background()
	_, err := s.Activate(ctx, servingtest.Spec{}.Descriptor("m", 1))
	require.NoError(t, err)
	_, err = s.Activate(ctx, servingtest.Spec{}.Descriptor("m", 1))
	require.Error(t, err)
	_, err = s.Activate(ctx, servingtest.Spec{}.Descriptor("m", 2))
	require.NoError(t, err)
	s.Retire("m")
	var kinds []string
	for _, e := range log.events {
		kinds = append(kinds, e.Kind.String())
	}
	assert.Equal(t, []string{"loaded", "activated", "rejected", "loaded", "activated", "retired"}, kinds)
	assert.Equal(t, uint64(1), log.events[4].Previous.Version)
}

// TestRetireEventTimeMatchesHistory: the retirement a hook sees carries
// the same instant the Server's history records, so a recorder of events
// (registry.Follower) and the Server agree on when it happened, and a
// retirement can never be recorded after an activation that followed it.
func TestRetireEventTimeMatchesHistory(t *testing.T) {
	var log eventLog
	s := newServer(t, serving.WithHooks(&log))
	ctx := context.Background()
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), &servingtest.Fake{})))
	s.Retire("m")
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 2), &servingtest.Fake{})))
	h := s.History("m")
	require.Len(t, h, 3)
	log.mu.Lock()
	defer log.mu.Unlock()
	require.Len(t, log.events, 3)
	for i, e := range log.events {
		assert.Equal(t, h[i].Kind, e.Kind)
		assert.True(t, h[i].At.Equal(e.Time), "event %d (%s): hook saw %v, history says %v", i, e.Kind, e.Time, h[i].At)
	}
	assert.True(t, log.events[1].Time.Before(log.events[2].Time), "retirement must precede the next activation")
}

// TestPanickingModelIsStillReleased: callers such as package speculative
// recover a Scorer's panic. The call's reference must be released even
// then, or the version is never closed after it is replaced.
func TestPanickingModelIsStillReleased(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	v1 := &servingtest.Fake{OutputFunc: func([]float64) serving.Prediction { panic("model bug") }}
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), v1)))
	func() {
		defer func() { assert.Equal(t, "model bug", recover()) }()
		s.Model("m").Score(ctx, serving.Record{})
	}()
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 2), &servingtest.Fake{})))
	assert.EqualValues(t, 1, v1.Closes(), "the replaced version must be closed once its calls are over, panicked ones included")
}

// busyCloser is a Fake that counts being closed while a call runs on it.
type busyCloser struct {
	*servingtest.Fake
	busy *atomic.Int64
}

func (b busyCloser) Close() error {
	if b.Active() != 0 {
		b.busy.Add(1)
	}
	return b.Fake.Close()
}

// TestEveryModelClosedExactlyOnce: activations (fresh, stale and
// rollbacks), retirements and scoring race on two names, then the Server
// closes. Every model handed to the Server, accepted or refused, ends up
// closed exactly once, and none while a call was running on it.
func TestEveryModelClosedExactlyOnce(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	var mu sync.Mutex
	var all []*servingtest.Fake
	var busy atomic.Int64
	newModel := func() serving.Model {
		f := &servingtest.Fake{Latency: servingtest.Fixed(time.Microsecond)}
		mu.Lock()
		all = append(all, f)
		mu.Unlock()
		return busyCloser{f, &busy}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			names := []string{"a", "b"}
			for i := range 300 {
				name := names[(g+i)%2]
				switch i % 5 {
				case 0, 1:
					var opts []serving.ActivateOption
					if i%7 == 0 {
						opts = append(opts, serving.AllowRollback())
					}
					s.ActivateModel(ctx, ref(name, uint64(i%40)), newModel(), opts...)
				case 2:
					if i%10 == 2 {
						s.Retire(name)
					}
				default:
					s.Model(name).Score(ctx, serving.Record{})
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, s.Close())
	mu.Lock()
	defer mu.Unlock()
	for i, f := range all {
		if f.Closes() != 1 {
			t.Errorf("model %d closed %d times", i, f.Closes())
		}
	}
	assert.Zero(t, busy.Load(), "models closed while a call ran on them")
	assert.Greater(t, len(all), 100)
}

// TestRejectedNamesAreBounded: bad model messages with ever new names
// are all counted and logged, but the Server tracks at most
// MaxRejectedNames of them by name, so its memory stays bounded.
func TestRejectedNamesAreBounded(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	n := serving.MaxRejectedNames + 100
	for i := 0; i < n; i++ {
		_, err := s.Activate(ctx, serving.Descriptor{Name: fmt.Sprintf("junk-%d", i), Version: 1, Format: "no-such-format", Bytes: []byte("x")})
		require.ErrorIs(t, err, serving.ErrUnknownFormat)
	}
	assert.EqualValues(t, n, s.TotalRejections())
	got, last := s.Rejections("junk-0")
	assert.EqualValues(t, 1, got)
	assert.ErrorIs(t, last, serving.ErrUnknownFormat)
	got, _ = s.Rejections(fmt.Sprintf("junk-%d", n-1))
	assert.Zero(t, got, "names past the bound are not tracked")
	// A name that is live keeps its own count whatever the bound.
	require.NoError(t, activate(s.ActivateModel(ctx, ref("real", 2), &servingtest.Fake{})))
	_, err := s.ActivateModel(ctx, ref("real", 1), &servingtest.Fake{})
	require.ErrorIs(t, err, serving.ErrStaleVersion)
	got, _ = s.Rejections("real")
	assert.EqualValues(t, 1, got)
	assert.Empty(t, s.Models()[1:], "only the live model is listed")
}

// TestVersionZeroMeansNext: Activate and ActivateModel number a version 0
// one more than the highest version made live (1 for the first), so a second
// unnumbered activation is not refused as a rollback.
func TestVersionZeroMeansNext(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	for want := uint64(1); want <= 3; want++ {
		got, err := s.Activate(ctx, servingtest.Spec{Value: float64(want)}.Descriptor("m", 0))
		require.NoError(t, err)
		assert.Equal(t, want, got.Version)
		cur, _ := s.Current("m")
		assert.Equal(t, want, cur.Version)
		res, err := s.Model("m").Score(ctx, serving.Record{})
		require.NoError(t, err)
		servingtest.AssertModel(t, res, "m", want)
	}
	_, err := s.ActivateModel(ctx, ref("m", 7), &servingtest.Fake{})
	require.NoError(t, err)
	got, err := s.ActivateModel(ctx, ref("m", 0), &servingtest.Fake{})
	require.NoError(t, err)
	assert.Equal(t, uint64(8), got.Version)
	assert.Equal(t, "m@v8", got.String())
}

// TestBindNilModelIsRefused: a nil Model is refused with ErrNoModel at
// Score, like a slot with nothing live, instead of panicking.
func TestBindNilModelIsRefused(t *testing.T) {
	sc := serving.Bind(ref("m", 1), nil)
	res, err := sc.Score(context.Background(), serving.Record{Features: []float64{1}})
	require.ErrorIs(t, err, serving.ErrNoModel)
	var se *serving.ModelError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, ref("m", 1), se.Model)
	assert.Equal(t, ref("m", 1), res.Provenance.Model)
	assert.Equal(t, ref("m", 1), sc.(serving.Referrer).Ref())
}

func TestModelRefStringWithoutVersion(t *testing.T) {
	assert.Equal(t, "budget", serving.ModelRef{Name: "budget"}.String())
	assert.Equal(t, "m@v3", serving.ModelRef{Name: "m", Version: 3}.String())
}

// gated answers Value once gate is closed, after telling entered that a
// call began.
type gated struct {
	entered chan struct{}
	gate    chan struct{}
	once    sync.Once
}

func (g *gated) Predict(context.Context, []float64) (serving.Prediction, error) {
	g.once.Do(func() { close(g.entered) })
	<-g.gate
	return serving.Prediction{Value: 1}, nil
}

// TestActivationTimeIsTheSwap: the instant a version went live, in the
// history, its event and its Stats, is taken at the swap, not when its
// activation began. A version held up in validation while another is
// activated, or the name retired, goes live after them; stamped with its
// start it would sort before them, and a recorder of the history
// (registry.At, registry.Restore) would name the wrong version as live.
func TestActivationTimeIsTheSwap(t *testing.T) {
	var log eventLog
	s := newServer(t, serving.WithHooks(&log), serving.WithValidation(serving.Validation{
		Probes: map[string][]serving.Record{"m": {{Features: []float64{1}}}},
	}))
	ctx := context.Background()
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), &servingtest.Fake{})))

	slow := &gated{entered: make(chan struct{}), gate: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- activate(s.ActivateModel(ctx, ref("m", 3), slow)) }()
	<-slow.entered // v3 is being validated
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 2), &servingtest.Fake{})))
	s.Retire("m")
	close(slow.gate)
	require.NoError(t, <-done)

	cur, _ := s.Current("m")
	require.Equal(t, uint64(3), cur.Version)
	h := s.History("m")
	require.Len(t, h, 4) // v1, v2, v2 retired, v3
	for i := 1; i < len(h); i++ {
		assert.False(t, h[i].At.Before(h[i-1].At), "history entry %d (%s %s at %v) is before entry %d (%s %s at %v)",
			i, h[i].Kind, h[i].Model, h[i].At, i-1, h[i-1].Kind, h[i-1].Model, h[i-1].At)
	}
	st, ok := statsOf(s, "m")
	require.True(t, ok)
	assert.True(t, st.Since.Equal(h[3].At), "Stats.Since %v, history %v", st.Since, h[3].At)
	log.mu.Lock()
	defer log.mu.Unlock()
	last := log.events[len(log.events)-1]
	assert.Equal(t, serving.EventActivated, last.Kind)
	assert.True(t, last.Time.Equal(h[3].At))
}

// TestNonFiniteAtEveryPosition: a NaN, +Inf or -Inf anywhere in a row of
// 1 to 23 features (every lane and every tail of the unrolled scan) is
// refused with its index, by Score and by ScoreBatch; -0, the largest
// and the smallest values are not, not even in rows of 10 or more, whose
// sums overflow (allFinite then says no, and the values are looked at
// one by one).
func TestNonFiniteAtEveryPosition(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), &servingtest.Fake{})))
	sc := s.Model("m")
	bs := sc.(serving.BatchScorer)
	for n := 1; n <= 23; n++ {
		ok := make([]float64, n)
		for i := range ok {
			ok[i] = []float64{math.Copysign(0, -1), math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64}[i%4]
		}
		_, err := sc.Score(ctx, serving.Record{Features: ok})
		require.NoError(t, err, "%d finite features", n)
		for i := range n {
			for _, bad := range []float64{nanValue(), infValue(), -infValue()} {
				row := slices.Clone(ok)
				row[i] = bad
				_, err := sc.Score(ctx, serving.Record{Features: row})
				var ne *serving.NonFiniteError
				require.ErrorAs(t, err, &ne, "%v at %d of %d", bad, i, n)
				assert.Equal(t, i, ne.Index)
				out, errs := make([]serving.Result, 2), make([]error, 2)
				bs.ScoreBatch(ctx, []serving.Record{{Features: ok}, {Features: row}}, out, errs)
				require.NoError(t, errs[0])
				require.ErrorAs(t, errs[1], &ne, "batch: %v at %d of %d", bad, i, n)
				assert.Equal(t, i, ne.Index)
			}
		}
	}
}

// durations is a HookScored that keeps the durations it is given.
type durations struct {
	mu   sync.Mutex
	took []time.Duration
	errs int
}

func (d *durations) OnScored(_ serving.ModelRef, took time.Duration, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.took = append(d.took, took)
	if err != nil {
		d.errs++
	}
}

// thirdFails fails every third call.
type thirdFails struct{ n atomic.Int64 }

func (m *thirdFails) Predict(context.Context, []float64) (serving.Prediction, error) {
	if m.n.Add(1)%3 == 0 {
		return serving.Prediction{}, servingtest.ErrInjected
	}
	return serving.Prediction{Value: 1}, nil
}

// TestStatsTiming: Invocations and Errors count every call, by Score and
// by ScoreBatch, whether or not it was timed. With a HookScored every
// call is timed, so Total, Min and Max are exactly the sum, least and
// greatest of the durations the hook was given; without one the timing
// is sampled and Total is Mean × Invocations.
func TestStatsTiming(t *testing.T) {
	ctx := context.Background()
	for _, hooked := range []bool{false, true} {
		d := &durations{}
		opts := []serving.Option{}
		if hooked {
			opts = append(opts, serving.WithHooks(d))
		}
		s := newServer(t, opts...)
		require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), &thirdFails{})))
		sc := s.Model("m")
		for range 200 {
			_, _ = sc.Score(ctx, serving.Record{Features: []float64{1}})
		}
		recs := make([]serving.Record, 50)
		for i := range recs {
			recs[i].Features = []float64{1}
		}
		out, errs := make([]serving.Result, 50), make([]error, 50)
		for range 3 {
			sc.(serving.BatchScorer).ScoreBatch(ctx, recs, out, errs)
		}
		st, _ := statsOf(s, "m")
		assert.EqualValues(t, 350, st.Invocations, "hooked %v", hooked)
		assert.EqualValues(t, 350/3, st.Errors, "hooked %v", hooked)
		if !hooked {
			assert.Equal(t, st.Mean*350, st.Total)
			assert.LessOrEqual(t, st.Min, st.Mean)
			assert.LessOrEqual(t, st.Mean, st.Max)
			continue
		}
		require.Len(t, d.took, 350)
		assert.Equal(t, 350/3, d.errs)
		var sum time.Duration
		for _, x := range d.took {
			sum += x
		}
		// A batch's share is its time divided by its size, so the hook's
		// sum can be short of the batch's time by the remainders.
		assert.InDelta(t, float64(sum), float64(st.Total), 3*50)
		assert.Equal(t, slices.Min(d.took), st.Min)
		assert.Equal(t, slices.Max(d.took), st.Max)
	}
}

// closeAware fails a Predict made after its Close, and counts closes.
type closeAware struct {
	v      float64
	closed atomic.Int32
}

func (m *closeAware) Predict(context.Context, []float64) (serving.Prediction, error) {
	if m.closed.Load() != 0 {
		return serving.Prediction{}, errors.New("predict after close")
	}
	return serving.Prediction{Value: m.v}, nil
}

func (m *closeAware) Close() error {
	m.closed.Add(1)
	return nil
}

// TestNoCallUsesAClosedVersion: while 8 goroutines score as fast as they
// can and 300 versions are swapped in, no call reaches a closed model
// (a call that found the version before it was swapped out keeps it open
// until it returns), and every retired version is closed exactly once.
func TestNoCallUsesAClosedVersion(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	const versions = 300
	ms := make([]*closeAware, versions+1)
	for v := 1; v <= versions; v++ {
		ms[v] = &closeAware{v: float64(v)}
	}
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), ms[1])))
	sc := s.Model("m")
	bs := sc.(serving.BatchScorer)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs := make([]serving.Record, 3)
			for i := range recs {
				recs[i].Features = []float64{1}
			}
			out, es := make([]serving.Result, 3), make([]error, 3)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				if i%2 == 0 {
					_, err = sc.Score(ctx, recs[0])
				} else {
					bs.ScoreBatch(ctx, recs, out, es)
					err = errors.Join(es...)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for v := 2; v <= versions; v++ {
		if v%50 == 0 {
			time.Sleep(100 * time.Microsecond)
		}
		require.NoError(t, activate(s.ActivateModel(ctx, ref("m", uint64(v)), ms[v])))
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for v := 1; v < versions; v++ {
		assert.EqualValues(t, 1, ms[v].closed.Load(), "v%d closed once", v)
	}
	assert.EqualValues(t, 0, ms[versions].closed.Load(), "the live version stays open")
}

// TestVersionZeroNeverReusesANumber: after a rollback (v1, v2, v3 live,
// then v1 again) or a retirement, Version 0 numbers one more than the
// highest version this Server ever made live, never a number that
// already named another model; and the bound on version jumps counts
// from that highest version, so "next" after a deep rollback is not
// refused as a jump.
func TestVersionZeroNeverReusesANumber(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	for v := uint64(1); v <= 3; v++ {
		require.NoError(t, activate(s.Activate(ctx, servingtest.Spec{Value: float64(v)}.Descriptor("m", v))))
	}
	require.NoError(t, activate(s.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("m", 1), serving.AllowRollback())))
	got, err := s.Activate(ctx, servingtest.Spec{Value: 4}.Descriptor("m", 0))
	require.NoError(t, err)
	assert.Equal(t, uint64(4), got.Version, "v2 already named another model")
	got, err = s.ActivateModel(ctx, ref("m", 0), &servingtest.Fake{})
	require.NoError(t, err)
	assert.Equal(t, uint64(5), got.Version)

	s.Retire("m")
	got, err = s.Activate(ctx, servingtest.Spec{Value: 6}.Descriptor("m", 0))
	require.NoError(t, err)
	assert.Equal(t, uint64(6), got.Version, "v1 already named another model")

	deep := newServer(t, serving.WithMaxVersionJump(1000))
	require.NoError(t, activate(deep.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("m", 1000))))
	require.NoError(t, activate(deep.Activate(ctx, servingtest.Spec{Value: 2}.Descriptor("m", 2000))))
	require.NoError(t, activate(deep.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("m", 1000), serving.AllowRollback())))
	got, err = deep.Activate(ctx, servingtest.Spec{Value: 3}.Descriptor("m", 0))
	require.NoError(t, err)
	assert.Equal(t, uint64(2001), got.Version)
}

// TestHighestVersionRaisesNext: an activation with HighestVersion(v)
// makes Version 0 number above v; an absurd v fails the activation with
// ErrInvalidDescriptor and leaves the numbering as it was.
func TestHighestVersionRaisesNext(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, serving.WithMaxVersionJump(1000))
	_, err := s.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("m", 1), serving.HighestVersion(1002))
	require.ErrorIs(t, err, serving.ErrInvalidDescriptor)
	_, err = s.ActivateModel(ctx, ref("m", 1), &servingtest.Fake{}, serving.HighestVersion(math.MaxUint64))
	require.ErrorIs(t, err, serving.ErrInvalidDescriptor)
	_, live := s.Current("m")
	assert.False(t, live)
	require.NoError(t, activate(s.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("m", 1), serving.HighestVersion(7))))
	got, err := s.Activate(ctx, servingtest.Spec{Value: 2}.Descriptor("m", 0))
	require.NoError(t, err)
	assert.Equal(t, uint64(8), got.Version)
	// A lower HighestVersion never lowers the numbering.
	require.NoError(t, activate(s.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("m", 1), serving.AllowRollback(), serving.HighestVersion(3))))
	got, err = s.Activate(ctx, servingtest.Spec{Value: 3}.Descriptor("m", 0))
	require.NoError(t, err)
	assert.Equal(t, uint64(9), got.Version)
}

// TestCloseIsNotARetirement: Close shuts the Server down, closing every
// model once its calls drain, without telling the hooks that the models
// were retired. It used to report an EventRetired per name, so a
// registry Follower recorded the shutdown as retirements and the next
// start's registry.Restore served nothing (unless the Follower was
// stopped first), and an audit trail showed retirements nobody made.
func TestCloseIsNotARetirement(t *testing.T) {
	var log eventLog
	s := newServer(t, serving.WithHooks(&log))
	f := &servingtest.Fake{}
	require.NoError(t, activate(s.ActivateModel(context.Background(), ref("m", 1), f)))
	require.NoError(t, s.Close())
	assert.EqualValues(t, 1, f.Closes(), "Close still closes the live model")
	for _, e := range log.events {
		assert.NotEqual(t, serving.EventRetired, e.Kind, "Close reported %v retired", e.Model)
	}
	h := s.History("m")
	require.NotEmpty(t, h)
	assert.Equal(t, serving.EventActivated, h[len(h)-1].Kind, "the history ends with what was live")
	_, err := s.Model("m").Score(context.Background(), serving.Record{})
	assert.ErrorIs(t, err, serving.ErrClosed)
}
