package xgboost_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/xgboost"
)

// fuzzLoad loads b as format: it must either fail with a typed error or
// give a model that predicts, terminating, on a few inputs.
func fuzzLoad(t *testing.T, format string, b []byte) {
	m, err := serving.Load(context.Background(), serving.Descriptor{Name: "fuzz", Format: format, Bytes: b})
	if err != nil {
		var fe *serving.FormatError
		if !errors.As(err, &fe) && !errors.Is(err, serving.ErrInvalidDescriptor) {
			t.Fatalf("untyped error: %v", err)
		}
		return
	}
	info := m.(serving.Describer).Describe()
	if info.Features < 1 || info.Features > 1<<16 {
		return // a valid model too wide to feed here
	}
	for _, v := range []float64{0, 1, -1, 3, math.NaN(), math.Inf(-1)} {
		x := make([]float64, info.Features)
		for i := range x {
			x[i] = v
		}
		p, err := m.Predict(context.Background(), x)
		if err != nil {
			t.Fatal(err)
		}
		if info.Outputs > 1 && len(p.Values) != info.Outputs {
			t.Fatalf("%d values for %d outputs", len(p.Values), info.Outputs)
		}
	}
}

func addFixtures(f *testing.F, ext string) {
	for _, name := range []string{"binary_logistic", "multi_softprob", "dart", "categorical", "gblinear", "rf_multi", "rank_ndcg"} {
		f.Add(readModel(f, name, ext))
	}
}

// FuzzLoadJSON fuzzes the JSON loader, seeded with the fixtures.
func FuzzLoadJSON(f *testing.F) {
	addFixtures(f, "json")
	f.Add([]byte(`{"learner":{"learner_model_param":{"num_feature":"1"},"objective":{"name":"reg:squarederror"},"gradient_booster":{"name":"gblinear","model":{"weights":[1,NaN]}}}}`))
	f.Fuzz(func(t *testing.T, b []byte) { fuzzLoad(t, xgboost.FormatJSON, b) })
}

// FuzzLoadUBJ fuzzes the UBJSON loader, seeded with the fixtures.
func FuzzLoadUBJ(f *testing.F) {
	addFixtures(f, "ubj")
	f.Fuzz(func(t *testing.T, b []byte) { fuzzLoad(t, xgboost.FormatUBJSON, b) })
}
