package serving

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"testing"
)

// finiteByClass is the plain way to check a row: math.IsNaN and
// math.IsInf on each value, stopping at the first that is neither.
func finiteByClass(fs []float64) bool {
	for _, f := range fs {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
	}
	return true
}

// finiteByExponent is the branch-free way: NaN and ±Inf are the values
// whose 11 exponent bits are all ones, and adding one to the lowest of
// them carries into the sign bit for those only, so the OR of that sum
// over the row has its top bit set when a value is not finite. Four
// independent ORs, four values a step.
func finiteByExponent(fs []float64) bool {
	const exp, one = 0x7ff << 52, 1 << 52
	var a, b, c, d uint64
	for len(fs) >= 4 {
		x := fs[:4:4]
		a |= math.Float64bits(x[0])&exp + one
		b |= math.Float64bits(x[1])&exp + one
		c |= math.Float64bits(x[2])&exp + one
		d |= math.Float64bits(x[3])&exp + one
		fs = fs[4:]
	}
	for _, x := range fs {
		a |= math.Float64bits(x)&exp + one
	}
	return (a|b|c|d)>>63 == 0
}

// TestFiniteCheckAlternatives holds the two alternatives that
// BenchmarkFiniteCheck measures allFinite against to the same answers,
// so that the comparison is between checks that work.
func TestFiniteCheckAlternatives(t *testing.T) {
	for n := range 40 {
		row := make([]float64, n)
		for i := range row {
			row[i] = []float64{0, -1.5, math.MaxFloat64 / 1e10, math.SmallestNonzeroFloat64}[i%4]
		}
		for _, check := range []func([]float64) bool{allFinite, finiteByClass, finiteByExponent} {
			if !check(row) {
				t.Fatalf("%d finite values said not finite", n)
			}
			for i := range row {
				for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
					old := row[i]
					row[i] = bad
					if check(row) {
						t.Fatalf("%v at %d of %d said finite", bad, i, n)
					}
					row[i] = old
				}
			}
		}
	}
}

// BenchmarkFiniteCheck measures allFinite, the Server's check that a
// row holds no NaN or ±Inf, against the two other ways to write it in
// Go (finiteByClass, finiteByExponent), in ns per row of 8, 30 and 200
// finite values, over 64 rows:
//
//	go test ./serving/ -run '^$' -bench FiniteCheck -count 5
func BenchmarkFiniteCheck(b *testing.B) {
	checks := []struct {
		name   string
		finite func([]float64) bool
	}{
		{"sum", allFinite},
		{"isnan-isinf", finiteByClass},
		{"exponent-or", finiteByExponent},
	}
	for _, width := range []int{8, 30, 200} {
		rows := make([][]float64, 64)
		for r := range rows {
			rows[r] = make([]float64, width)
			for i := range rows[r] {
				rows[r][i] = float64(r*width+i) * 0.37
			}
		}
		for _, c := range checks {
			b.Run(fmt.Sprintf("%s/%d", c.name, width), func(b *testing.B) {
				ok := true
				for b.Loop() {
					for _, r := range rows {
						ok = c.finite(r) && ok
					}
				}
				if !ok {
					b.Fatal("a finite row said not finite")
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
			})
		}
	}
}

// constBatch answers 1 for every row, so that BenchmarkScoreBatchNonFinite
// measures what ScoreBatch adds.
type constBatch struct{}

func (constBatch) Predict(context.Context, []float64) (Prediction, error) {
	return Prediction{Value: 1}, nil
}

func (constBatch) PredictBatch(_ context.Context, rows [][]float64, out []Prediction) error {
	for i := range rows {
		out[i] = Prediction{Value: 1}
	}
	return nil
}

// BenchmarkScoreBatchNonFinite measures ScoreBatch under AllowMissing,
// in ns per record of 30 features, for batches of 8 and 64 records with
// a NaN (a missing value) in every record, in one record in 8, and in
// none: a batch is summed whole (scanBatch) unless a recent batch held
// a NaN or ±Inf, when its rows are checked one by one.
//
//	go test ./serving/ -run '^$' -bench ScoreBatchNonFinite -count 5
func BenchmarkScoreBatchNonFinite(b *testing.B) {
	ctx := context.Background()
	srv, err := NewServer(WithLogger(slog.New(slog.DiscardHandler)), WithNonFinite(AllowMissing))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	if _, err := srv.ActivateModel(ctx, ModelRef{Name: "c", Version: 1}, constBatch{}); err != nil {
		b.Fatal(err)
	}
	bs := srv.Model("c").(BatchScorer)
	for _, every := range []int{1, 8, 0} {
		for _, size := range []int{8, 64} {
			rs := make([]Record, size)
			for i := range rs {
				f := make([]float64, 30)
				for j := range f {
					f[j] = float64(i*30+j) * 0.37
				}
				if every > 0 && i%every == 0 {
					f[i%30] = math.NaN()
				}
				rs[i] = Record{Features: f}
			}
			out := make([]Result, size)
			errs := make([]error, size)
			name := fmt.Sprintf("nan-in-1-of-%d/%d", every, size)
			if every == 0 {
				name = fmt.Sprintf("no-nan/%d", size)
			}
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					bs.ScoreBatch(ctx, rs, out, errs)
				}
				if errs[0] != nil {
					b.Fatal(errs[0])
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/record")
			})
		}
	}
}
