package xgboost_test

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/leaves"
	"github.com/modelstream/modelstream/serving/formats/xgboost"
)

// TestXGBoostFormatReadsEveryEncoding loads every fixture through the
// "xgboost" format of package leaves, which reads the legacy binary
// format with leaves and routes JSON and UBJSON here, and compares the
// predictions with XGBoost's, transformed and as margins
// (leaves.transform=raw).
func TestXGBoostFormatReadsEveryEncoding(t *testing.T) {
	for _, name := range fixtures {
		e := readExpected(t, name)
		rows := e.rows()
		for _, ext := range e.Formats {
			b := readModel(t, name, ext)
			for _, margin := range []bool{false, true} {
				want, labels := e.Predict, map[string]string(nil)
				if margin {
					want, labels = e.Margin, map[string]string{leaves.LabelTransform: "raw"}
				}
				t.Run(name+"."+ext+"/margin="+strconv.FormatBool(margin), func(t *testing.T) {
					if ext == "bin" && (e.Objective == "multi:softmax" || name == "rf_multi") {
						t.Skip("see TestLegacyBinaryRefusals")
					}
					m, err := serving.Load(context.Background(), serving.Descriptor{Name: "m", Format: leaves.FormatXGBoost, Bytes: b, Labels: labels})
					if err != nil {
						t.Fatal(err)
					}
					for i, r := range rows {
						p, err := m.Predict(context.Background(), r)
						if err != nil {
							t.Fatal(err)
						}
						tol := closeTo
						if ext == "bin" {
							tol = closeToLeaves
						}
						checkPredictionWith(t, tol, e.Objective, margin, p, want[i])
					}
				})
			}
		}
	}
}

// closeToLeaves is the tolerance for leaves, which sums the trees in
// float64 where XGBoost sums them in float32: 1e-6 relative to the size
// of want when it is larger than 1.
func closeToLeaves(got, want float64) bool {
	return math.Abs(got-want) <= 1e-6*math.Max(1, math.Abs(want))
}

// TestLegacyBinaryRefusals checks that a multiclass random forest in
// the legacy binary format, which leaves cannot read, is refused with a
// hint, and that the JSON form of the same model loads.
func TestLegacyBinaryRefusals(t *testing.T) {
	_, err := tryLoad(leaves.FormatXGBoost, readModel(t, "rf_multi", "bin"), nil)
	wantLoadError(t, err, serving.ErrUnsupportedModel)
	if !strings.Contains(err.Error(), "JSON or UBJSON") {
		t.Errorf("no hint: %v", err)
	}
	if _, err := tryLoad(leaves.FormatXGBoost, readModel(t, "rf_multi", "json"), nil); err != nil {
		t.Fatal(err)
	}
}

// TestXGBoostFormatLabels checks how the leaves labels apply to a model
// routed here.
func TestXGBoostFormatLabels(t *testing.T) {
	b := readModel(t, "binary_logistic", "ubj")
	for _, labels := range []map[string]string{
		{leaves.LabelTransform: "softmax"},
		{leaves.LabelEstimators: "7"},
		{leaves.LabelEstimators: "2", xgboost.LabelIterations: "3"},
		{leaves.LabelTransform: "raw", xgboost.LabelOutput: "auto"},
		{xgboost.LabelOutput: "logit"},
	} {
		if _, err := tryLoad(leaves.FormatXGBoost, b, labels); !errors.Is(err, serving.ErrInvalidDescriptor) {
			t.Errorf("labels %v: %v, want ErrInvalidDescriptor", labels, err)
		}
	}
	for _, labels := range []map[string]string{
		{leaves.LabelTransform: "auto"},
		{xgboost.LabelOutput: "margin"},
		{leaves.LabelTransform: "raw", xgboost.LabelOutput: "margin"},
		{leaves.LabelEstimators: "2"},
		{leaves.LabelEstimators: "2", xgboost.LabelIterations: "2"},
	} {
		if _, err := tryLoad(leaves.FormatXGBoost, b, labels); err != nil {
			t.Errorf("labels %v: %v", labels, err)
		}
	}
	// leaves.estimators=2 is the first two rounds, as XGBoost predicts them.
	e := readExpected(t, "binary_logistic")
	m := loadAs(t, leaves.FormatXGBoost, b, map[string]string{leaves.LabelEstimators: "2"})
	for i, r := range e.rows() {
		p, err := m.Predict(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		checkPrediction(t, e.Objective, false, p, e.First2[i])
	}
	_, err := tryLoad(leaves.FormatXGBoost, []byte(`{"learner": {}}`), nil)
	wantLoadError(t, err, serving.ErrCorruptModel)
}

// TestLegacyRandomForestRounds: "leaves.estimators" counts boosting
// rounds, like XGBoost's iteration_range, and a round of a random forest
// (num_parallel_tree) is that many trees. random_forest.bin is one round
// of four trees: with leaves.estimators=1 it must predict as a whole,
// not from its first tree alone.
func TestLegacyRandomForestRounds(t *testing.T) {
	e := readExpected(t, "random_forest")
	m := loadAs(t, leaves.FormatXGBoost, readModel(t, "random_forest", "bin"), map[string]string{leaves.LabelEstimators: "1"})
	for i, r := range e.rows() {
		p, err := m.Predict(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		checkPredictionWith(t, closeToLeaves, e.Objective, false, p, e.Predict[i])
	}
	if n := m.(*leaves.Model).Estimators(); n != 1 {
		t.Errorf("Estimators() = %d, want 1 round", n)
	}
	if _, err := tryLoad(leaves.FormatXGBoost, readModel(t, "random_forest", "bin"), map[string]string{leaves.LabelEstimators: "2"}); !errors.Is(err, serving.ErrInvalidDescriptor) {
		t.Errorf("leaves.estimators=2 of a one-round forest: %v, want ErrInvalidDescriptor", err)
	}
}
