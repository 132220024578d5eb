package leaves_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"

	lv "github.com/dmitryikh/leaves"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/leaves"
)

// The benchmarks below score the same rows (lg_breast_cancer_data.txt)
// with the same LightGBM model (lg_breast_cancer.txt: 39 trees, 30
// features, binary objective) by four paths, so that one
// `go test -bench Leaves` run compares them:
//
//   - RawLeavesPredictSingle: leaves alone, loaded with its
//     transformation, returning the probability: the baseline.
//   - RawLeavesPredictSingleRawScore: leaves alone, raw margin.
//   - ModelPredict: this package's Model, without a Server.
//   - ServerLeaves: a serving.Server slot, as a stream scores.

func benchRows(b *testing.B) ([]byte, [][]float64) {
	model := readFile(b, "lg_breast_cancer.txt")
	rows := readTable(b, "lg_breast_cancer_data.txt", false)
	if len(rows) == 0 || len(rows[0]) != 30 {
		b.Fatalf("unexpected data: %d rows", len(rows))
	}
	return model, rows
}

func benchLeaves(b *testing.B, transform bool) {
	model, rows := benchRows(b)
	e, err := lv.LGEnsembleFromReader(bufio.NewReader(bytes.NewReader(model)), transform)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var sink float64
	i := 0
	cpu0 := processCPU()
	for b.Loop() {
		sink += e.PredictSingle(rows[i%len(rows)], 0)
		i++
	}
	reportCPU(b, cpu0)
	if sink == 0 {
		b.Fatal("no predictions")
	}
}

// reportCPU reports the process CPU time per operation since cpu0.
func reportCPU(b *testing.B, cpu0 int64) {
	if cpu := processCPU(); cpu0 > 0 && b.N > 0 {
		b.ReportMetric(float64(cpu-cpu0)/float64(b.N), "cpu-ns/op")
	}
}

func BenchmarkRawLeavesPredictSingle(b *testing.B) { benchLeaves(b, true) }

func BenchmarkRawLeavesPredictSingleRawScore(b *testing.B) { benchLeaves(b, false) }

func BenchmarkLeavesModelPredict(b *testing.B) {
	model, rows := benchRows(b)
	ctx := context.Background()
	m, err := serving.Load(ctx, serving.Descriptor{Name: "bc", Format: leaves.FormatLightGBM, Bytes: model})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var sink float64
	i := 0
	cpu0 := processCPU()
	for b.Loop() {
		p, err := m.Predict(ctx, rows[i%len(rows)])
		if err != nil {
			b.Fatal(err)
		}
		sink += p.Value
		i++
	}
	reportCPU(b, cpu0)
	if sink == 0 {
		b.Fatal("no predictions")
	}
}

func BenchmarkServerLeaves(b *testing.B) {
	model, rows := benchRows(b)
	ctx := context.Background()
	srv, err := serving.NewServer(serving.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	if _, err := srv.Activate(ctx, serving.Descriptor{Name: "bc", Format: leaves.FormatLightGBM, Version: 1, Bytes: model}); err != nil {
		b.Fatal(err)
	}
	sc := srv.Model("bc")
	b.ReportAllocs()
	var sink float64
	i := 0
	cpu0 := processCPU()
	for b.Loop() {
		res, err := sc.Score(ctx, serving.Record{Features: rows[i%len(rows)]})
		if err != nil {
			b.Fatal(err)
		}
		sink += res.Value
		i++
	}
	reportCPU(b, cpu0)
	if sink == 0 {
		b.Fatal("no predictions")
	}
}

// TestServerMatchesLeaves checks that the benchmarked paths agree: the
// Server returns exactly what leaves computes for every row.
func TestServerMatchesLeaves(t *testing.T) {
	model := readFile(t, "lg_breast_cancer.txt")
	rows := readTable(t, "lg_breast_cancer_data.txt", false)
	e, err := lv.LGEnsembleFromReader(bufio.NewReader(bytes.NewReader(model)), true)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	srv, _ := serving.NewServer(quiet)
	defer srv.Close()
	if _, err := srv.Activate(ctx, serving.Descriptor{Name: "bc", Format: leaves.FormatLightGBM, Version: 1, Bytes: model}); err != nil {
		t.Fatal(err)
	}
	for i, row := range rows {
		res, err := srv.Model("bc").Score(ctx, serving.Record{Features: row})
		if err != nil {
			t.Fatal(err)
		}
		if want := e.PredictSingle(row, 0); res.Value != want {
			t.Fatalf("row %d: Server %v, leaves %v", i, res.Value, want)
		}
	}
}

// constModel answers 1 at no cost, so that BenchmarkServerOverhead
// measures only what a Server slot adds to a model call: the reference
// count, the NaN/Inf check of the 30 features, the stats and (on one
// call in 64) the clock reads.
type constModel struct{}

func (constModel) Predict(context.Context, []float64) (serving.Prediction, error) {
	return serving.Prediction{Value: 1}, nil
}

func BenchmarkServerOverhead(b *testing.B) {
	_, rows := benchRows(b)
	ctx := context.Background()
	srv, err := serving.NewServer(serving.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	if _, err := srv.ActivateModel(ctx, serving.ModelRef{Name: "c", Version: 1}, constModel{}); err != nil {
		b.Fatal(err)
	}
	sc := srv.Model("c")
	b.ReportAllocs()
	var sink float64
	i := 0
	cpu0 := processCPU()
	for b.Loop() {
		res, err := sc.Score(ctx, serving.Record{Features: rows[i%len(rows)]})
		if err != nil {
			b.Fatal(err)
		}
		sink += res.Value
		i++
	}
	reportCPU(b, cpu0)
	if sink == 0 {
		b.Fatal("no predictions")
	}
}

// constBatchModel is constModel with a PredictBatch that answers 1 for
// every row, so that BenchmarkServerOverheadBatch measures only what the
// Server's ScoreBatch adds to a batch.
type constBatchModel struct{ constModel }

func (constBatchModel) PredictBatch(_ context.Context, rows [][]float64, out []serving.Prediction) error {
	for i := range rows {
		out[i] = serving.Prediction{Value: 1}
	}
	return nil
}

// BenchmarkServerOverheadBatch is BenchmarkServerOverhead for ScoreBatch
// at batch sizes 1, 8 and 64: the Server's own cost per record (the
// reference count, the NaN/Inf check of the 30 features, the results'
// provenance, the stats and the sampled clock reads), in CPU time of the
// benchmark's locked OS thread, which other processes on a loaded machine
// do not inflate. Compare builds with interleaved runs:
//
//	go test ./serving/formats/leaves/ -run '^$' -bench ServerOverheadBatch -count 10
func BenchmarkServerOverheadBatch(b *testing.B) {
	if threadCPU() == 0 {
		b.Skip("no per-thread CPU clock on this platform")
	}
	_, rows := benchRows(b)
	ctx := context.Background()
	srv, err := serving.NewServer(serving.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	ref := serving.ModelRef{Name: "c", Version: 1, ID: strings.Repeat("ab", 32), Format: "const"}
	if _, err := srv.ActivateModel(ctx, ref, constBatchModel{}); err != nil {
		b.Fatal(err)
	}
	bs := srv.Model("c").(serving.BatchScorer)
	const block = 512 // records per timed iteration
	for _, size := range []int{1, 8, 64} {
		recs := make([]serving.Record, size)
		for i := range recs {
			recs[i] = serving.Record{Features: rows[i%len(rows)]}
		}
		out := make([]serving.Result, size)
		errs := make([]error, size)
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ReportAllocs()
			t0 := threadCPU()
			for b.Loop() {
				for range block / size {
					bs.ScoreBatch(ctx, recs, out, errs)
				}
			}
			b.ReportMetric(float64(threadCPU()-t0)/float64(b.N*block), "cpu-ns/record")
			if errs[0] != nil || out[size-1].Value != 1 || out[0].Provenance.Model != ref {
				b.Fatalf("ScoreBatch gave %+v, %v", out[0], errs[0])
			}
		})
	}
}
