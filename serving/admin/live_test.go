package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/admin"
	"github.com/modelstream/modelstream/serving/quality"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/speculative/canary"
)

// /models shows each model's live quality and rollouts; /quality and
// /rollouts show them all.
func TestLiveQualityAndRollouts(t *testing.T) {
	tr, err := quality.NewTracker(8)
	require.NoError(t, err)
	named := func(v uint64) serving.Scorer {
		ref := serving.ModelRef{Name: "m", Version: v}
		return canaryScorer{ref}
	}
	c, err := canary.New(named(1), named(2), canary.Name("m-rollout"), canary.Seed(1))
	require.NoError(t, err)
	f := newFixture(t, admin.Quality(tr), admin.Rollouts(c))
	ctx := context.Background()
	_, err = f.srv.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("m", 1))
	require.NoError(t, err)
	_, err = f.srv.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("other", 1))
	require.NoError(t, err)
	m, _ := tr.Meter(quality.Key{Model: "m", Version: 1, Variant: canary.Champion})
	m.ObserveBinary(0.8, true)
	m.ObserveBinary(0.3, false)

	code, body := f.get(t, "/models/m")
	require.Equal(t, http.StatusOK, code)
	var ms admin.ModelStatus
	require.NoError(t, json.Unmarshal([]byte(body), &ms))
	require.Len(t, ms.Quality, 1)
	assert.Equal(t, uint64(2), ms.Quality[0].Accuracy.N)
	assert.Equal(t, 1.0, ms.Quality[0].AUC.Value)
	require.Len(t, ms.Rollouts, 1)
	assert.Equal(t, "m-rollout", ms.Rollouts[0].Name)
	assert.Equal(t, 0.01, ms.Rollouts[0].Share)
	assert.Equal(t, "rollout started", ms.Rollouts[0].Decisions[0].Reason)

	code, body = f.get(t, "/models/other")
	require.Equal(t, http.StatusOK, code)
	assert.NotContains(t, body, `"quality"`)
	assert.NotContains(t, body, `"rollouts"`)

	code, body = f.get(t, "/quality")
	require.Equal(t, http.StatusOK, code)
	var qs []quality.Series
	require.NoError(t, json.Unmarshal([]byte(body), &qs))
	assert.Len(t, qs, 1)
	code, body = f.get(t, "/rollouts")
	require.Equal(t, http.StatusOK, code)
	var rs []canary.Status
	require.NoError(t, json.Unmarshal([]byte(body), &rs))
	assert.Len(t, rs, 1)
	assert.Equal(t, uint64(2), rs[0].Candidate.Version)

	// Without the options, the endpoints do not exist.
	plain := newFixture(t)
	code, _ = plain.get(t, "/rollouts")
	assert.Equal(t, http.StatusNotFound, code)
}

type canaryScorer struct{ ref serving.ModelRef }

func (s canaryScorer) Score(context.Context, serving.Record) (serving.Result, error) {
	return serving.Result{Provenance: serving.Provenance{Model: s.ref}}, nil
}

func (s canaryScorer) Ref() serving.ModelRef { return s.ref }
