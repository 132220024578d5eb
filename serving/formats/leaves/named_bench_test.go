package leaves_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"

	"github.com/modelstream/modelstream/serving"
)

// The benchmarks below measure what scoring named records through a
// Server costs against positional ones, with the same 30-feature LightGBM
// model (lg_breast_cancer.txt) and rows as BenchmarkServerLeaves:
//
//   - ServerLeavesPositional: positional records, the model wrapped to
//     name its inputs f0 … f29 (the wrapper is the same in both, so the
//     difference is the binding alone).
//   - ServerLeavesNamed: the same rows as named records whose layout
//     lists the 30 fields shuffled, plus 5 fields the model does not
//     read, so that every record is gathered into the model's order.
//
// Compare with: go test -run '^$' -bench 'ServerLeaves' -count 5

// namedModel names the inputs of a leaves model that does not.
type namedModel struct {
	serving.Model
	info serving.ModelInfo
}

func (m namedModel) Describe() serving.ModelInfo { return m.info }

func benchNamedServer(b *testing.B) (serving.Scorer, [][]float64) {
	model, rows := benchRows(b)
	ctx := context.Background()
	m, err := serving.Load(ctx, serving.Descriptor{Name: "lgbm", Format: "lightgbm", Bytes: model})
	if err != nil {
		b.Fatal(err)
	}
	info := m.(serving.Describer).Describe()
	info.Inputs = nil // the model names its inputs Column_i; these benchmarks name them f<i>
	for i := range info.Features {
		info.Inputs = append(info.Inputs, serving.Input{Name: fmt.Sprintf("f%d", i)})
	}
	srv, err := serving.NewServer(serving.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	if _, err := srv.ActivateModel(ctx, serving.ModelRef{Name: "lgbm", Version: 1}, namedModel{m, info}); err != nil {
		b.Fatal(err)
	}
	return srv.Model("lgbm"), rows
}

func BenchmarkServerLeavesPositional(b *testing.B) {
	sc, rows := benchNamedServer(b)
	recs := make([]serving.Record, len(rows))
	for i, r := range rows {
		recs[i] = serving.Record{Features: r}
	}
	benchScore(b, sc, recs)
}

func BenchmarkServerLeavesNamed(b *testing.B) {
	sc, rows := benchNamedServer(b)
	n := len(rows[0])
	perm := rand.New(rand.NewPCG(1, 2)).Perm(n + 5) // field k of the record is perm[k]
	names := make([]string, n+5)
	for k, p := range perm {
		if p < n {
			names[k] = fmt.Sprintf("f%d", p)
		} else {
			names[k] = fmt.Sprintf("unused%d", p)
		}
	}
	layout, err := serving.NewLayout(names...)
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]serving.Record, len(rows))
	for i, r := range rows {
		f := make([]float64, n+5)
		for k, p := range perm {
			if p < n {
				f[k] = r[p]
			}
		}
		recs[i] = serving.Record{Layout: layout, Features: f}
	}
	// The named path must answer what the positional one does.
	for i := range recs {
		a, errA := sc.Score(context.Background(), recs[i])
		p, errP := sc.Score(context.Background(), serving.Record{Features: rows[i]})
		if errA != nil || errP != nil || a.Value != p.Value {
			b.Fatalf("row %d: named %v (%v), positional %v (%v)", i, a.Value, errA, p.Value, errP)
		}
	}
	benchScore(b, sc, recs)
}

func benchScore(b *testing.B, sc serving.Scorer, recs []serving.Record) {
	ctx := context.Background()
	b.ReportAllocs()
	var sink float64
	i := 0
	cpu0 := processCPU()
	for b.Loop() {
		res, err := sc.Score(ctx, recs[i%len(recs)])
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
