package serving_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
)

// bsum predicts the sum of its inputs and fails on a row whose first
// value is 13 (the poison row); as a BatchPredictor it fails the whole
// batch when any row is poison, as a real batch engine would.
type bsum struct{ batches, singles atomic.Int64 }

var errPoison = errors.New("poison row")

func (m *bsum) Predict(_ context.Context, x []float64) (serving.Prediction, error) {
	m.singles.Add(1)
	if len(x) > 0 && x[0] == 13 {
		return serving.Prediction{}, errPoison
	}
	s := 0.0
	for _, v := range x {
		s += v
	}
	return serving.Prediction{Value: s}, nil
}

func (m *bsum) Describe() serving.ModelInfo {
	return serving.ModelInfo{Inputs: []serving.Input{{Name: "a"}, {Name: "b"}}}
}

type batchSumModel struct{ bsum }

func (m *batchSumModel) PredictBatch(_ context.Context, rows [][]float64, out []serving.Prediction) error {
	m.batches.Add(1)
	for i, x := range rows {
		if x[0] == 13 {
			return errPoison
		}
		out[i] = serving.Prediction{Value: x[0] + x[1]}
	}
	return nil
}

func batchServer(t *testing.T, m serving.Model) serving.BatchScorer {
	t.Helper()
	srv, err := serving.NewServer(serving.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	require.NoError(t, activate(srv.ActivateModel(context.Background(), serving.ModelRef{Name: "m"}, m)))
	bs, ok := srv.Model("m").(serving.BatchScorer)
	require.True(t, ok, "the Scorer of Server.Model is a BatchScorer")
	return bs
}

func TestScoreBatchPerRecordErrorsAndProvenance(t *testing.T) {
	layout, err := serving.NewLayout("b", "a", "extra")
	require.NoError(t, err)
	onlyB, err := serving.NewLayout("b")
	require.NoError(t, err)
	for name, m := range map[string]interface {
		serving.Model
		counts() (int64, int64)
	}{"batch predictor": &batchSumModel{}, "per record": &plainSum{}} {
		t.Run(name, func(t *testing.T) {
			bs := batchServer(t, m)
			rs := []serving.Record{
				{Features: []float64{1, 2}},
				{Features: []float64{13, 0}},                      // poison: the model fails it
				{Features: []float64{math.NaN(), 1}},              // non-finite: refused before the model
				{Features: []float64{20, 10, 99}, Layout: layout}, // named: b=20, a=10
				{Features: []float64{1}, Layout: onlyB},           // no field "a"
				{Features: []float64{4, 5}},
			}
			out := make([]serving.Result, len(rs))
			errs := make([]error, len(rs))
			bs.ScoreBatch(context.Background(), rs, out, errs)
			assert.NoError(t, errs[0])
			assert.Equal(t, 3.0, out[0].Value)
			assert.ErrorIs(t, errs[1], errPoison)
			var se *serving.ModelError
			assert.ErrorAs(t, errs[1], &se)
			var nf *serving.NonFiniteError
			assert.ErrorAs(t, errs[2], &nf)
			assert.NoError(t, errs[3])
			assert.Equal(t, 30.0, out[3].Value)
			assert.ErrorIs(t, errs[4], serving.ErrMissingField)
			assert.NoError(t, errs[5])
			assert.Equal(t, 9.0, out[5].Value)
			for i := range rs {
				assert.Equal(t, "m", out[i].Provenance.Model.Name, "record %d", i)
				assert.Equal(t, uint64(1), out[i].Provenance.Model.Version, "record %d", i)
			}
			// Each result is what Score gives the same record.
			for i, r := range rs {
				res, err := bs.(serving.Scorer).Score(context.Background(), r)
				assert.Equal(t, errs[i] == nil, err == nil, "record %d", i)
				if err == nil {
					assert.Equal(t, res, out[i], "record %d", i)
				}
			}
		})
	}
}

// TestScoreBatchRefusedRecordsKeepTheirPlace: records refused before the
// model (non-finite, missing field) leave gaps between the rows that go
// to one successful PredictBatch call; each prediction must still land
// on its own record, first and last included, and every slot of reused
// out and errs must be overwritten.
func TestScoreBatchRefusedRecordsKeepTheirPlace(t *testing.T) {
	onlyB, err := serving.NewLayout("b")
	require.NoError(t, err)
	m := &batchSumModel{}
	bs := batchServer(t, m)
	stale := errors.New("stale")
	for _, bad := range [][]int{{0}, {3}, {9}, {0, 1, 5, 9}, {2, 3, 4, 5, 6, 7, 8}} {
		rs := make([]serving.Record, 10)
		for i := range rs {
			rs[i] = serving.Record{Features: []float64{float64(10 * i), 1}}
		}
		for j, i := range bad {
			if j%2 == 0 {
				rs[i].Features[1] = math.Inf(-1)
			} else {
				rs[i] = serving.Record{Features: []float64{1}, Layout: onlyB}
			}
		}
		out := make([]serving.Result, len(rs))
		errs := make([]error, len(rs))
		for i := range rs {
			out[i] = serving.Result{Prediction: serving.Prediction{Value: -1, Label: "old"}, Provenance: serving.Provenance{Decision: &serving.Decision{}}}
			errs[i] = stale
		}
		before := m.batches.Load()
		bs.ScoreBatch(context.Background(), rs, out, errs)
		assert.Equal(t, before+1, m.batches.Load(), "bad %v: one PredictBatch", bad)
		for i := range rs {
			if slices.Contains(bad, i) {
				assert.Error(t, errs[i], "bad %v: record %d", bad, i)
				assert.NotErrorIs(t, errs[i], stale, "bad %v: record %d", bad, i)
				assert.Equal(t, serving.Result{Provenance: serving.Provenance{Model: serving.ModelRef{Name: "m", Version: 1}}}, out[i], "bad %v: record %d", bad, i)
				continue
			}
			assert.NoError(t, errs[i], "bad %v: record %d", bad, i)
			assert.Equal(t, serving.Result{Prediction: serving.Prediction{Value: float64(10*i + 1)}, Provenance: serving.Provenance{Model: serving.ModelRef{Name: "m", Version: 1}}}, out[i], "bad %v: record %d", bad, i)
		}
	}
}

type plainSum struct{ bsum }

func (m *plainSum) counts() (int64, int64) { return m.batches.Load(), m.singles.Load() }

func (m *batchSumModel) counts() (int64, int64) { return m.batches.Load(), m.singles.Load() }

func TestScoreBatchUsesPredictBatch(t *testing.T) {
	m := &batchSumModel{}
	bs := batchServer(t, m)
	rs := make([]serving.Record, 64)
	for i := range rs {
		rs[i] = serving.Record{Features: []float64{float64(100 + i), 1}}
	}
	out := make([]serving.Result, len(rs))
	errs := make([]error, len(rs))
	bs.ScoreBatch(context.Background(), rs, out, errs)
	for i := range rs {
		require.NoError(t, errs[i])
		assert.Equal(t, float64(101+i), out[i].Value)
	}
	assert.Equal(t, int64(1), m.batches.Load(), "one PredictBatch for the batch")
	assert.Zero(t, m.singles.Load(), "no per-record fallback when the batch succeeds")
}

// TestScoreBatchOneSumForTheBatch: ScoreBatch checks a batch for NaN
// and ±Inf with one sum over all its records, and each row on its own
// only when that sum is not finite. Named records are bound whatever
// the sum, and a batch whose sum is not finite refuses only the rows
// that are not: a named record with NaN in a field its model does not
// read, or rows of finite values whose sum over the batch overflows,
// are scored, as Score scores them. With every NonFinite policy.
func TestScoreBatchOneSumForTheBatch(t *testing.T) {
	layout, err := serving.NewLayout("extra", "b", "a")
	require.NoError(t, err)
	for _, policy := range []serving.NonFinitePolicy{serving.RejectNonFinite, serving.AllowMissing, serving.PassNonFinite} {
		srv := newServer(t, serving.WithNonFinite(policy))
		require.NoError(t, activate(srv.ActivateModel(context.Background(), ref("m", 1), &batchSumModel{})))
		sc := srv.Model("m")
		bs := sc.(serving.BatchScorer)
		for name, tc := range map[string]struct {
			rs   []serving.Record
			want []float64
		}{
			"named, all finite": {
				rs:   []serving.Record{{Features: []float64{1, 2}}, {Features: []float64{99, 20, 10}, Layout: layout}},
				want: []float64{3, 30},
			},
			"only named": {
				rs:   []serving.Record{{Features: []float64{99, 20, 10}, Layout: layout}, {Features: []float64{0, 2, 1}, Layout: layout}},
				want: []float64{30, 3},
			},
			"NaN where the model does not read": {
				rs:   []serving.Record{{Features: []float64{1, 2}}, {Features: []float64{math.NaN(), 20, 10}, Layout: layout}},
				want: []float64{3, 30},
			},
			"the batch's sum overflows": {
				rs:   []serving.Record{{Features: []float64{math.MaxFloat64, 0}}, {Features: []float64{math.MaxFloat64, 0}}, {Features: []float64{-math.MaxFloat64, 0}}},
				want: []float64{math.MaxFloat64, math.MaxFloat64, -math.MaxFloat64},
			},
		} {
			out := make([]serving.Result, len(tc.rs))
			errs := make([]error, len(tc.rs))
			bs.ScoreBatch(context.Background(), tc.rs, out, errs)
			for i, r := range tc.rs {
				require.NoError(t, errs[i], "policy %d, %s: record %d", policy, name, i)
				assert.Equal(t, tc.want[i], out[i].Value, "policy %d, %s: record %d", policy, name, i)
				res, err := sc.Score(context.Background(), r)
				require.NoError(t, err, "policy %d, %s: Score of record %d", policy, name, i)
				assert.Equal(t, res, out[i], "policy %d, %s: record %d", policy, name, i)
			}
		}
	}
}

// TestScoreBatchAfterANonFiniteBatch: after a batch that holds a NaN or
// ±Inf, ScoreBatch checks rows one by one instead of summing the whole
// batch, until a batch holds none. Through every switch between the two
// ways, under each NonFinite policy, each record gets what Score gives
// it: the same Result and the same error.
func TestScoreBatchAfterANonFiniteBatch(t *testing.T) {
	layout, err := serving.NewLayout("extra", "b", "a")
	require.NoError(t, err)
	clean := []serving.Record{{Features: []float64{1, 2}}, {Features: []float64{3, 4}}}
	withNaN := []serving.Record{{Features: []float64{1, 2}}, {Features: []float64{math.NaN(), 4}}, {Features: []float64{5, 6}}}
	withInf := []serving.Record{{Features: []float64{math.Inf(1), 2}}, {Features: []float64{3, 4}}}
	named := []serving.Record{{Features: []float64{99, 20, 10}, Layout: layout}, {Features: []float64{5, 6}}}
	namedNaN := []serving.Record{{Features: []float64{99, math.NaN(), 10}, Layout: layout}, {Features: []float64{math.NaN(), 20, 10}, Layout: layout}}
	overflow := []serving.Record{{Features: []float64{math.MaxFloat64, 0}}, {Features: []float64{math.MaxFloat64, 0}}}
	batches := [][]serving.Record{clean, withNaN, clean, withNaN, withInf, clean, clean, withInf, named, namedNaN, named, overflow, withNaN, overflow, clean}
	for _, policy := range []serving.NonFinitePolicy{serving.RejectNonFinite, serving.AllowMissing, serving.PassNonFinite} {
		srv := newServer(t, serving.WithNonFinite(policy))
		require.NoError(t, activate(srv.ActivateModel(context.Background(), ref("m", 1), &batchSumModel{})))
		sc := srv.Model("m")
		bs := sc.(serving.BatchScorer)
		for b, rs := range batches {
			out := make([]serving.Result, len(rs))
			errs := make([]error, len(rs))
			bs.ScoreBatch(context.Background(), rs, out, errs)
			for i, r := range rs {
				res, err := sc.Score(context.Background(), r)
				if err != nil {
					require.Error(t, errs[i], "policy %d, batch %d, record %d: Score says %v", policy, b, i, err)
					assert.Equal(t, err.Error(), errs[i].Error(), "policy %d, batch %d, record %d", policy, b, i)
				} else {
					require.NoError(t, errs[i], "policy %d, batch %d, record %d", policy, b, i)
				}
				// Printed, so that a NaN answer equals itself.
				assert.Equal(t, fmt.Sprint(res), fmt.Sprint(out[i]), "policy %d, batch %d, record %d", policy, b, i)
			}
		}
	}
}

// TestScoreBatchOfOneIsScore: a batch of one record gets what Score
// gives the record (a result, a poison row's model error, a refusal of
// NaN, a named record bound, a missing field, a done context) and
// counts in the Stats and the HookScored as one call of Score does.
func TestScoreBatchOfOneIsScore(t *testing.T) {
	layout, err := serving.NewLayout("extra", "b", "a")
	require.NoError(t, err)
	onlyB, err := serving.NewLayout("b")
	require.NoError(t, err)
	rs := []serving.Record{
		{Features: []float64{1, 2}},
		{Features: []float64{13, 0}},
		{Features: []float64{math.NaN(), 1}},
		{Features: []float64{99, 20, 10}, Layout: layout},
		{Features: []float64{1}, Layout: onlyB},
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	var hooks [2]durations
	var scorers [2]serving.Scorer
	var servers [2]*serving.Server
	for k := range scorers {
		servers[k] = newServer(t, serving.WithHooks(&hooks[k]))
		require.NoError(t, activate(servers[k].ActivateModel(context.Background(), ref("m", 1), &batchSumModel{})))
		scorers[k] = servers[k].Model("m")
	}
	for _, ctx := range []context.Context{context.Background(), done} {
		for i, r := range rs {
			res, err := scorers[0].Score(ctx, r)
			out, errs := make([]serving.Result, 1), make([]error, 1)
			scorers[1].(serving.BatchScorer).ScoreBatch(ctx, []serving.Record{r}, out, errs)
			if err != nil {
				require.Error(t, errs[0], "record %d: Score says %v", i, err)
				assert.Equal(t, err.Error(), errs[0].Error(), "record %d", i)
			} else {
				require.NoError(t, errs[0], "record %d", i)
			}
			assert.Equal(t, res, out[0], "record %d", i)
		}
	}
	score, batch := servers[0].Models()[0], servers[1].Models()[0]
	assert.Equal(t, score.Invocations, batch.Invocations)
	assert.Equal(t, score.Errors, batch.Errors)
	assert.Equal(t, len(hooks[0].took), len(hooks[1].took))
	assert.Equal(t, hooks[0].errs, hooks[1].errs)
}

func TestScoreBatchNoModel(t *testing.T) {
	srv, err := serving.NewServer()
	require.NoError(t, err)
	defer srv.Close()
	bs := srv.Model("absent").(serving.BatchScorer)
	errs := make([]error, 2)
	bs.ScoreBatch(context.Background(), make([]serving.Record, 2), make([]serving.Result, 2), errs)
	assert.ErrorIs(t, errs[0], serving.ErrNoModel)
	assert.ErrorIs(t, errs[1], serving.ErrNoModel)
}

// TestScoreBatchSamplesForValidation: records scored in batches (as the
// Kafka Source scores them) are sampled for validation like records
// scored one at a time, so a version that answers NaN on the stream's
// records is refused however the records were scored.
func TestScoreBatchSamplesForValidation(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), dot{w: []float64{1, 2}})))
	bs := s.Model("m").(serving.BatchScorer)
	rs := make([]serving.Record, 64)
	for i := range rs {
		rs[i] = serving.Record{Features: []float64{3, 4}}
	}
	out, errs := make([]serving.Result, len(rs)), make([]error, len(rs))
	for range 4 {
		bs.ScoreBatch(ctx, rs, out, errs)
		for _, err := range errs {
			require.NoError(t, err)
		}
	}
	_, err := s.ActivateModel(ctx, ref("m", 2), dot{w: []float64{1e308, -1e308}})
	require.ErrorIs(t, err, serving.ErrValidation)
	cur, _ := s.Current("m")
	assert.Equal(t, uint64(1), cur.Version)
}

// cancelMidBatch is a BatchPredictor whose PredictBatch sees its context
// cancelled while it runs (it calls cancel itself, as a caller's
// deadline would strike) and fails with the context's error, as an
// engine that checks ctx does. Its Predict ignores ctx and counts calls.
type cancelMidBatch struct {
	bsum
	cancel context.CancelFunc
}

func (m *cancelMidBatch) PredictBatch(ctx context.Context, _ [][]float64, _ []serving.Prediction) error {
	m.batches.Add(1)
	m.cancel()
	return ctx.Err()
}

// TestScoreBatchCancelledDuringPredictBatch: when PredictBatch fails
// because the context was cancelled, every record gets the context's
// error at once; predicting them one by one would spend the model's time
// on a call its caller has given up.
func TestScoreBatchCancelledDuringPredictBatch(t *testing.T) {
	m := &cancelMidBatch{}
	bs := batchServer(t, m)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m.cancel = cancel
	rs := make([]serving.Record, 16)
	for i := range rs {
		rs[i] = serving.Record{Features: []float64{float64(i), 1}}
	}
	rs[3].Features[1] = math.NaN() // refused before the model: keeps its own error
	out := make([]serving.Result, len(rs))
	errs := make([]error, len(rs))
	bs.ScoreBatch(ctx, rs, out, errs)
	assert.Equal(t, int64(1), m.batches.Load(), "one PredictBatch")
	assert.Zero(t, m.singles.Load(), "no per-record Predict after the context was cancelled")
	for i := range rs {
		var me *serving.ModelError
		require.ErrorAs(t, errs[i], &me, "record %d", i)
		if i == 3 {
			var nf *serving.NonFiniteError
			assert.ErrorAs(t, errs[i], &nf, "record 3")
			continue
		}
		assert.ErrorIs(t, errs[i], context.Canceled, "record %d", i)
		assert.Equal(t, serving.Result{Provenance: serving.Provenance{Model: serving.ModelRef{Name: "m", Version: 1}}}, out[i], "record %d", i)
	}
}
