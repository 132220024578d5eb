package serving_test

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// dot is a tiny model: w·x, the way a linear model with huge weights
// overflows.
type dot struct{ w []float64 }

func (m dot) Predict(_ context.Context, x []float64) (serving.Prediction, error) {
	if len(x) != len(m.w) {
		return serving.Prediction{}, &serving.FeatureCountError{Want: len(m.w), Got: len(x)}
	}
	var s float64
	for i := range x {
		s += m.w[i] * x[i]
	}
	return serving.Prediction{Value: s}, nil
}

func scoreN(t *testing.T, s *serving.Server, name string, n int, x ...float64) {
	t.Helper()
	for range n {
		_, err := s.Model(name).Score(context.Background(), serving.Record{Features: x})
		require.NoError(t, err)
	}
}

// TestNaNModelNeverReplacesAWorkingOne: a version whose weights overflow
// to ±Inf/NaN on the records the stream carries is refused, and the live
// version keeps serving. Before validation it went live.
func TestNaNModelNeverReplacesAWorkingOne(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), dot{w: []float64{1, 2}})))
	scoreN(t, s, "m", 200, 3, 4)

	_, err := s.ActivateModel(ctx, ref("m", 2), dot{w: []float64{1e308, -1e308}})
	require.ErrorIs(t, err, serving.ErrValidation)
	cur, _ := s.Current("m")
	assert.Equal(t, uint64(1), cur.Version)
	res, err := s.Model("m").Score(ctx, serving.Record{Features: []float64{3, 4}})
	require.NoError(t, err)
	assert.Equal(t, 11.0, res.Value)
	_, last := s.Rejections("m")
	assert.ErrorIs(t, last, serving.ErrValidation)
	assert.NotContains(t, last.Error(), "output -1", "the reason names an output that exists")

	// A sound v2 goes live.
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 2), dot{w: []float64{2, 2}})))
}

// TestValidationProbesAndTolerance: user probes must answer; with a
// Tolerance the new version must agree with the live one; a model that
// errs on every sample is refused, and one whose outputs do not match
// its declared count too.
func TestValidationProbesAndTolerance(t *testing.T) {
	ctx := context.Background()
	probe := serving.Record{Features: []float64{1, 1}}
	s := newServer(t, serving.WithValidation(serving.Validation{
		Probes:    map[string][]serving.Record{"m": {probe}},
		Tolerance: 0.1,
	}))
	_, err := s.ActivateModel(ctx, ref("m", 1), dot{w: []float64{1, 2, 3}})
	require.ErrorIs(t, err, serving.ErrValidation, "a version that cannot answer the probe")
	require.ErrorIs(t, err, serving.ErrFeatureCount)
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), dot{w: []float64{1, 2}})))
	scoreN(t, s, "m", 128, 1, 2)

	_, err = s.ActivateModel(ctx, ref("m", 2), dot{w: []float64{1, 3}})
	require.ErrorIs(t, err, serving.ErrValidation, "disagrees with the live version by 1 on 3")
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 2), dot{w: []float64{1, 2.05}})))

	fails := &servingtest.Fake{FailRate: 1}
	_, err = s.ActivateModel(ctx, ref("m", 3), fails)
	require.ErrorIs(t, err, serving.ErrValidation, "a version that fails on the user's probe")
	cur, _ := s.Current("m")
	assert.Equal(t, uint64(2), cur.Version)

	// Without probes, a version that fails on the sampled records (here:
	// it reads another number of features) is not refused for that: each
	// record reports its own error once it is live, as without
	// validation. Only a wrong answer refuses it.
	plain := newServer(t)
	require.NoError(t, activate(plain.ActivateModel(ctx, ref("m", 1), dot{w: []float64{1, 2}})))
	scoreN(t, plain, "m", 128, 1, 2)
	require.NoError(t, activate(plain.ActivateModel(ctx, ref("m", 2), dot{w: []float64{1, 2, 3}})))
}

// TestValidationOff: with sampling off and no probes, nothing is tried.
func TestValidationOff(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, serving.WithValidation(serving.Validation{Samples: -1}))
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), dot{w: []float64{1, 2}})))
	scoreN(t, s, "m", 200, 3, 4)
	_, err := s.ActivateModel(ctx, ref("m", 2), dot{w: []float64{1e308, -1e308}})
	require.NoError(t, err, "with sampling off and no probes, nothing is tried")
	_, err = serving.NewServer(serving.WithValidation(serving.Validation{Tolerance: math.NaN()}))
	require.ErrorIs(t, err, serving.ErrConfig)
}

// TestAbsurdVersions: the maximum version, and a jump beyond the limit,
// are refused before anything is loaded, so one message cannot make
// every later version of a name stale.
func TestAbsurdVersions(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, serving.WithMaxVersionJump(1000))
	max := servingtest.Spec{Value: 1}.Descriptor("m", math.MaxUint64)
	_, err := s.Activate(ctx, max)
	require.ErrorIs(t, err, serving.ErrInvalidDescriptor)
	_, err = s.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("m", 1001))
	require.ErrorIs(t, err, serving.ErrInvalidDescriptor)
	require.NoError(t, activate(s.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("m", 1000))))
	require.NoError(t, activate(s.Activate(ctx, servingtest.Spec{Value: 2}.Descriptor("m", 2000))))
	_, err = s.ActivateModel(ctx, ref("m", 3001), &servingtest.Fake{})
	require.ErrorIs(t, err, serving.ErrInvalidDescriptor)
	_, err = s.ActivateModel(ctx, ref("m", math.MaxUint64), &servingtest.Fake{})
	require.ErrorIs(t, err, serving.ErrInvalidDescriptor)
	cur, _ := s.Current("m")
	assert.Equal(t, uint64(2000), cur.Version)

	_, err = serving.NewServer(serving.WithMaxVersionJump(0))
	require.ErrorIs(t, err, serving.ErrConfig)

	// The maximum is refused even when no jump bound would catch it: one
	// step past the live version, under the widest bound. Taken, it would
	// leave no version after it.
	wide := newServer(t, serving.WithMaxVersionJump(math.MaxUint64))
	require.NoError(t, activate(wide.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("m", math.MaxUint64-1))))
	_, err = wide.Activate(ctx, servingtest.Spec{Value: 2}.Descriptor("m", math.MaxUint64))
	require.ErrorIs(t, err, serving.ErrInvalidDescriptor)
	_, err = wide.Activate(ctx, servingtest.Spec{Value: 2}.Descriptor("m", 0)) // "next" is the maximum
	require.ErrorIs(t, err, serving.ErrInvalidDescriptor)
	cur, _ = wide.Current("m")
	assert.Equal(t, uint64(math.MaxUint64-1), cur.Version)
}

// recorder is an Admitter and Committer that records what it saw.
type recorder struct {
	admitted, committed []serving.Descriptor
	events              []serving.ModelEvent
	failCommit          error
}

func (r *recorder) Admit(_ context.Context, d serving.Descriptor) error {
	r.admitted = append(r.admitted, d)
	return nil
}

func (r *recorder) Commit(_ context.Context, d serving.Descriptor) error {
	if r.failCommit != nil {
		return r.failCommit
	}
	r.committed = append(r.committed, d)
	return nil
}

func (r *recorder) OnModelEvent(e serving.ModelEvent) { r.events = append(r.events, e) }

// TestCommitOnlyWhatLoads: a Committer records a model only once it
// loaded and passed validation, with the version it goes live under; a
// garbage copy of a version is never recorded, so the good copy of the
// same version goes live and is recorded. An Admitter that is a
// HookModelEvent hears the activations without separate wiring.
func TestCommitOnlyWhatLoads(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	s := newServer(t, serving.WithAdmission(rec))
	garbage := serving.Descriptor{Name: "m", Version: 2, Format: servingtest.FormatName, Bytes: []byte("not json")}
	_, err := s.Activate(ctx, garbage)
	require.ErrorIs(t, err, serving.ErrCorruptModel)
	assert.Len(t, rec.admitted, 1)
	assert.Empty(t, rec.committed, "a model that never loaded was recorded")

	good := servingtest.Spec{Value: 4}.Descriptor("m", 2)
	require.NoError(t, activate(s.Activate(ctx, good)))
	require.Len(t, rec.committed, 1)
	assert.Equal(t, uint64(2), rec.committed[0].Version)
	assert.Equal(t, good.SHA256, rec.committed[0].SHA256)

	next := servingtest.Spec{Value: 5}.Descriptor("m", 0)
	require.NoError(t, activate(s.Activate(ctx, next)))
	require.Len(t, rec.committed, 2)
	assert.Equal(t, uint64(3), rec.committed[1].Version, "the committed descriptor carries the assigned version")

	rec.failCommit = errors.New("disk full")
	_, err = s.Activate(ctx, servingtest.Spec{Value: 6}.Descriptor("m", 4))
	require.ErrorIs(t, err, serving.ErrNotAdmitted)
	cur, _ := s.Current("m")
	assert.Equal(t, uint64(3), cur.Version)

	var activated int
	for _, e := range rec.events {
		if e.Kind == serving.EventActivated {
			activated++
		}
	}
	assert.Equal(t, 2, activated)
}

// panicky panics in Predict on every record, and counts its Closes.
type panicky struct{ closed atomic.Int32 }

func (*panicky) Predict(context.Context, []float64) (serving.Prediction, error) {
	panic("index out of range in a format's evaluator")
}

func (p *panicky) Close() error { p.closed.Add(1); return nil }

// TestValidationRefusesAPanickingVersion: a version that panics on the
// probes or on the sampled records is refused with ErrValidation and
// closed, instead of taking the activating goroutine (the model feed)
// and the process down with it; the live version keeps serving.
func TestValidationRefusesAPanickingVersion(t *testing.T) {
	ctx := context.Background()
	for _, probes := range []bool{true, false} {
		var v serving.Validation
		if probes {
			v.Probes = map[string][]serving.Record{"m": {{Features: []float64{1, 2}}}}
		}
		s := newServer(t, serving.WithValidation(v))
		require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), dot{w: []float64{1, 2}})))
		scoreN(t, s, "m", 128, 3, 4)
		bad := &panicky{}
		var err error
		require.NotPanics(t, func() { _, err = s.ActivateModel(ctx, ref("m", 2), bad) }, "probes %v", probes)
		require.ErrorIs(t, err, serving.ErrValidation)
		assert.Equal(t, int32(1), bad.closed.Load(), "the refused version is closed once")
		cur, _ := s.Current("m")
		assert.Equal(t, uint64(1), cur.Version)
		scoreN(t, s, "m", 1, 3, 4)
	}
}

// TestDoneContextIsHonoured: a call whose context is already done fails
// with an error wrapping ctx.Err(), as the Scorer contract says, even when
// the model would ignore its context; one-by-one and batched alike.
func TestDoneContextIsHonoured(t *testing.T) {
	s := newServer(t)
	require.NoError(t, activate(s.ActivateModel(context.Background(), ref("m", 1), dot{w: []float64{1}})))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := s.Model("m").Score(ctx, serving.Record{Features: []float64{1}})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, uint64(1), res.Provenance.Model.Version)
	bs, ok := s.Model("m").(serving.BatchScorer)
	require.True(t, ok)
	out, errs := make([]serving.Result, 2), make([]error, 2)
	bs.ScoreBatch(ctx, []serving.Record{{Features: []float64{1}}, {Features: []float64{2}}}, out, errs)
	for i := range errs {
		require.ErrorIs(t, errs[i], context.Canceled)
	}
}

// TestAbsurdRollbackRefusedBeforeFetch: AllowRollback does not let the
// maximum version through to a fetch: it is refused before the Location
// is read.
func TestAbsurdRollbackRefusedBeforeFetch(t *testing.T) {
	s := newServer(t)
	d := serving.Descriptor{Name: "m", Version: math.MaxUint64, Format: servingtest.FormatName, Location: "file:///etc/passwd"}
	_, err := s.Activate(context.Background(), d, serving.AllowRollback())
	require.ErrorIs(t, err, serving.ErrInvalidDescriptor)
	require.NotErrorIs(t, err, serving.ErrLocationNotAllowed, "the version check must come first")
}

// TestProbeRefusedByPolicyIsAConfigError: a probe holding a value the
// Server's NonFinite policy refuses is refused by NewServer with
// ErrConfig; one the policy lets through is accepted. Before, it was
// accepted, and validation handed it to every candidate as it was,
// though the Server refuses to score such a record: a model answering
// NaN for a NaN was refused at every activation ("validation: probe 0:
// the value is NaN"), for a record no traffic could bring.
func TestProbeRefusedByPolicyIsAConfigError(t *testing.T) {
	nan := map[string][]serving.Record{"m": {{Features: []float64{1, 2}}, {Features: []float64{math.NaN(), 2}}}}
	inf := map[string][]serving.Record{"m": {{Features: []float64{1, math.Inf(-1)}}}}
	for _, c := range []struct {
		name   string
		policy serving.NonFinitePolicy
		probes map[string][]serving.Record
		ok     bool
	}{
		{"NaN, RejectNonFinite", serving.RejectNonFinite, nan, false},
		{"-Inf, RejectNonFinite", serving.RejectNonFinite, inf, false},
		{"NaN, AllowMissing", serving.AllowMissing, nan, true},
		{"-Inf, AllowMissing", serving.AllowMissing, inf, false},
		{"NaN, PassNonFinite", serving.PassNonFinite, nan, true},
		{"-Inf, PassNonFinite", serving.PassNonFinite, inf, true},
	} {
		_, err := serving.NewServer(serving.WithNonFinite(c.policy), serving.WithValidation(serving.Validation{Probes: c.probes}))
		if c.ok {
			assert.NoError(t, err, c.name)
		} else {
			assert.ErrorIs(t, err, serving.ErrConfig, c.name)
		}
	}
}
