package pmml_test

import (
	"context"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving/formats/pmml"
)

// truthRow is one row of a testdata/sklearn CSV: the inputs by name, and
// what scikit-learn predicted.
type truthRow struct {
	rec   map[string]any
	label string
	value float64
	probs map[string]float64
}

func readTruth(t *testing.T, name string) []truthRow {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "sklearn", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head := recs[0]
	var rows []truthRow
	for _, rec := range recs[1:] {
		r := truthRow{rec: map[string]any{}, probs: map[string]float64{}}
		for i, h := range head {
			v := rec[i]
			switch {
			case h == "label":
				r.label = v
			case h == "value":
				r.value = num(t, v)
			case strings.HasPrefix(h, "p:"):
				r.probs[h[2:]] = num(t, v)
			default:
				if x, err := strconv.ParseFloat(v, 64); err == nil {
					r.rec[h] = x
				} else {
					r.rec[h] = v
				}
			}
		}
		rows = append(rows, r)
	}
	return rows
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestSklearnTruth scores every row of every model written by
// testdata/sklearn/export.py and compares with scikit-learn's own
// predictions: values and probabilities to 1e-9 relative error, labels
// exactly.
func TestSklearnTruth(t *testing.T) {
	cases := []struct {
		name string
		// tol is the relative tolerance; 1e-9 unless a comment says why.
		tol float64
	}{
		{"tree-iris", 1e-9},
		{"tree-diabetes", 1e-9},
		{"tree-categorical", 1e-9},
		{"forest-iris", 1e-9},
		{"forest-diabetes", 1e-9},
		{"linear-diabetes", 1e-9},
		{"logistic-iris", 1e-9},
		{"logistic-cancer", 1e-9},
		{"mlp-iris", 1e-9},
		{"mlp-diabetes", 1e-9},
		{"svc-linear-iris", 1e-9},
		{"svc-poly-iris", 1e-9},
		{"svc-rbf-iris", 1e-9},
		{"svc-sigmoid-iris", 1e-9},
		{"svr-rbf-diabetes", 1e-9},
		// XGBoost sums its leaves and applies the sigmoid in float32, so its
		// own predictions carry float32 rounding (about 1e-7 relative per
		// step); the evaluator computes in float64, as PMML says. The same
		// trees scored by leaves (float64) agree with the evaluator to
		// 1e-12: see TestXGBoostAgainstLeaves.
		{"xgbrf-cancer", 4e-6},
		// The same with missing values, which XGBoost sends down each
		// split's default branch (the PMML's defaultChild).
		{"xgbrf-cancer-missing", 4e-6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := loadFile(t, filepath.Join("sklearn", strings.TrimSuffix(c.name, "-missing")+".pmml"))
			rows := readTruth(t, c.name+".csv")
			if len(rows) < 50 {
				t.Fatalf("only %d rows", len(rows))
			}
			var maxErr float64
			fails := 0
			for i, r := range rows {
				p, err := m.Predict(context.Background(), vec(t, m, r.rec))
				if err != nil {
					t.Fatalf("row %d: %v", i, err)
				}
				if r.label != "" {
					if p.Label != r.label {
						fails++
						if fails < 5 {
							t.Errorf("row %d: label %q, sklearn %q (%+v)", i, p.Label, r.label, p)
						}
					}
					for k, want := range r.probs {
						j := slices.Index(labels(m), k)
						if j < 0 {
							t.Fatalf("class %q not among %q", k, labels(m))
						}
						e := relErr(p.Values[j], want)
						maxErr = math.Max(maxErr, e)
						if e > c.tol {
							fails++
							if fails < 5 {
								t.Errorf("row %d: p(%s) = %v, sklearn %v", i, k, p.Values[j], want)
							}
						}
					}
					continue
				}
				e := relErr(p.Value, r.value)
				maxErr = math.Max(maxErr, e)
				if e > c.tol {
					fails++
					if fails < 5 {
						t.Errorf("row %d: value %v, sklearn %v", i, p.Value, r.value)
					}
				}
			}
			t.Logf("%d rows, largest relative error %.3g", len(rows), maxErr)
		})
	}
}

// labels returns the classes of a classification model in the order of
// Prediction.Values, by scoring nothing: the test documents list them in
// the target's DataDictionary, which is that order.
func labels(m *pmml.Model) []string {
	return m.Classes()
}

func relErr(got, want float64) float64 {
	if got == want {
		return 0
	}
	return math.Abs(got-want) / math.Max(math.Abs(want), 1e-12)
}
