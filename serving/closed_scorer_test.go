package serving_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// TestScorerTakenBeforeCloseSaysClosed: Close's doc says later calls
// fail with ErrClosed. A Scorer taken before Close, as a Kafka Source
// holds one, answered ErrNoModel, as if the name had been retired, so
// only a Scorer taken after Close said the Server was closed.
func TestScorerTakenBeforeCloseSaysClosed(t *testing.T) {
	ctx := context.Background()
	s := newServer(t)
	require.NoError(t, activate(s.ActivateModel(ctx, ref("m", 1), &servingtest.Fake{})))
	held := s.Model("m")
	never := s.Model("never-live")
	require.NoError(t, s.Close())
	for name, sc := range map[string]serving.Scorer{"m": held, "never-live": never} {
		_, err := sc.Score(ctx, serving.Record{Features: []float64{1}})
		assert.ErrorIs(t, err, serving.ErrClosed, "Score on %s", name)
		bs, ok := sc.(serving.BatchScorer)
		require.True(t, ok)
		out, errs := make([]serving.Result, 2), make([]error, 2)
		bs.ScoreBatch(ctx, []serving.Record{{Features: []float64{1}}, {Features: []float64{2}}}, out, errs)
		for i, err := range errs {
			assert.ErrorIs(t, err, serving.ErrClosed, "ScoreBatch on %s, record %d", name, i)
		}
	}
}
