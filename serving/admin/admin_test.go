package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/admin"
	"github.com/modelstream/modelstream/serving/metrics"
	"github.com/modelstream/modelstream/serving/servingtest"
)

type fixture struct {
	srv *serving.Server
	m   *metrics.Metrics
	ts  *httptest.Server
}

func newFixture(t *testing.T, opts ...admin.Option) *fixture {
	t.Helper()
	m, err := metrics.New()
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	srv, err := serving.NewServer(serving.WithHooks(m), serving.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	opts = append(opts, admin.Metrics(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	h, err := admin.New(srv, opts...)
	require.NoError(t, err)
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return &fixture{srv: srv, m: m, ts: ts}
}

func (f *fixture) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(f.ts.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// scrape parses /metrics and returns the value of one sample.
func (f *fixture) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	code, body := f.get(t, "/metrics")
	require.Equal(t, http.StatusOK, code)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	require.NoError(t, err)
	out := map[string]float64{}
	for name, fam := range fams {
		for _, m := range fam.GetMetric() {
			key := name
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[key+",count"] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

func TestReadyzFollowsModelLoad(t *testing.T) {
	f := newFixture(t)
	code, body := f.get(t, "/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "no model loaded")
	code, _ = f.get(t, "/healthz")
	assert.Equal(t, http.StatusOK, code, "alive even when not ready")

	_, err := f.srv.Activate(context.Background(), servingtest.Spec{Value: 1}.Descriptor("m", 1))
	require.NoError(t, err)
	code, _ = f.get(t, "/readyz")
	assert.Equal(t, http.StatusOK, code)
}

func TestReadyzRequiredModelsAndChecks(t *testing.T) {
	joined := errors.New("consumer group not joined")
	f := newFixture(t, admin.RequireModels("a", "b"), admin.Ready("kafka", func() error { return joined }))
	_, err := f.srv.Activate(context.Background(), servingtest.Spec{}.Descriptor("a", 1))
	require.NoError(t, err)
	code, body := f.get(t, "/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "no live version of b")
	assert.Contains(t, body, "kafka: consumer group not joined")

	_, err = f.srv.Activate(context.Background(), servingtest.Spec{}.Descriptor("b", 1))
	require.NoError(t, err)
	joined = nil
	code, _ = f.get(t, "/readyz")
	assert.Equal(t, http.StatusOK, code)
}

// TestMetricsCountersExact scores a known number of records, with known
// failures, and checks the scraped counters match exactly.
func TestMetricsCountersExact(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.srv.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("m", 1))
	require.NoError(t, err)
	sc := f.srv.Model("m")
	for i := 0; i < 137; i++ {
		_, err := sc.Score(ctx, serving.Record{})
		require.NoError(t, err)
	}
	_, err = f.srv.Activate(ctx, servingtest.Spec{Value: 2, Features: 2}.Descriptor("m", 2))
	require.NoError(t, err)
	for i := 0; i < 50; i++ {
		_, err := sc.Score(ctx, serving.Record{Features: []float64{1, 2}})
		require.NoError(t, err)
	}
	for i := 0; i < 3; i++ {
		_, err := sc.Score(ctx, serving.Record{Features: []float64{1}})
		require.ErrorIs(t, err, serving.ErrFeatureCount)
	}
	_, err = f.srv.Activate(ctx, serving.Descriptor{Name: "m", Version: 3, Format: "fake", Bytes: []byte("garbage")})
	require.Error(t, err)
	f.m.OnDeadLetter("data", 0, 5, errors.New("bad json"))
	f.m.OnDeadLetter("data", 1, 9, errors.New("bad json"))
	f.m.OnCommit("data", 0, 10)
	f.m.OnLag("data", 3, 42)
	f.m.OnDecision("budget", &serving.Decision{Combinator: "budget", Winner: 0, Candidates: []serving.Candidate{
		{Model: serving.ModelRef{Name: "fast"}, Status: serving.StatusOK},
		{Model: serving.ModelRef{Name: "slow"}, Status: serving.StatusLate},
	}}, time.Millisecond)

	got := f.scrape(t)
	assert.Equal(t, 50.0, got["modelstream_scores_total,model=m,status=ok,version=2"])
	assert.Equal(t, 3.0, got["modelstream_scores_total,model=m,status=error,version=2"])
	assert.Equal(t, 53.0, got["modelstream_score_duration_seconds,model=m,version=2,count"])
	_, stale := got["modelstream_scores_total,model=m,status=ok,version=1"]
	assert.False(t, stale, "series of a replaced version are dropped")
	assert.Equal(t, 2.0, got["modelstream_active_version,model=m"])
	assert.Equal(t, 2.0, got["modelstream_model_swaps_total,model=m"])
	assert.Equal(t, 1.0, got["modelstream_model_load_failures_total,model=m"])
	assert.Equal(t, 2.0, got["modelstream_dead_letters_total,topic=data"])
	assert.Equal(t, 1.0, got["modelstream_commits_total,partition=0,topic=data"])
	assert.Equal(t, 42.0, got["modelstream_consumer_lag,partition=3,topic=data"])
	assert.Equal(t, 1.0, got["modelstream_decision_wins_total,combinator=budget,model=fast"])
	assert.Equal(t, 1.0, got["modelstream_decision_late_total,combinator=budget,model=slow"])
}

func TestModelsAndHistoryJSON(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for v := uint64(1); v <= 3; v++ {
		_, err := f.srv.Activate(ctx, servingtest.Spec{}.Descriptor("m", v))
		require.NoError(t, err)
	}
	_, err := f.srv.Model("m").Score(ctx, serving.Record{})
	require.NoError(t, err)

	code, body := f.get(t, "/models")
	require.Equal(t, http.StatusOK, code)
	var models []admin.ModelStatus
	require.NoError(t, json.Unmarshal([]byte(body), &models))
	require.Len(t, models, 1)
	assert.Equal(t, uint64(3), models[0].Model.Version)
	assert.EqualValues(t, 1, models[0].Stats.Invocations)
	assert.Zero(t, models[0].Rejected)
	assert.Empty(t, models[0].LastRejection)

	// A refused version shows beside the live one: how many, and why
	// the last was refused. No test read Rejected or LastRejection.
	_, err = f.srv.Activate(ctx, serving.Descriptor{Name: "m", Version: 4, Format: "no-such-format", Bytes: []byte("x")})
	require.ErrorIs(t, err, serving.ErrUnknownFormat)
	_, body = f.get(t, "/models")
	models = nil
	require.NoError(t, json.Unmarshal([]byte(body), &models))
	require.Len(t, models, 1)
	assert.Equal(t, uint64(3), models[0].Model.Version, "the refused v4 did not replace v3")
	assert.EqualValues(t, 1, models[0].Rejected)
	assert.Contains(t, models[0].LastRejection, "no-such-format")

	code, body = f.get(t, "/models/m/history")
	require.Equal(t, http.StatusOK, code)
	var hist []serving.Activation
	require.NoError(t, json.Unmarshal([]byte(body), &hist))
	require.Len(t, hist, 3)
	assert.Equal(t, serving.EventActivated, hist[2].Kind)
	assert.Contains(t, body, `"kind": "activated"`)
	assert.Equal(t, uint64(3), hist[2].Model.Version)

	code, _ = f.get(t, "/models/nope")
	assert.Equal(t, http.StatusNotFound, code)
}

func TestNewValidates(t *testing.T) {
	_, err := admin.New(nil)
	assert.Error(t, err)
	srv, _ := serving.NewServer()
	_, err = admin.New(srv, admin.Ready("x", nil))
	assert.ErrorContains(t, err, `readiness check "x" is nil`)
	assert.ErrorIs(t, err, serving.ErrConfig)
	// A nil option panicked, and Metrics(nil) mounted nothing at
	// /metrics without a word.
	assert.NotPanics(t, func() {
		_, err = admin.New(srv, nil)
		assert.ErrorIs(t, err, serving.ErrConfig, "nil option")
	})
	_, err = admin.New(srv, admin.Metrics(nil))
	assert.ErrorIs(t, err, serving.ErrConfig, "Metrics(nil)")
}
