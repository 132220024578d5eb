package leaves_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/leaves"
)

// BenchmarkTreeMajor measures what PredictBatch's tree-by-tree walk over
// blocks of rows gains over walking row by row: each round scores the
// same 64 rows with 64 Predict calls and with one PredictBatch, in
// turns, each timed by the CPU clock of the goroutine's locked thread.
// batch/predict is the ratio of the sums. The models are the 39-tree
// breast-cancer model (about 21 KB of nodes, which stays in a 32 KB L1
// cache) and the 100-tree tweedie model (about 74 KB):
//
//	go test ./serving/formats/leaves/ -run '^$' -bench TreeMajor -count 5
func BenchmarkTreeMajor(b *testing.B) {
	if threadCPU() == 0 {
		b.Skip("no per-thread CPU clock on this platform")
	}
	for _, c := range []struct{ name, model, data string }{
		{"breast-cancer", "lg_breast_cancer.txt", "lg_breast_cancer_data.txt"},
		{"tweedie", "genlin_fmtp_tweedie_PurePremium.model", "genlin_fmtp_tweedie_PurePremium_features.tsv"},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			sm, err := serving.Load(ctx, serving.Descriptor{Name: "m", Format: leaves.FormatLightGBM, Bytes: readFile(b, c.model)})
			if err != nil {
				b.Fatal(err)
			}
			m := sm.(*leaves.Model)
			all := readTable(b, c.data, false)
			rows := make([][]float64, 64)
			for i := range rows {
				rows[i] = all[i%len(all)]
			}
			out := make([]serving.Prediction, len(rows))
			var sink float64
			predict := func() {
				for _, r := range rows {
					p, err := m.Predict(ctx, r)
					if err != nil {
						b.Fatal(err)
					}
					sink += p.Value
				}
			}
			batch := func() {
				if err := m.PredictBatch(ctx, rows, out); err != nil {
					b.Fatal(err)
				}
				sink += out[0].Value
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			ways := [2]func(){predict, batch}
			var ns [2]int64
			n := 0
			for b.Loop() {
				for k := range ways {
					w := (n + k) % 2
					t0 := threadCPU()
					ways[w]()
					ns[w] += threadCPU() - t0
				}
				n++
			}
			b.ReportMetric(float64(ns[0])/float64(n*len(rows)), "predict-ns/record")
			b.ReportMetric(float64(ns[1])/float64(n*len(rows)), "batch-ns/record")
			b.ReportMetric(float64(ns[1])/float64(ns[0]), "batch/predict")
			if sink == 0 {
				b.Fatal("no predictions")
			}
		})
	}
}
