package pmml_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelstream/modelstream/serving"
	_ "github.com/modelstream/modelstream/serving/formats/leaves"
)

// loadXGBoostRF loads testdata/sklearn/xgbrf-cancer.model, the XGBoost
// random forest that xgbrf-cancer.pmml writes as PMML, with package
// leaves.
func loadXGBoostRF(tb testing.TB) serving.Model {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "sklearn", "xgbrf-cancer.model"))
	if err != nil {
		tb.Fatal(err)
	}
	m, err := serving.Load(context.Background(), serving.Descriptor{Name: "xgbrf", Format: "xgboost", Bytes: b})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// TestXGBoostAgainstLeaves scores the same 100-tree forest as PMML and
// with leaves: both compute in float64, so they agree to 1e-12. (With
// missing values leaves and XGBoost disagree on some rows; the PMML
// agrees with XGBoost: see xgbrf-cancer-missing in TestSklearnTruth.)
func TestXGBoostAgainstLeaves(t *testing.T) {
	pm := loadFile(t, filepath.Join("sklearn", "xgbrf-cancer.pmml"))
	lm := loadXGBoostRF(t)
	rows := readTruth(t, "xgbrf-cancer.csv")
	worst := 0.0
	for i, r := range rows {
		x := vec(t, pm, r.rec)
		pp, err := pm.Predict(context.Background(), x)
		if err != nil {
			t.Fatal(err)
		}
		lp, err := lm.Predict(context.Background(), x)
		if err != nil {
			t.Fatal(err)
		}
		e := relErr(pp.Values[1], lp.Value)
		if e > worst {
			worst = e
		}
		if e > 1e-12 {
			t.Errorf("row %d: PMML P(1) = %v, leaves %v", i, pp.Values[1], lp.Value)
		}
	}
	t.Logf("%d rows, largest relative difference %.3g", len(rows), worst)
}
