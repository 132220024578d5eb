package metrics_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/linear"
	"github.com/modelstream/modelstream/serving/metrics"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// seriesCount returns how many series m exports, all families together.
func seriesCount(t *testing.T, m prometheus.Collector) int {
	t.Helper()
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(m))
	fams, err := reg.Gather()
	require.NoError(t, err)
	n := 0
	for _, f := range fams {
		n += len(f.GetMetric())
	}
	return n
}

// TestJunkNamesFloodIsCapped: 5,000 junk model messages, each with a new
// name, used to create two series each (model_events_total{rejected} and
// model_load_failures_total): 10,000 series from one writer of the models
// topic. Names that never went live now get series up to
// MaxRejectedModels (100 by default); the rest are counted, without a
// model label, in model_events_untracked_total. A name that goes live
// afterwards still gets its series.
func TestJunkNamesFloodIsCapped(t *testing.T) {
	m := mustNew()
	srv, err := serving.NewServer(serving.WithHooks(m), serving.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	defer srv.Close()
	ctx := context.Background()
	const junk = 5000
	for i := range junk {
		_, err := srv.Activate(ctx, serving.Descriptor{Name: fmt.Sprintf("junk-%d", i), Version: 1, Format: linear.FormatName, Bytes: []byte("{not a model")})
		require.Error(t, err)
	}
	n := seriesCount(t, m)
	t.Logf("%d junk names: %d series", junk, n)
	require.LessOrEqual(t, n, 2*metrics.DefaultMaxRejectedModels+1)
	require.Equal(t, map[string]float64{"event=rejected,": junk - metrics.DefaultMaxRejectedModels}, gather(t, m, "modelstream_model_events_untracked_total"))

	// A real model after the flood has its own series.
	_, err = srv.Activate(ctx, linearDescriptor(t, 3))
	require.NoError(t, err)
	_, err = srv.Model("wine").Score(ctx, serving.Record{Features: []float64{1, 2, 3}})
	require.NoError(t, err)
	require.Equal(t, map[string]float64{"model=wine,": 1}, gather(t, m, "modelstream_active_version"))
	require.Equal(t, 1.0, gather(t, m, "modelstream_scores_total")["model=wine,status=ok,version=1,"])
}

// TestMaxModelsCapsLiveNames: past MaxModels names, even names that went
// live get no per-name event series; their events are counted as
// untracked.
func TestMaxModelsCapsLiveNames(t *testing.T) {
	m := mustNew(metrics.MaxModels(3), metrics.MaxRejectedModels(1))
	srv, err := serving.NewServer(serving.WithHooks(m), serving.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	defer srv.Close()
	ctx := context.Background()
	for i := range 5 {
		require.NoError(t, activate(srv.ActivateModel(ctx, serving.ModelRef{Name: fmt.Sprint("m", i), Version: 1}, &servingtest.Fake{})))
	}
	require.Len(t, gather(t, m, "modelstream_active_version"), 3)
	require.Equal(t, map[string]float64{"event=activated,": 2}, gather(t, m, "modelstream_model_events_untracked_total"))
}

// TestInvalidUTF8NameDoesNotPanic: a Prometheus label value must be valid
// UTF-8 and WithLabelValues panics otherwise, so one model message whose
// key is not UTF-8 crashed the process through the rejection hook. Such
// a name is now counted as untracked.
func TestInvalidUTF8NameDoesNotPanic(t *testing.T) {
	m := mustNew()
	srv, err := serving.NewServer(serving.WithHooks(m), serving.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	defer srv.Close()
	_, err = srv.Activate(context.Background(), serving.Descriptor{Name: "bad\xff", Version: 1, Format: linear.FormatName, Bytes: []byte("junk")})
	require.Error(t, err)
	require.NoError(t, activate(srv.ActivateModel(context.Background(), serving.ModelRef{Name: "live\xfe", Version: 1}, &servingtest.Fake{})))
	_, err = srv.Model("live\xfe").Score(context.Background(), serving.Record{})
	require.NoError(t, err)
	require.Equal(t, map[string]float64{"event=rejected,": 1, "event=activated,": 1}, gather(t, m, "modelstream_model_events_untracked_total"))
	require.Zero(t, seriesCount(t, m)-2) // only the two untracked counters
}

// TestRetiredVersionsAreBounded: every swap remembers the version it
// replaced, so that a late call on it records nothing; 10,000 swaps must
// not keep 10,000 of them.
func TestRetiredVersionsAreBounded(t *testing.T) {
	m := mustNew()
	for v := uint64(1); v <= 10000; v++ {
		m.OnModelEvent(serving.ModelEvent{Kind: serving.EventActivated, Model: serving.ModelRef{Name: "m", Version: v + 1}, Previous: serving.ModelRef{Name: "m", Version: v}})
	}
	require.LessOrEqual(t, metrics.Retired(m), metrics.MaxRetired)
}

func TestMaxModelsValidatedInNew(t *testing.T) {
	_, err := metrics.New(metrics.MaxModels(0))
	require.ErrorIs(t, err, serving.ErrConfig)
	_, err = metrics.New(metrics.MaxRejectedModels(-1))
	require.ErrorIs(t, err, serving.ErrConfig)
	_, err = metrics.New(metrics.MaxRejectedModels(0))
	require.NoError(t, err)
}
