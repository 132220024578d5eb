package xgboost_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/xgboost"
)

// TestXGBoost3Models checks the models that XGBoost 3.1.2 saved as JSON
// for the boosters project (see testdata/README.md), with XGBoost's own
// predictions: 3.x writes base_score as a vector, size_leaf_vector 1,
// and category encoders beside the trees.
func TestXGBoost3Models(t *testing.T) {
	models, err := filepath.Glob(filepath.Join("testdata", "xgboost3", "*.model.json"))
	if err != nil || len(models) < 16 {
		t.Fatalf("found %d XGBoost 3 models: %v", len(models), err)
	}
	for _, path := range models {
		name := strings.TrimSuffix(filepath.Base(path), ".model.json")
		t.Run(name, func(t *testing.T) {
			var in struct {
				Features [][]*float64 `json:"features"`
			}
			var want struct {
				Margin      json.RawMessage `json:"predictions"`
				Transformed json.RawMessage `json:"predictions_transformed"`
				Objective   string          `json:"objective"`
			}
			readJSON(t, strings.TrimSuffix(path, ".model.json")+".input.json", &in)
			readJSON(t, strings.TrimSuffix(path, ".model.json")+".expected.json", &want)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			rows := (&expected{Inputs: in.Features}).rows()
			for _, margin := range []bool{false, true} {
				raw, labels := want.Transformed, map[string]string(nil)
				if margin {
					raw, labels = want.Margin, map[string]string{xgboost.LabelOutput: "margin"}
				}
				exp := outputs(t, raw)
				if len(exp) != len(rows) {
					t.Fatalf("%d expected rows for %d inputs", len(exp), len(rows))
				}
				m := loadAs(t, xgboost.FormatJSON, b, labels)
				if m.(serving.Describer).Describe().Outputs > 1 && len(exp[0]) == 1 {
					t.Fatal("a multi-output model with one expected output per row")
				}
				for i, r := range rows {
					p, err := m.Predict(context.Background(), r)
					if err != nil {
						t.Fatal(err)
					}
					checkPrediction(t, want.Objective, margin, p, exp[i])
				}
			}
		})
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// outputs reads predictions written as one number or one array per row.
func outputs(t *testing.T, raw json.RawMessage) [][]float64 {
	t.Helper()
	var flat []float64
	if err := json.Unmarshal(raw, &flat); err == nil {
		out := make([][]float64, len(flat))
		for i, v := range flat {
			out[i] = []float64{v}
		}
		return out
	}
	var rows [][]float64
	if err := json.Unmarshal(raw, &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		for _, v := range r {
			if math.IsNaN(v) {
				t.Fatal("NaN in expected predictions")
			}
		}
	}
	return rows
}
