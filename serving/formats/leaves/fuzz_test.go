package leaves_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/leaves"
)

// addSeeds adds the named files of leaves' testdata to f's corpus. The
// fuzz targets still run without them, from the inline seeds and the
// committed corpus under testdata/fuzz.
func addSeeds(f *testing.F, names ...string) {
	f.Helper()
	if dir, err := findLeavesTestdata(); err == nil {
		for _, n := range names {
			if b, err := os.ReadFile(filepath.Join(dir, n)); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte{})
	f.Add([]byte("\n\n"))
}

// fuzzLoad loads b as format and checks the contract: an error is a
// *serving.ModelError of kind ErrCorruptModel or ErrUnsupportedModel, and
// a model that loads predicts, on any input of the right length,
// without error or panic and in bounded time, and its compiled forest
// answers bit for bit what leaves answers.
func fuzzLoad(t *testing.T, format string, b []byte) {
	d := serving.Descriptor{Name: "fuzz", Format: format, Bytes: b}
	m, err := serving.Load(context.Background(), d)
	if err != nil {
		var le *serving.ModelError
		if !errors.As(err, &le) {
			t.Fatalf("error %T is not a *serving.ModelError: %v", err, err)
		}
		if len(b) == 0 && errors.Is(err, serving.ErrInvalidDescriptor) {
			return // serving.Load refuses a descriptor without bytes
		}
		if !errors.Is(err, serving.ErrCorruptModel) && !errors.Is(err, serving.ErrUnsupportedModel) {
			t.Fatalf("error is neither corrupt nor unsupported: %v", err)
		}
		return
	}
	n := m.(serving.Describer).Describe().Features
	if n < 1 {
		t.Fatalf("loaded a model with %d features", n)
	}
	if n > 1<<12 {
		return // valid but too wide to score cheaply in a fuzz loop
	}
	x := make([]float64, n)
	for _, v := range []float64{0, math.NaN(), -1, 1e300, math.Inf(1)} {
		for i := range x {
			x[i] = v
		}
		if _, err := m.Predict(context.Background(), x); err != nil {
			t.Fatalf("Predict(all %v): %v", v, err)
		}
	}
	// The compiled forest answers what leaves answers.
	if lm, ok := m.(*leaves.Model); ok {
		r := rand.New(rand.NewPCG(uint64(len(b)), 1))
		checkSame(t, lm, d, randomRows(r, lm, n, 20))
	}
}

// addLocalSeeds adds files of this module as seeds.
func addLocalSeeds(f *testing.F, paths ...string) {
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzLoadLightGBM feeds the same bytes to the "lightgbm" text and
// "lightgbm-json" decoders.
func FuzzLoadLightGBM(f *testing.F) {
	addSeeds(f, "model_simple.txt", "lg_rf_iris.model", "lg_dart_breast_cancer.model", "lg_1tree.json", "lg_1tree_1leaf.json")
	addLocalSeeds(f, "testdata/lightgbm4/small_tree.model.txt", "testdata/lightgbm4/binary_classification.model.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzLoad(t, "lightgbm", b)
		fuzzLoad(t, "lightgbm-json", b)
	})
}

// FuzzLoadXGBoost feeds bytes to the "xgboost" decoder.
func FuzzLoadXGBoost(f *testing.F) {
	addSeeds(f, "xgagaricus.model", "xgblin_agaricus.model", "xg_dart_agaricus.model", "xgdermatology.model")
	// XGBoost 1.x binaries ("binf") and a JSON model, from package xgboost's fixtures.
	addLocalSeeds(f, "../xgboost/testdata/binary_logistic.bin", "../xgboost/testdata/gblinear.bin",
		"../xgboost/testdata/dart.bin", "../xgboost/testdata/random_forest.bin", "../xgboost/testdata/gblinear.json")
	f.Fuzz(func(t *testing.T, b []byte) { fuzzLoad(t, "xgboost", b) })
}

// FuzzLoadSklearn feeds bytes to the "sklearn" decoder.
func FuzzLoadSklearn(f *testing.F) {
	addSeeds(f, "sk_gradient_boosting_classifier.model", "sk_iris.model")
	f.Fuzz(func(t *testing.T, b []byte) { fuzzLoad(t, "sklearn", b) })
}
