package onnx_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/modelstream/modelstream/serving"
)

// The fixtures in testdata/ were written by the training tools themselves
// (make_torch.py, make_sklearn.py), with those tools' predictions for
// some rows.

type fixture struct {
	Rows       [][]float64 `json:"rows"`
	Outputs    [][]float64 `json:"outputs"`
	Labels     []string    `json:"labels"`
	Proba      [][]float64 `json:"proba"`
	Categories []string    `json:"categories"`
}

func readFixture(t testing.TB, name string) ([]byte, fixture) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".onnx"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx fixture
	if err := json.Unmarshal(j, &fx); err != nil {
		t.Fatal(err)
	}
	return b, fx
}

// near is the fixtures' tolerance: 1e-5, relative above 1.
func near(got, want float64) bool {
	return math.Abs(got-want) <= 1e-5*math.Max(1, math.Abs(want))
}

func nearAll(got, want []float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !near(got[i], want[i]) {
			return false
		}
	}
	return true
}

// scoreBoth scores every row one by one and in one batch, and checks the
// two agree exactly.
func scoreBoth(t *testing.T, m serving.Model, rows [][]float64) []serving.Prediction {
	t.Helper()
	batch := make([]serving.Prediction, len(rows))
	if err := m.(serving.BatchPredictor).PredictBatch(context.Background(), rows, batch); err != nil {
		t.Fatalf("PredictBatch: %v", err)
	}
	for i, x := range rows {
		p, err := m.Predict(context.Background(), x)
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if !reflect.DeepEqual(p, batch[i]) && !nearAll(p.Outputs(), batch[i].Outputs()) {
			t.Errorf("row %d: one by one %+v, batched %+v", i, p, batch[i])
		}
	}
	return batch
}

func TestRuntimeMatchesTorch(t *testing.T) {
	f := runtimeFormat(t)
	cases := []struct {
		name   string
		inputs []string // ModelInfo.Inputs names, nil for a positional model
	}{
		{"torch_mlp", nil},
		{"torch_cnn", nil},
		{"torch_gru", nil},
		{"torch_encoder", nil},
		{"torch_two_inputs", []string{"dense[0]", "dense[1]", "dense[2]", "token"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, fx := readFixture(t, c.name)
			m := loadRuntime(t, f, b)
			info := m.(serving.Describer).Describe()
			var names []string
			for _, in := range info.Inputs {
				names = append(names, in.Name)
			}
			if !slices.Equal(names, c.inputs) || info.Features != len(fx.Rows[0]) || info.Outputs != len(fx.Outputs[0]) {
				t.Errorf("Describe() = %+v, want inputs %v, %d features, %d outputs", info, c.inputs, len(fx.Rows[0]), len(fx.Outputs[0]))
			}
			for i, p := range scoreBoth(t, m, fx.Rows) {
				if !nearAll(p.Outputs(), fx.Outputs[i]) {
					t.Errorf("row %d: %v, torch says %v", i, p.Outputs(), fx.Outputs[i])
				}
			}
		})
	}
}

func TestRuntimeMatchesSklearnClassifiers(t *testing.T) {
	f := runtimeFormat(t)
	for _, name := range []string{"sklearn_random_forest", "sklearn_logistic", "sklearn_logistic_binary"} {
		t.Run(name, func(t *testing.T) {
			b, fx := readFixture(t, name)
			m := loadRuntime(t, f, b)
			if info := m.(serving.Describer).Describe(); info.Outputs != len(fx.Proba[0]) {
				t.Errorf("Describe() = %+v, want %d outputs", info, len(fx.Proba[0]))
			}
			for i, p := range scoreBoth(t, m, fx.Rows) {
				proba := fx.Proba[i]
				if p.Label != fx.Labels[i] || !nearAll(p.Values, proba) {
					t.Errorf("row %d: label %q, probabilities %v; sklearn says %q, %v", i, p.Label, p.Values, fx.Labels[i], proba)
					continue
				}
				best := slices.Index(proba, slices.Max(proba))
				if !near(p.Confidence, proba[best]) {
					t.Errorf("row %d: Confidence %v, want %v", i, p.Confidence, proba[best])
				}
				want := proba[best]
				if len(proba) == 2 {
					want = proba[1] // a binary classifier's Value is P(second class)
				}
				if !near(p.Value, want) {
					t.Errorf("row %d: Value %v, want %v", i, p.Value, want)
				}
			}
		})
	}
}

func TestRuntimeMatchesSklearnRegressor(t *testing.T) {
	b, fx := readFixture(t, "sklearn_gradient_boosting")
	m := loadRuntime(t, runtimeFormat(t), b)
	for i, p := range scoreBoth(t, m, fx.Rows) {
		if p.Values != nil || !near(p.Value, fx.Outputs[i][0]) {
			t.Errorf("row %d: %+v, sklearn says %v", i, p, fx.Outputs[i][0])
		}
	}
}

// TestRuntimeMixedInputs feeds a string input (by category code), a
// double and a bool, each a named input.
func TestRuntimeMixedInputs(t *testing.T) {
	b, fx := readFixture(t, "mixed_inputs")
	m := loadRuntime(t, runtimeFormat(t), b)
	want := []serving.Input{{Name: "color", Categories: fx.Categories}, {Name: "weight"}, {Name: "flag"}}
	if info := m.(serving.Describer).Describe(); !reflect.DeepEqual(info.Inputs, want) {
		t.Errorf("Inputs = %+v, want %+v", info.Inputs, want)
	}
	for i, p := range scoreBoth(t, m, fx.Rows) {
		if !near(p.Value, fx.Outputs[i][0]) {
			t.Errorf("row %d: %v, want %v", i, p.Value, fx.Outputs[i][0])
		}
	}
}
