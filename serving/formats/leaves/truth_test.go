package leaves_test

import (
	"context"
	"log/slog"
	"math"
	"strconv"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/leaves"
)

// truthCase pairs a model from leaves' testdata with its inputs and the
// predictions the training library made, as leaves' own tests do.
type truthCase struct {
	name   string
	format string
	model  string
	labels map[string]string
	// data is the input file: a tsv (skipFirst drops a label column) or,
	// when libsvm is set, a libsvm file densified with fill.
	data      string
	skipFirst bool
	libsvm    bool
	fill      float64
	truth     string
	outputs   int
	transform leaves.Transform
	// tol is the largest relative error allowed. 1e-9 unless the
	// training library computed in float32 (XGBoost), whose printed
	// predictions carry only float32 precision.
	tol float64
}

// quiet keeps Server model events out of the test output.
var quiet = serving.WithLogger(slog.New(slog.DiscardHandler))

var raw = map[string]string{leaves.LabelTransform: "raw"}

var truthCases = []truthCase{
	{name: "lightgbm dart binary", format: "lightgbm", model: "lg_dart_breast_cancer.model",
		data: "breast_cancer_test.tsv", truth: "lg_dart_breast_cancer_true_predictions.txt",
		outputs: 1, transform: leaves.Logistic, tol: 1e-9},
	{name: "lightgbm json dart binary", format: "lightgbm-json", model: "lg_dart_breast_cancer.json",
		labels: map[string]string{leaves.LabelTransform: "logistic"},
		data:   "breast_cancer_test.tsv", truth: "lg_dart_breast_cancer_true_predictions.txt",
		outputs: 1, transform: leaves.Logistic, tol: 1e-9},
	{name: "lightgbm multiclass softmax", format: "lightgbm", model: "lgmulticlass.model",
		data: "multiclass_test.tsv", skipFirst: true, truth: "lgmulticlass_true_predictions.txt",
		outputs: 5, transform: leaves.Softmax, tol: 1e-9},
	{name: "lightgbm multiclass raw", format: "lightgbm", model: "lgmulticlass.model", labels: raw,
		data: "multiclass_test.tsv", skipFirst: true, truth: "lgmulticlass_true_raw_predictions.txt",
		outputs: 5, transform: leaves.Raw, tol: 1e-9},
	{name: "lightgbm categorical multiclass raw", format: "lightgbm", model: "lg_kddcup99.model", labels: raw,
		data: "kddcup99_test.tsv", truth: "lg_kddcup99_true_predictions.txt",
		outputs: 13, transform: leaves.Raw, tol: 1e-9},
	{name: "lightgbm random forest", format: "lightgbm", model: "lg_rf_iris.model",
		data: "iris_test.libsvm", libsvm: true, truth: "lg_rf_iris_true_predictions.txt",
		outputs: 1, transform: leaves.Raw, tol: 1e-9},
	{name: "lightgbm poisson", format: "lightgbm", model: "genlin_fmtp_poisson_Frequency.model",
		data: "genlin_fmtp_poisson_Frequency_features.tsv", truth: "genlin_fmtp_poisson_Frequency_true_predictions.txt",
		outputs: 1, transform: leaves.Exp, tol: 1e-9},
	{name: "lightgbm gamma", format: "lightgbm", model: "genlin_fmtp_gamma_AvgClaimAmount.model",
		data: "genlin_fmtp_gamma_AvgClaimAmount_features.tsv", truth: "genlin_fmtp_gamma_AvgClaimAmount_true_predictions.txt",
		outputs: 1, transform: leaves.Exp, tol: 1e-9},
	{name: "lightgbm tweedie", format: "lightgbm", model: "genlin_fmtp_tweedie_PurePremium.model",
		data: "genlin_fmtp_tweedie_PurePremium_features.tsv", truth: "genlin_fmtp_tweedie_PurePremium_true_predictions.txt",
		outputs: 1, transform: leaves.Exp, tol: 1e-9},
	{name: "xgboost gbtree binary", format: "xgboost", model: "xgagaricus.model",
		data: "agaricus_test.libsvm", libsvm: true, fill: math.NaN(), truth: "xgagaricus_true_predictions.txt",
		outputs: 1, transform: leaves.Logistic, tol: 1e-6},
	{name: "xgboost dart raw 10 rounds", format: "xgboost", model: "xg_dart_agaricus.model",
		labels: map[string]string{leaves.LabelTransform: "raw", leaves.LabelEstimators: "10"},
		data:   "agaricus_test.libsvm", libsvm: true, fill: math.NaN(), truth: "xg_dart_agaricus_true_predictions.txt",
		outputs: 1, transform: leaves.Raw, tol: 1e-6},
	{name: "xgboost gblinear binary", format: "xgboost", model: "xgblin_agaricus.model",
		data: "agaricus_test.libsvm", libsvm: true, truth: "xgblin_agaricus_true_predictions.txt",
		outputs: 1, transform: leaves.Logistic, tol: 5e-6}, // a float32 dot product of 126 terms, then sigmoid
	{name: "xgboost gblinear raw", format: "xgboost", model: "xgblin_agaricus.model", labels: raw,
		data: "agaricus_test.libsvm", libsvm: true, truth: "xgblin_agaricus_true_raw_predictions.txt",
		outputs: 1, transform: leaves.Raw, tol: 1e-6},
	{name: "xgboost multiclass raw", format: "xgboost", model: "xgdermatology.model", labels: raw,
		data: "dermatology_test.libsvm", libsvm: true, fill: math.NaN(), truth: "xgdermatology_true_predictions.txt",
		outputs: 6, transform: leaves.Raw, tol: 1e-6},
	{name: "sklearn binary", format: "sklearn", model: "sk_gradient_boosting_classifier.model",
		data: "sk_gradient_boosting_classifier_test.libsvm", libsvm: true, truth: "sk_gradient_boosting_classifier_true_predictions.txt",
		outputs: 1, transform: leaves.Raw, tol: 1e-9},
	{name: "sklearn multiclass", format: "sklearn", model: "sk_iris.model",
		data: "iris_test.libsvm", libsvm: true, truth: "sk_iris_true_predictions.txt",
		outputs: 3, transform: leaves.Raw, tol: 1e-9},
}

// relErr is |got-want| relative to |want|, or absolute when |want| < 1e-12.
func relErr(got, want float64) float64 {
	d := math.Abs(got - want)
	if a := math.Abs(want); a > 1e-12 {
		return d / a
	}
	return d
}

// load loads c's model through serving.Load and its inputs and truth.
func (c truthCase) load(t *testing.T) (serving.Descriptor, *leaves.Model, [][]float64, [][]float64) {
	t.Helper()
	d := serving.Descriptor{Name: "m", Format: c.format, Version: 1, Bytes: readFile(t, c.model), Labels: c.labels}
	m, err := serving.Load(context.Background(), d)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	lm, ok := m.(*leaves.Model)
	if !ok {
		t.Fatalf("Load returned %T", m)
	}
	info := lm.Describe()
	if info.Outputs != c.outputs {
		t.Fatalf("Describe().Outputs = %d, want %d", info.Outputs, c.outputs)
	}
	if lm.Transform() != c.transform {
		t.Fatalf("Transform() = %q, want %q", lm.Transform(), c.transform)
	}
	var rows [][]float64
	if c.libsvm {
		rows = readLibsvm(t, c.data, info.Features, c.fill)
	} else {
		rows = readTable(t, c.data, c.skipFirst)
	}
	truth := readTable(t, c.truth, false)
	if len(rows) != len(truth) || len(rows) == 0 {
		t.Fatalf("%d input rows, %d truth rows", len(rows), len(truth))
	}
	return d, lm, rows, truth
}

func (c truthCase) check(t *testing.T, via string, i int, p serving.Prediction, want []float64, worst *float64) {
	t.Helper()
	got := p.Outputs()
	if len(got) != len(want) {
		t.Fatalf("%s row %d: %d outputs, truth has %d", via, i, len(got), len(want))
	}
	best := 0
	for k := range want {
		e := relErr(got[k], want[k])
		*worst = max(*worst, e)
		if !(e <= c.tol) {
			t.Fatalf("%s row %d output %d: got %.17g, want %.17g (relative error %.3g > %g)", via, i, k, got[k], want[k], e, c.tol)
		}
		if got[k] > got[best] {
			best = k
		}
	}
	if p.Value != got[best] {
		t.Fatalf("%s row %d: Value %v is not the largest output %v", via, i, p.Value, got[best])
	}
	if len(want) > 1 && p.Label != strconv.Itoa(best) {
		t.Fatalf("%s row %d: Label %q, want argmax %d", via, i, p.Label, best)
	}
}

// TestTruePredictions scores every model of leaves' testdata through
// serving.Load and through a Server slot, and compares with the
// predictions its training library made.
func TestTruePredictions(t *testing.T) {
	for _, c := range truthCases {
		t.Run(c.name, func(t *testing.T) {
			d, m, rows, truth := c.load(t)
			ctx := context.Background()
			var worstLoad, worstServer float64
			for i, row := range rows {
				p, err := m.Predict(ctx, row)
				if err != nil {
					t.Fatalf("Predict row %d: %v", i, err)
				}
				c.check(t, "Load", i, p, truth[i], &worstLoad)
			}

			srv, err := serving.NewServer(serving.WithNonFinite(serving.AllowMissing), quiet)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			d.Version = 7
			ref, err := srv.Activate(ctx, d)
			if err != nil {
				t.Fatalf("Activate: %v", err)
			}
			if ref.ID != serving.ContentID(d.Bytes) || ref.Version != 7 {
				t.Fatalf("Activate returned %+v", ref)
			}
			sc := srv.Model("m")
			for i, row := range rows {
				res, err := sc.Score(ctx, serving.Record{Features: row})
				if err != nil {
					t.Fatalf("Score row %d: %v", i, err)
				}
				if res.Provenance.Model != ref {
					t.Fatalf("row %d scored by %+v, want %+v", i, res.Provenance.Model, ref)
				}
				c.check(t, "Server", i, res.Prediction, truth[i], &worstServer)
			}

			// The batch path gives the same answers as the single path.
			out := make([]serving.Prediction, len(rows))
			if err := m.PredictBatch(ctx, rows, out); err != nil {
				t.Fatalf("PredictBatch: %v", err)
			}
			var worstBatch float64
			for i := range rows {
				c.check(t, "PredictBatch", i, out[i], truth[i], &worstBatch)
			}
			t.Logf("%d rows x %d outputs; worst relative error: Load %.2g, Server %.2g, batch %.2g (limit %g)",
				len(rows), c.outputs, worstLoad, worstServer, worstBatch, c.tol)
		})
	}
}

// TestXGBoostSoftprob checks the default output of a multi:softprob
// model: softmax of the margins XGBoost printed.
func TestXGBoostSoftprob(t *testing.T) {
	c := truthCases[len(truthCases)-3]
	if c.model != "xgdermatology.model" {
		t.Fatal("truthCases changed")
	}
	c.labels, c.transform = nil, leaves.Softmax
	_, m, rows, truth := c.load(t)
	for i, row := range rows {
		p, err := m.Predict(context.Background(), row)
		if err != nil {
			t.Fatal(err)
		}
		want := append([]float64(nil), truth[i]...)
		var sum, psum float64
		for k := range want {
			want[k] = math.Exp(want[k])
			sum += want[k]
		}
		for k := range want {
			want[k] /= sum
			psum += p.Values[k]
			if e := relErr(p.Values[k], want[k]); e > 1e-6 {
				t.Fatalf("row %d class %d: %v, want %v", i, k, p.Values[k], want[k])
			}
		}
		if math.Abs(psum-1) > 1e-12 || p.Confidence != p.Value {
			t.Fatalf("row %d: probabilities sum to %v, confidence %v", i, psum, p.Confidence)
		}
	}
}
