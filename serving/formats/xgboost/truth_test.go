package xgboost_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/xgboost"
)

// expected is a fixture's <name>.expected.json, written by
// testdata/make_fixtures.py with XGBoost's own predictions.
type expected struct {
	Version   string       `json:"xgboost"`
	Objective string       `json:"objective"`
	Formats   []string     `json:"formats"`
	Inputs    [][]*float64 `json:"inputs"`
	Predict   [][]float64  `json:"predict"`
	Margin    [][]float64  `json:"margin"`
	// First2 is predict(iteration_range=(0, 2)), for models of more
	// than two rounds.
	First2 [][]float64 `json:"predict_first2"`
}

// rows returns the inputs with NaN for missing values.
func (e *expected) rows() [][]float64 {
	out := make([][]float64, len(e.Inputs))
	for i, r := range e.Inputs {
		out[i] = make([]float64, len(r))
		for j, v := range r {
			if v == nil {
				out[i][j] = math.NaN()
			} else {
				out[i][j] = *v
			}
		}
	}
	return out
}

// fixtures lists the models made by testdata/make_fixtures.py.
var fixtures = []string{
	"binary_logistic", "multi_softprob", "reg_squarederror", "count_poisson", "dart",
	"random_forest", "rf_multi", "categorical", "categorical_wide", "binary_logitraw", "binary_hinge",
	"multi_softmax", "reg_logistic", "reg_pseudohubererror", "reg_absoluteerror",
	"reg_gamma", "reg_tweedie", "rank_pairwise", "rank_ndcg", "rank_map",
	"gblinear", "gblinear_multi", "bench",
	"logistic_base_lo", "logistic_base_hi", "logistic_base_0", "logistic_base_1",
}

func readExpected(tb testing.TB, name string) *expected {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".expected.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var e expected
	if err := json.Unmarshal(b, &e); err != nil {
		tb.Fatal(err)
	}
	return &e
}

// readModel reads testdata/<name>.<ext>, or its gzipped form.
func readModel(tb testing.TB, name, ext string) []byte {
	tb.Helper()
	p := filepath.Join("testdata", name+"."+ext)
	b, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		f, err2 := os.Open(p + ".gz")
		if err2 != nil {
			tb.Fatal(err)
		}
		defer f.Close()
		z, err2 := gzip.NewReader(f)
		if err2 != nil {
			tb.Fatal(err2)
		}
		b, err = io.ReadAll(z)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func loadAs(tb testing.TB, format string, b []byte, labels map[string]string) serving.Model {
	tb.Helper()
	m, err := serving.Load(context.Background(), serving.Descriptor{Name: "m", Format: format, Bytes: b, Labels: labels})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// closeTo reports whether got matches XGBoost's output want to 1e-6.
func closeTo(got, want float64) bool {
	return math.Abs(got-want) <= 1e-6
}

// checkPrediction compares a prediction with XGBoost's predict row, to
// 1e-6.
func checkPrediction(t *testing.T, objective string, margin bool, p serving.Prediction, want []float64) {
	t.Helper()
	checkPredictionWith(t, closeTo, objective, margin, p, want)
}

// checkPredictionWith is checkPrediction with another tolerance.
func checkPredictionWith(t *testing.T, closeTo func(got, want float64) bool, objective string, margin bool, p serving.Prediction, want []float64) {
	t.Helper()
	switch {
	case objective == "multi:softmax" && !margin:
		// XGBoost's predict gives the class; the model gives
		// probabilities, with the class as its Label.
		if p.Label != strconv.Itoa(int(want[0])) || len(p.Values) < 2 {
			t.Fatalf("got label %q values %v, want class %v", p.Label, p.Values, want[0])
		}
	case len(want) == 1:
		if len(p.Values) != 0 || !closeTo(p.Value, want[0]) {
			t.Fatalf("got %v (values %v), want %v", p.Value, p.Values, want[0])
		}
	default:
		if len(p.Values) != len(want) {
			t.Fatalf("got %d values, want %d", len(p.Values), len(want))
		}
		best := 0
		for k := range want {
			if !closeTo(p.Values[k], want[k]) {
				t.Fatalf("output %d: got %v, want %v (all %v / %v)", k, p.Values[k], want[k], p.Values, want)
			}
			if want[k] > want[best] {
				best = k
			}
		}
		if p.Label != strconv.Itoa(best) || p.Value != p.Values[best] {
			t.Fatalf("label %q value %v, want class %d", p.Label, p.Value, best)
		}
	}
}

// TestPredictionsMatchXGBoost loads every fixture in every encoding it
// was saved in, through each format name that reads it, and compares
// Predict and PredictBatch with XGBoost's predict, with and without
// output_margin.
func TestPredictionsMatchXGBoost(t *testing.T) {
	for _, name := range fixtures {
		e := readExpected(t, name)
		rows := e.rows()
		for _, ext := range e.Formats {
			if ext == "bin" {
				continue // the legacy binary format is leaves' (see leaves_test.go)
			}
			format := xgboost.FormatJSON
			if ext == "ubj" {
				format = xgboost.FormatUBJSON
			}
			b := readModel(t, name, ext)
			for _, margin := range []bool{false, true} {
				var labels map[string]string
				want := e.Predict
				if margin {
					labels = map[string]string{xgboost.LabelOutput: "margin"}
					want = e.Margin
				}
				t.Run(name+"."+ext+"/margin="+strconv.FormatBool(margin), func(t *testing.T) {
					m := loadAs(t, format, b, labels)
					for i, r := range rows {
						p, err := m.Predict(context.Background(), r)
						if err != nil {
							t.Fatal(err)
						}
						checkPrediction(t, e.Objective, margin, p, want[i])
					}
					out := make([]serving.Prediction, len(rows))
					if err := m.(serving.BatchPredictor).PredictBatch(context.Background(), rows, out); err != nil {
						t.Fatal(err)
					}
					for i := range rows {
						checkPrediction(t, e.Objective, margin, out[i], want[i])
					}
				})
			}
		}
	}
}

// TestFixtureVersion checks that the fixtures were made by the XGBoost
// version testdata/README.md names.
func TestFixtureVersion(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("testdata", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range fixtures {
		v := readExpected(t, name).Version
		if !strings.Contains(string(readme), "XGBoost "+v) {
			t.Errorf("%s was made by XGBoost %s, which testdata/README.md does not name", name, v)
		}
	}
}

// TestIterations checks the label xgboost.iterations against XGBoost's
// predict(iteration_range=(0, 2)), and its bad values.
func TestIterations(t *testing.T) {
	n := 0
	for _, name := range fixtures {
		e := readExpected(t, name)
		if e.First2 == nil {
			continue
		}
		n++
		for _, ext := range []string{"json", "ubj"} {
			if !slices.Contains(e.Formats, ext) {
				continue
			}
			format := map[string]string{"json": xgboost.FormatJSON, "ubj": xgboost.FormatUBJSON}[ext]
			t.Run(name+"."+ext, func(t *testing.T) {
				m := loadAs(t, format, readModel(t, name, ext), map[string]string{xgboost.LabelIterations: "2"})
				for i, r := range e.rows() {
					p, err := m.Predict(context.Background(), r)
					if err != nil {
						t.Fatal(err)
					}
					checkPrediction(t, e.Objective, false, p, e.First2[i])
				}
			})
		}
	}
	if n < 10 {
		t.Fatalf("only %d fixtures have predict_first2", n)
	}
	for _, c := range []struct{ name, v string }{
		{"binary_logistic", "-1"}, {"binary_logistic", "x"}, {"binary_logistic", "7"},
		{"multi_softprob", "5"}, {"gblinear", "1"},
	} {
		_, err := tryLoad(xgboost.FormatJSON, readModel(t, c.name, "json"), map[string]string{xgboost.LabelIterations: c.v})
		if !errors.Is(err, serving.ErrInvalidDescriptor) {
			t.Errorf("%s with %s=%s: %v, want ErrInvalidDescriptor", c.name, xgboost.LabelIterations, c.v, err)
		}
	}
	// All the rounds, or 0, are the whole model.
	for _, v := range []string{"0", "6"} {
		if _, err := tryLoad(xgboost.FormatJSON, readModel(t, "binary_logistic", "json"), map[string]string{xgboost.LabelIterations: v}); err != nil {
			t.Errorf("%s=%s: %v", xgboost.LabelIterations, v, err)
		}
	}
}
