package leaves_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"testing"

	lv "github.com/dmitryikh/leaves"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/leaves"
)

// BenchmarkBatchOverhead measures the Server's cost per record against
// bare leaves, at batch sizes 1, 8 and 64, in one run: each sub-benchmark
// scores batches of the same rows and reports ns/record, so that
//
//	go test ./serving/formats/leaves/ -run '^$' -bench BatchOverhead -count 5
//
// gives the ratio of Server (Score for size 1, ScoreBatch for every
// size) to raw PredictSingle at each size.
func BenchmarkBatchOverhead(b *testing.B) {
	model, rows := benchRows(b)
	ctx := context.Background()
	e, err := lv.LGEnsembleFromReader(bufio.NewReader(bytes.NewReader(model)), true)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := serving.NewServer(serving.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	if _, err := srv.Activate(ctx, serving.Descriptor{Name: "bc", Format: leaves.FormatLightGBM, Version: 1, Bytes: model}); err != nil {
		b.Fatal(err)
	}
	sc := srv.Model("bc")
	bs := sc.(serving.BatchScorer)
	for _, size := range []int{1, 8, 64} {
		recs := make([]serving.Record, size)
		for i := range recs {
			recs[i] = serving.Record{Features: rows[i%len(rows)]}
		}
		out := make([]serving.Result, size)
		errs := make([]error, size)
		// ns/record is wall time; cpu-ns/record, the process's CPU time,
		// is steadier on a loaded machine.
		var cpu0 int64
		perRecord := func(b *testing.B) {
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/record")
			if cpu := processCPU(); cpu0 > 0 {
				b.ReportMetric(float64(cpu-cpu0)/float64(b.N*size), "cpu-ns/record")
			}
		}
		b.Run(fmt.Sprintf("raw/%d", size), func(b *testing.B) {
			var sink float64
			cpu0 = processCPU()
			for b.Loop() {
				for _, r := range recs {
					sink += e.PredictSingle(r.Features, 0)
				}
			}
			perRecord(b)
			if sink == 0 {
				b.Fatal("no predictions")
			}
		})
		if size == 1 {
			b.Run("score/1", func(b *testing.B) {
				b.ReportAllocs()
				var sink float64
				cpu0 = processCPU()
				for b.Loop() {
					res, err := sc.Score(ctx, recs[0])
					if err != nil {
						b.Fatal(err)
					}
					sink += res.Value
				}
				perRecord(b)
				if sink == 0 {
					b.Fatal("no predictions")
				}
			})
		}
		b.Run(fmt.Sprintf("batch/%d", size), func(b *testing.B) {
			b.ReportAllocs()
			var sink float64
			cpu0 = processCPU()
			for b.Loop() {
				bs.ScoreBatch(ctx, recs, out, errs)
				if errs[0] != nil {
					b.Fatal(errs[0])
				}
				sink += out[0].Value
			}
			perRecord(b)
			if sink == 0 {
				b.Fatal("no predictions")
			}
		})
	}
}
