package xgboost_test

import (
	"context"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/leaves"
	"github.com/modelstream/modelstream/serving/formats/xgboost"
)

// The benchmarks score the bench fixture (50 trees of depth 5 on 20
// features, binary:logistic) one record at a time: this package's
// evaluator on the JSON model against leaves on the same model saved in
// the legacy binary format. Compare them in one run:
//
//	go test -run '^$' -bench 'Bench(XGBoost|Leaves)' -count 5 ./serving/formats/xgboost/
func benchModel(b *testing.B, format, ext string) {
	m := loadAs(b, format, readModel(b, "bench", ext), nil)
	rows := readExpected(b, "bench").rows()
	ctx := context.Background()
	b.ReportAllocs()
	cpu0 := processCPU()
	for i := 0; b.Loop(); i++ {
		if _, err := m.Predict(ctx, rows[i%len(rows)]); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu0, 1)
}

// reportCPU reports the process CPU time per record since cpu0.
func reportCPU(b *testing.B, cpu0 int64, perOp int) {
	if cpu := processCPU(); cpu0 > 0 && b.N > 0 {
		b.ReportMetric(float64(cpu-cpu0)/float64(b.N*perOp), "cpu-ns/record")
	}
}

func BenchmarkXGBoostJSONPredict(b *testing.B) { benchModel(b, xgboost.FormatJSON, "json") }

func BenchmarkLeavesBinaryPredict(b *testing.B) { benchModel(b, leaves.FormatXGBoost, "bin") }

func benchBatch(b *testing.B, format, ext string) {
	m := loadAs(b, format, readModel(b, "bench", ext), nil).(serving.BatchPredictor)
	rows := readExpected(b, "bench").rows()
	out := make([]serving.Prediction, len(rows))
	ctx := context.Background()
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		if err := m.PredictBatch(ctx, rows, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/record")
	reportCPU(b, cpu0, len(rows))
}

func BenchmarkXGBoostJSONPredictBatch(b *testing.B) { benchBatch(b, xgboost.FormatJSON, "json") }

func BenchmarkLeavesBinaryPredictBatch(b *testing.B) { benchBatch(b, leaves.FormatXGBoost, "bin") }

// BenchmarkXGBoostLoad measures loading the JSON and UBJSON models.
func BenchmarkXGBoostLoad(b *testing.B) {
	for _, c := range []struct{ name, format, ext string }{
		{"json", xgboost.FormatJSON, "json"},
		{"ubj", xgboost.FormatUBJSON, "ubj"},
	} {
		model := readModel(b, "multi_softprob", c.ext)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(model)))
			for b.Loop() {
				if _, err := serving.Load(context.Background(), serving.Descriptor{Name: "m", Format: c.format, Bytes: model}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
