package metrics_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/linear"
	"github.com/modelstream/modelstream/serving/metrics"
)

func linearDescriptor(b testing.TB, features int) serving.Descriptor {
	doc := linear.Document{Kind: linear.KindLinear, Features: features, Weights: [][]float64{make([]float64, features)}, Bias: []float64{0.5},
		Mean: make([]float64, features), Scale: make([]float64, features)}
	for j := range features {
		doc.Weights[0][j] = float64(j) * 0.1
		doc.Scale[j] = 1
	}
	by, err := doc.Marshal()
	require.NoError(b, err)
	return serving.Descriptor{Name: "wine", Version: 1, Format: linear.FormatName, Bytes: by}
}

// BenchmarkServerHooks measures the cost of the Prometheus hooks on the
// scoring path: the same Server and linear model (11 features) with and
// without metrics, in one run.
func BenchmarkServerHooks(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		opts := []serving.Option{serving.WithLogger(slog.New(slog.DiscardHandler))}
		if on {
			name = "on"
			m := metrics.New()
			prometheus.NewRegistry().MustRegister(m)
			opts = append(opts, serving.WithHooks(m))
		}
		b.Run("prometheus="+name, func(b *testing.B) {
			srv, err := serving.NewServer(opts...)
			require.NoError(b, err)
			defer srv.Close()
			_, err = srv.Activate(context.Background(), linearDescriptor(b, 11))
			require.NoError(b, err)
			sc := srv.Model("wine")
			rec := serving.Record{Features: []float64{7.4, 0.7, 0, 1.9, 0.076, 11, 34, 0.9978, 3.51, 0.56, 9.4}}
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := sc.Score(ctx, rec); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func TestScoredSeriesPerVersion(t *testing.T) {
	m := metrics.New()
	srv, err := serving.NewServer(serving.WithHooks(m), serving.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	ctx := context.Background()
	_, err = srv.Activate(ctx, linearDescriptor(t, 3))
	require.NoError(t, err)
	for i := 0; i < 7; i++ {
		_, err := srv.Model("wine").Score(ctx, serving.Record{Features: []float64{1, 2, 3}})
		require.NoError(t, err)
	}
	require.Equal(t, 7.0, testutil.ToFloat64(prometheusCounter(t, m, "modelstream_scores_total")))
}

// prometheusCounter sums every sample of the named family.
func prometheusCounter(t *testing.T, c prometheus.Collector, name string) prometheus.Collector {
	t.Helper()
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(c))
	fams, err := reg.Gather()
	require.NoError(t, err)
	var sum float64
	for _, f := range fams {
		if f.GetName() == name {
			for _, mm := range f.GetMetric() {
				sum += mm.GetCounter().GetValue()
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "sum"})
	g.Set(sum)
	return g
}

func Example() {
	m := metrics.New()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	srv, _ := serving.NewServer(serving.WithHooks(m), serving.WithLogger(slog.New(slog.DiscardHandler)))
	defer srv.Close()

	doc := linear.Document{Kind: linear.KindLinear, Features: 1, Weights: [][]float64{{2}}, Bias: []float64{0}}
	b, _ := doc.Marshal()
	srv.Activate(context.Background(), serving.Descriptor{Name: "m", Version: 4, Format: "linear", Bytes: b})
	srv.Model("m").Score(context.Background(), serving.Record{Features: []float64{1}})

	fams, _ := reg.Gather()
	for _, f := range fams {
		switch f.GetName() {
		case "modelstream_active_version":
			fmt.Println(f.GetName(), f.GetMetric()[0].GetGauge().GetValue())
		case "modelstream_scores_total":
			for _, mm := range f.GetMetric() {
				fmt.Println(f.GetName(), mm.GetLabel()[1].GetValue(), mm.GetCounter().GetValue())
			}
		}
	}
	// Output:
	// modelstream_active_version 4
	// modelstream_scores_total error 0
	// modelstream_scores_total ok 1
}
