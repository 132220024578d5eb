package leaves_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/leaves"
)

// lgb4 reads testdata/lightgbm4/<name>.<part>: text models saved by
// LightGBM 4.6.0, with LightGBM's own predictions (see
// testdata/README.md).
func lgb4(t *testing.T, name, part string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "lightgbm4", name+"."+part))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLightGBM4 loads the LightGBM 4.x text models (version=v4), and
// their JSON dumps where present, and compares leaves' raw scores and
// probabilities with LightGBM's predict(raw_score=True) and predict().
func TestLightGBM4(t *testing.T) {
	cases := []struct{ name, format, file string }{
		{"binary_classification", leaves.FormatLightGBMJSON, "model.json"},
		{"multiclass", leaves.FormatLightGBMJSON, "model.json"},
		{"regression_missing", leaves.FormatLightGBMJSON, "model.json"},
	}
	for _, name := range []string{"binary_classification", "multiclass", "regression", "regression_missing", "small_tree"} {
		cases = append(cases, struct{ name, format, file string }{name, leaves.FormatLightGBM, "model.txt"})
	}
	for _, tc := range cases {
		name := tc.name
		t.Run(name+"/"+tc.format, func(t *testing.T) {
			model := lgb4(t, name, tc.file)
			if !strings.Contains(string(model), "\nversion=v4\n") && !strings.Contains(string(model), `"version":"v4"`) {
				t.Fatal("not a v4 model")
			}
			var in struct {
				Data [][]*float64 `json:"data"`
			}
			var want struct {
				Raw   json.RawMessage `json:"raw"`
				Proba json.RawMessage `json:"proba"`
			}
			if err := json.Unmarshal(lgb4(t, name, "input.json"), &in); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(lgb4(t, name, "expected.json"), &want); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				labels map[string]string
				want   json.RawMessage
			}{{map[string]string{leaves.LabelTransform: "raw"}, want.Raw}, {nil, want.Proba}} {
				if c.want == nil {
					continue // a regression model has raw scores only
				}
				exp := lgbRows(t, c.want)
				m, err := serving.Load(context.Background(), serving.Descriptor{Name: name, Format: tc.format, Bytes: model, Labels: c.labels})
				if err != nil {
					t.Fatal(err)
				}
				if in := m.(serving.Describer).Describe().Inputs; len(in) == 0 || in[0].Name != "Column_0" {
					t.Fatalf("inputs %+v", in)
				}
				if len(exp) != len(in.Data) || len(exp) == 0 {
					t.Fatalf("%d expected rows for %d inputs", len(exp), len(in.Data))
				}
				for i, row := range in.Data {
					x := make([]float64, len(row))
					for j, v := range row {
						x[j] = math.NaN()
						if v != nil {
							x[j] = *v
						}
					}
					p, err := m.Predict(context.Background(), x)
					if err != nil {
						t.Fatal(err)
					}
					got := []float64{p.Value}
					if len(exp[i]) > 1 {
						got = p.Values
					}
					if len(got) != len(exp[i]) {
						t.Fatalf("row %d: %d outputs, want %d", i, len(got), len(exp[i]))
					}
					for k := range got {
						if relErr(got[k], exp[i][k]) > 1e-9 {
							t.Fatalf("row %d output %d: got %v, want %v", i, k, got[k], exp[i][k])
						}
					}
				}
			}
		})
	}
}

// lgbRows reads predictions written as one number or one array per row.
func lgbRows(t *testing.T, raw json.RawMessage) [][]float64 {
	t.Helper()
	var flat []float64
	if json.Unmarshal(raw, &flat) == nil {
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
	return rows
}

// TestLightGBM4Refusals checks the LightGBM text models leaves cannot
// serve: linear trees (leaves would drop their leaf models and answer
// wrong scores), and versions it does not know.
func TestLightGBM4Refusals(t *testing.T) {
	load := func(b []byte) error {
		_, err := serving.Load(context.Background(), serving.Descriptor{Name: "m", Format: leaves.FormatLightGBM, Bytes: b})
		return err
	}
	err := load(lgb4(t, "linear_tree", "model.txt"))
	wantLoadError(t, err, serving.ErrUnsupportedModel)
	if !strings.Contains(err.Error(), "linear trees") {
		t.Errorf("error does not name linear trees: %v", err)
	}
	_, err = serving.Load(context.Background(), serving.Descriptor{Name: "m", Format: leaves.FormatLightGBMJSON, Bytes: lgb4(t, "linear_tree", "model.json")})
	wantLoadError(t, err, serving.ErrUnsupportedModel)
	if !strings.Contains(err.Error(), "linear trees") {
		t.Errorf("error does not name linear trees: %v", err)
	}
	dump := string(lgb4(t, "regression_missing", "model.json"))
	_, err = serving.Load(context.Background(), serving.Descriptor{Name: "m", Format: leaves.FormatLightGBMJSON, Bytes: []byte(strings.Replace(dump, `"version":"v4"`, `"version":"v9"`, 1))})
	wantLoadError(t, err, serving.ErrUnsupportedModel)
	model := string(lgb4(t, "regression", "model.txt"))
	wantLoadError(t, load([]byte(strings.Replace(model, "version=v4", "version=v5", 1))), serving.ErrUnsupportedModel)
	wantLoadError(t, load([]byte(strings.Replace(model, "version=v4\n", "", 1))), serving.ErrCorruptModel)
}

// TestLightGBMInputs checks that a LightGBM model names its inputs from
// feature_names, with pandas categories on its categorical features.
func TestLightGBMInputs(t *testing.T) {
	model := string(lgb4(t, "binary_classification", "model.txt"))
	describe := func(text string) (serving.ModelInfo, error) {
		m, err := serving.Load(context.Background(), serving.Descriptor{Name: "m", Format: leaves.FormatLightGBM, Bytes: []byte(text)})
		if err != nil {
			return serving.ModelInfo{}, err
		}
		return m.(serving.Describer).Describe(), nil
	}
	info, err := describe(model)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Inputs) != 10 || info.Inputs[0].Name != "Column_0" || info.Inputs[9].Name != "Column_9" || info.Inputs[3].Categories != nil {
		t.Fatalf("inputs %+v", info.Inputs)
	}
	// Feature 3 and 7 as pandas categoricals (the trees do not split on
	// them as categories; the names and categories are what is checked).
	cats := strings.Replace(model, "[categorical_feature: ]", "[categorical_feature: 7,3]", 1)
	cats = strings.Replace(cats, "pandas_categorical:null", `pandas_categorical:[["a","b"],[1,2.5,"z"]]`, 1)
	info, err = describe(cats)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(info.Inputs[3].Categories, []string{"a", "b"}) || !slices.Equal(info.Inputs[7].Categories, []string{"1", "2.5", "z"}) {
		t.Fatalf("categories: 3 %q, 7 %q", info.Inputs[3].Categories, info.Inputs[7].Categories)
	}
	// As many pandas columns as categorical features, or none attached.
	one := strings.Replace(cats, "[categorical_feature: 7,3]", "[categorical_feature: 3]", 1)
	if info, err = describe(one); err != nil || info.Inputs[3].Categories != nil {
		t.Fatalf("mismatched categorical count: %v %+v", err, info.Inputs)
	}
	for name, bad := range map[string]string{
		"repeated name": strings.Replace(model, "Column_1 ", "Column_0 ", 1),
		"short names":   strings.Replace(model, " Column_9\n", "\n", 1),
		"bad pandas":    strings.Replace(model, "pandas_categorical:null", "pandas_categorical:[[", 1),
	} {
		_, err := describe(bad)
		var fe *serving.FormatError
		if !errors.Is(err, serving.ErrCorruptModel) || !errors.As(err, &fe) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestLightGBMJSONInputCategories: a JSON dump lists its pandas
// categories on its categorical features too, which the dump marks by
// the category values in their feature_infos (as LightGBM's DumpModel
// writes them), as the package documentation says of both formats.
func TestLightGBMJSONInputCategories(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(lgb4(t, "binary_classification", "model.json"), &doc); err != nil {
		t.Fatal(err)
	}
	infos := doc["feature_infos"].(map[string]any)
	infos["Column_3"] = map[string]any{"min_value": 0, "max_value": 1, "values": []int{0, 1}}
	infos["Column_7"] = map[string]any{"min_value": 0, "max_value": 2, "values": []int{2, 0, 1}}
	doc["pandas_categorical"] = []any{[]any{"a", "b"}, []any{1, 2.5, "z"}}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	m, err := serving.Load(context.Background(), serving.Descriptor{Name: "m", Format: leaves.FormatLightGBMJSON, Bytes: b})
	if err != nil {
		t.Fatal(err)
	}
	in := m.(serving.Describer).Describe().Inputs
	if len(in) != 10 || !slices.Equal(in[3].Categories, []string{"a", "b"}) || !slices.Equal(in[7].Categories, []string{"1", "2.5", "z"}) || in[0].Categories != nil {
		t.Fatalf("inputs %+v", in)
	}
}
