package serving_test

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
)

// TestStatsCountOnlyCallsToTheModel: Invocations counts the records that
// reached the model, by Score and by ScoreBatch, and not those refused
// before it (a non-finite value, a missing field, a done context), nor
// the live version's answers a validation with a Tolerance asks of it.
// The Server counts a call in the same atomic add that takes the
// version's reference; a refused record must be taken back out.
func TestStatsCountOnlyCallsToTheModel(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, serving.WithValidation(serving.Validation{
		Probes:    map[string][]serving.Record{"m": {{Features: []float64{1, 1}}}},
		Tolerance: 1,
	}))
	m := &batchSumModel{}
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), m)))
	sc := s.Model("m")
	onlyB, err := serving.NewLayout("b")
	require.NoError(t, err)
	done, cancel := context.WithCancel(ctx)
	cancel()

	// Score: 2 calls, 3 refusals.
	for _, r := range []serving.Record{
		{Features: []float64{1, 2}},
		{Features: []float64{math.NaN(), 2}},
		{Features: []float64{1}, Layout: onlyB},
		{Features: []float64{13, 0}}, // the model fails it: a call
	} {
		_, _ = sc.Score(ctx, r)
	}
	_, err = sc.Score(done, serving.Record{Features: []float64{1, 2}})
	require.ErrorIs(t, err, context.Canceled)

	// ScoreBatch: 3 of 6 reach the model, then a batch refused whole.
	rs := []serving.Record{
		{Features: []float64{1, 2}},
		{Features: []float64{math.Inf(1), 2}},
		{Features: []float64{3, 4}},
		{Features: []float64{1}, Layout: onlyB},
		{Features: []float64{5, math.Inf(-1)}},
		{Features: []float64{5, 6}},
	}
	out, errs := make([]serving.Result, len(rs)), make([]error, len(rs))
	sc.(serving.BatchScorer).ScoreBatch(ctx, rs, out, errs)
	for i, err := range errs {
		assert.Equal(t, i == 0 || i == 2 || i == 5, err == nil, "record %d: %v", i, err)
	}
	sc.(serving.BatchScorer).ScoreBatch(done, rs, out, errs)

	st, ok := statsOf(s, "m")
	require.True(t, ok)
	assert.EqualValues(t, 2+3, st.Invocations)
	assert.EqualValues(t, 1, st.Errors)

	// A validation against the live version holds it and asks it for
	// its answers without counting them: v1's counts do not move when
	// v2 is tried, here refused as it disagrees.
	_, err = s.ActivateModel(ctx, ref("m", 2), dot{w: []float64{100, 100}})
	require.ErrorIs(t, err, serving.ErrValidation)
	st, _ = statsOf(s, "m")
	assert.EqualValues(t, 1, st.Model.Version)
	assert.EqualValues(t, 2+3, st.Invocations)
	assert.EqualValues(t, 1, st.Errors)
}

// TestScoreBatchFiniteSumOverflows: a record's values are checked by
// one sum, which overflows to ±Inf on finite values as large as 1e308;
// the record's values are then checked one by one, and none is refused
// for it. Under AllowMissing a NaN is not refused either.
func TestScoreBatchFiniteSumOverflows(t *testing.T) {
	ctx := context.Background()
	for _, policy := range []serving.NonFinitePolicy{serving.RejectNonFinite, serving.AllowMissing} {
		s := newServer(t, serving.WithNonFinite(policy))
		require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), &plainSum{})))
		bs := s.Model("m").(serving.BatchScorer)
		rs := make([]serving.Record, 9)
		for i := range rs {
			rs[i].Features = []float64{1e308, 1e308, float64(i)}
		}
		rs[4].Features = []float64{math.NaN(), 1}
		out, errs := make([]serving.Result, len(rs)), make([]error, len(rs))
		bs.ScoreBatch(ctx, rs, out, errs)
		for i := range rs {
			if i == 4 && policy == serving.RejectNonFinite {
				var nf *serving.NonFiniteError
				assert.ErrorAs(t, errs[i], &nf, "policy %d: record %d", policy, i)
				continue
			}
			assert.NoError(t, errs[i], "policy %d: record %d", policy, i)
		}
	}
}
