package pmml_test

import (
	"context"
	"encoding/csv"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/pmml"
)

// readCSV reads a CSV file of testdata/sklearn-pmml-model.
func readCSV(t *testing.T, name string) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "sklearn-pmml-model", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// inputRows reads a CSV with a header into records by field name,
// dropping the column named skip (the label).
func inputRows(t *testing.T, name, skip string) []map[string]any {
	t.Helper()
	recs := readCSV(t, name)
	var out []map[string]any
	for _, rec := range recs[1:] {
		m := map[string]any{}
		for i, h := range recs[0] {
			if h == skip {
				continue
			}
			if x, err := strconv.ParseFloat(rec[i], 64); err == nil {
				m[h] = x
			} else {
				m[h] = rec[i]
			}
		}
		out = append(out, m)
	}
	return out
}

// printedTol is the rounding of a number printed as s: half a unit of
// its last digit.
func printedTol(s string) float64 {
	exp := 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		exp, _ = strconv.Atoi(s[i+1:])
		s = s[:i]
	}
	dec := 0
	if i := strings.IndexByte(s, '.'); i >= 0 {
		dec = len(s) - i - 1
	}
	return 0.5 * math.Pow(10, float64(exp-dec))
}

// TestPublicFixtures scores the model files of sklearn-pmml-model
// (exported by JPMML-R, Rattle/PMML and the SoftwareAG PMML generator)
// on the inputs its tests use, and compares with the per-record
// references those tests record. The references are printed with a
// limited number of digits, so each value must match to within the
// rounding of its last printed digit (or 1e-9 relative, whichever is
// larger).
func TestPublicFixtures(t *testing.T) {
	cases := []struct {
		model, kind, data string
	}{
		{"tree-cat-pima", "proba", "pima"},
		{"tree-cat-pima-regression", "predict", "pima"},
		{"rf-cat-pima-regression", "predict", "pima"},
		{"gb-gbm-cat-pima", "proba", "pima"},
		{"gb-gbm-cat-pima-regression", "predict", "pima"},
		{"linear-model-lm", "predict", "pima"},
		{"linear-model-lmc", "proba", "pima"},
		{"linear-model-glm", "predict", "pima"},
		{"linear-model-ridge", "predict", "pima"},
		{"linear-model-ridgec", "predict", "pima"},
		{"linear-model-lasso", "predict", "pima"},
		{"gb-xgboost-iris", "proba", "iris"},
		{"nn-iris", "proba", "iris"},
		{"nn-iris", "predict", "iris"},
	}
	pima := inputRows(t, "categorical-test.csv", "type")
	// Some models read the age bands one-hot, as the source's tests feed
	// them (pandas get_dummies): add those fields; a model ignores the
	// fields it does not read.
	for _, rec := range pima {
		for _, band := range []string{"(20,30]", "(30,40]", "(40,50]", "(50,60]", "(60,70]"} {
			rec["age"+band] = b2f(rec["age"] == band)
		}
	}
	iris := inputRows(t, "iris.csv", "")
	for _, rec := range iris { // the names gb-xgboost-iris reads
		for _, n := range []string{"sepal length", "sepal width", "petal length", "petal width"} {
			rec[strings.ReplaceAll(n, " ", "_")] = rec[n+" (cm)"]
		}
	}
	for _, c := range cases {
		t.Run(c.model+"/"+c.kind, func(t *testing.T) {
			m := loadFile(t, filepath.Join("sklearn-pmml-model", c.model+".pmml"))
			rows := pima
			if c.data == "iris" {
				rows = iris
			}
			want := readCSV(t, c.model+"."+c.kind+".csv")
			if len(want) != len(rows) {
				t.Fatalf("%d references for %d rows", len(want), len(rows))
			}
			worst := 0.0
			for i, rec := range rows {
				p, err := m.Predict(context.Background(), vec(t, m, rec))
				if err != nil {
					t.Fatalf("row %d: %v", i, err)
				}
				got := []float64{p.Value}
				if c.kind == "proba" {
					got = p.Values
				}
				if len(want[i]) != len(got) {
					t.Fatalf("row %d: %d references, %d outputs", i, len(want[i]), len(got))
				}
				for j, ws := range want[i] {
					w, err := strconv.ParseFloat(ws, 64)
					if err != nil {
						if p.Label != ws {
							t.Errorf("row %d: label %q, reference %q", i, p.Label, ws)
						}
						continue
					}
					tol := math.Max(printedTol(ws), 1e-9*math.Abs(w))
					d := math.Abs(got[j] - w)
					worst = math.Max(worst, d/tol)
					if d > tol {
						t.Errorf("row %d output %d: %v, reference %s", i, j, got[j], ws)
					}
				}
			}
			t.Logf("%d rows; largest error %.2g of the tolerance", len(rows), worst)
		})
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// TestPublicLoads loads every committed document: each must compile, or be
// refused as unsupported for the reason listed here, and each that
// compiles must score the first row of its data (or a row of zeros)
// without error.
func TestPublicLoads(t *testing.T) {
	refused := map[string]string{
		"pmml4s/dmg_general_cox.xml":                           "CoxRegression",
		"pmml4s/dmg_general_cox_strata.xml":                    "CoxRegression",
		"pmml4s/dmg_general_multinomial_contrast_matrix.xml":   "contrast matrix",
		"pmml4s/dmg_model_selection_mining.xml":                "without Segmentation",
		"pmml4s/dmg_model_sequencing_mining.xml":               "without Segmentation",
		"pmml4s/dmg_weighted_average_mining.xml":               "names none",
		"pmml4s/dmg_weighted_majority_vote_mining.xml":         "VariableWeight",
		"pmml4s/dmg_weighted_majority_vote_mining_revised.xml": "VariableWeight",
	}
	files, _ := filepath.Glob("testdata/*/*.*ml")
	if len(files) < 40 {
		t.Fatalf("only %d documents", len(files))
	}
	for _, f := range files {
		rel := strings.TrimPrefix(filepath.ToSlash(f), "testdata/")
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := pmml.Parse(b)
		if why, ok := refused[rel]; ok {
			if !errors.Is(err, serving.ErrUnsupportedModel) || !strings.Contains(err.Error(), why) {
				t.Errorf("%s: %v, want unsupported (%s)", rel, err, why)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		in := m.Describe().Inputs
		x := make([]float64, len(in))
		if _, err := m.Predict(context.Background(), x); err != nil && !errors.Is(err, serving.ErrFieldType) && !errors.Is(err, pmml.ErrNoResult) {
			t.Errorf("%s: zeros: %v", rel, err)
		}
	}
}
