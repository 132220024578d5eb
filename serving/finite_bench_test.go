package serving

import (
	"fmt"
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
