package leaves_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/leaves"
)

// The tests below check the package's own evaluator (flat.go) against
// leaves: the same Model with its compiled forest and with leaves
// evaluating it (the same descriptor loaded by leaves.LeavesOnly, which
// keeps leaves' decoded trees) must give bit-identical predictions
// for every row, one by one and in batches.

// samePrediction reports how p and q differ, bit for bit; "" if not.
func samePrediction(p, q serving.Prediction) string {
	if math.Float64bits(p.Value) != math.Float64bits(q.Value) || p.Label != q.Label ||
		math.Float64bits(p.Confidence) != math.Float64bits(q.Confidence) || len(p.Values) != len(q.Values) {
		return fmt.Sprintf("%+v, leaves %+v", p, q)
	}
	for k := range p.Values {
		if math.Float64bits(p.Values[k]) != math.Float64bits(q.Values[k]) {
			return fmt.Sprintf("output %d: %v (%#x), leaves %v (%#x)", k, p.Values[k], math.Float64bits(p.Values[k]), q.Values[k], math.Float64bits(q.Values[k]))
		}
	}
	return ""
}

// checkSame scores rows with m, loaded from d, and with leaves, one by
// one and in batches of several sizes (across the evaluator's blocks of
// 64), and fails t at the first difference. It returns whether m was
// compiled.
func checkSame(t testing.TB, m *leaves.Model, d serving.Descriptor, rows [][]float64) bool {
	t.Helper()
	ctx := context.Background()
	ref, compiled, err := leaves.LeavesOnly(d)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range rows {
		p, err1 := m.Predict(ctx, x)
		q, err2 := ref.Predict(ctx, x)
		if err1 != nil || err2 != nil {
			t.Fatalf("row %d %v: Predict: %v, leaves: %v", i, x, err1, err2)
		}
		if d := samePrediction(p, q); d != "" {
			t.Fatalf("row %d %v: Predict %s", i, x, d)
		}
	}
	for _, size := range []int{1, 3, 64, 65, 150} {
		for lo := 0; lo < len(rows); lo += size {
			batch := rows[lo:min(lo+size, len(rows))]
			got := make([]serving.Prediction, len(batch))
			want := make([]serving.Prediction, len(batch))
			if err := m.PredictBatch(ctx, batch, got); err != nil {
				t.Fatal(err)
			}
			if err := ref.PredictBatch(ctx, batch, want); err != nil {
				t.Fatal(err)
			}
			for i := range batch {
				if d := samePrediction(got[i], want[i]); d != "" {
					t.Fatalf("batch of %d, row %d %v: PredictBatch %s", size, lo+i, batch[i], d)
				}
			}
		}
	}
	return compiled
}

// specials are feature values at the edges of leaves' rules: NaN
// (missing), signed zeros and values inside and at the edges of leaves'
// "zero" range (±1e-35), infinities, negative values (no category) and
// categories past any bitset and past int32.
var specials = []float64{
	math.NaN(), 0, math.Copysign(0, -1), 1e-36, -1e-36, 1e-35, -1e-35,
	math.Nextafter(1e-35, 1), math.Nextafter(-1e-35, -1), math.Inf(1), math.Inf(-1),
	-1, -0.5, 0.5, 1, 2, 3, 5, 31, 32, 33, 63, 64, 100, 1e10, -1e10,
	1 << 31, 1<<31 - 1, 1<<32 + 3, -(1 << 31) - 1, 1e300, -1e300, math.MaxFloat64, math.SmallestNonzeroFloat64,
}

// randomRows makes n rows of the given width from specials, the
// thresholds of m's numerical nodes and their neighbours, small
// integers (categories) and uniform values.
func randomRows(r *rand.Rand, m *leaves.Model, width, n int) [][]float64 {
	th := leaves.FlatThresholds(m)
	rows := make([][]float64, n)
	for i := range rows {
		x := make([]float64, width)
		for j := range x {
			switch k := r.IntN(8); {
			case k < 2:
				x[j] = specials[r.IntN(len(specials))]
			case k < 5 && len(th) > 0:
				v := th[r.IntN(len(th))]
				switch r.IntN(3) {
				case 1:
					v = math.Nextafter(v, math.Inf(1))
				case 2:
					v = math.Nextafter(v, math.Inf(-1))
				}
				x[j] = v
			case k < 6:
				x[j] = float64(r.IntN(70))
			default:
				x[j] = (r.Float64() - 0.5) * 10
			}
		}
		rows[i] = x
	}
	return rows
}

// flatFixture is a model of the test data with rows to score.
type flatFixture struct {
	name, format string
	bytes        []byte
	labels       map[string]string
	rows         [][]float64 // besides the random ones
}

// flatFixtures lists every tree model of leaves' test data and of this
// module's (LightGBM 4 text and JSON, XGBoost 1.x binaries), with
// estimator limits on a forest, a dart and a random forest.
func flatFixtures(t *testing.T) []flatFixture {
	var fs []flatFixture
	for _, c := range truthCases {
		_, _, rows, _ := c.load(t)
		fs = append(fs, flatFixture{c.name, c.format, readFile(t, c.model), c.labels, rows})
	}
	for _, f := range []struct{ name, format, file string }{
		{"leaves simple", "lightgbm", "model_simple.txt"},
		{"leaves breast cancer", "lightgbm", "lg_breast_cancer.txt"},
		{"leaves one tree json", "lightgbm-json", "lg_1tree.json"},
	} {
		fs = append(fs, flatFixture{name: f.name, format: f.format, bytes: readFile(t, f.file)})
	}
	for _, name := range []string{"binary_classification", "multiclass", "regression", "regression_missing", "small_tree"} {
		var in struct {
			Data [][]*float64 `json:"data"`
		}
		if err := json.Unmarshal(lgb4(t, name, "input.json"), &in); err != nil {
			t.Fatal(err)
		}
		var rows [][]float64
		for _, row := range in.Data {
			x := make([]float64, len(row))
			for j, v := range row {
				x[j] = math.NaN()
				if v != nil {
					x[j] = *v
				}
			}
			rows = append(rows, x)
		}
		fs = append(fs, flatFixture{name: "lightgbm4 " + name, format: "lightgbm", bytes: lgb4(t, name, "model.txt"), labels: raw, rows: rows})
		if b, err := os.ReadFile(filepath.Join("testdata", "lightgbm4", name+".model.json")); err == nil {
			fs = append(fs, flatFixture{name: "lightgbm4 json " + name, format: "lightgbm-json", bytes: b, labels: raw, rows: rows})
		}
	}
	for _, name := range []string{"bench", "binary_logistic", "count_poisson", "dart", "gblinear", "logistic_base_hi", "logistic_base_lo", "multi_softprob", "random_forest", "reg_squarederror"} {
		b, err := os.ReadFile(filepath.Join("..", "xgboost", "testdata", name+".bin"))
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, flatFixture{name: "xgboost 1.x " + name, format: "xgboost", bytes: b})
	}
	est := func(n int) map[string]string {
		return map[string]string{leaves.LabelTransform: "raw", leaves.LabelEstimators: strconv.Itoa(n)}
	}
	fs = append(fs,
		flatFixture{name: "lightgbm random forest 3 rounds", format: "lightgbm", bytes: readFile(t, "lg_rf_iris.model"), labels: est(3)},
		flatFixture{name: "lightgbm multiclass 7 rounds", format: "lightgbm", bytes: readFile(t, "lgmulticlass.model"), labels: est(7)},
		flatFixture{name: "xgboost dart 3 rounds", format: "xgboost", bytes: readFile(t, "xg_dart_agaricus.model"), labels: est(3)},
	)
	if b, err := os.ReadFile(filepath.Join("..", "xgboost", "testdata", "random_forest.bin")); err == nil {
		fs = append(fs, flatFixture{name: "xgboost 1.x random forest 1 round", format: "xgboost", bytes: b, labels: est(1)})
	}
	return fs
}

// TestFlatMatchesLeaves scores every fixture, on its own rows and on
// 500 random rows of edge values, with the compiled forest and with
// leaves, and requires bit-identical predictions. Every tree model is
// compiled; only XGBoost gblinear models are left to leaves.
func TestFlatMatchesLeaves(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, f := range flatFixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			d := serving.Descriptor{Name: "m", Format: f.format, Bytes: f.bytes, Labels: f.labels}
			sm, err := serving.Load(context.Background(), d)
			if err != nil {
				t.Fatal(err)
			}
			m := sm.(*leaves.Model)
			width := m.Describe().Features
			rows := append(f.rows, randomRows(r, m, width, 500)...)
			compiled := checkSame(t, m, d, rows)
			if want := !strings.Contains(m.Name(), "gblinear"); compiled != want {
				t.Fatalf("%s: compiled %v, want %v", m.Name(), compiled, want)
			}
			t.Logf("%s: %d rows, node kinds %v", m.Name(), len(rows), leaves.FlatKinds(m))
		})
	}
}

// lgSynth writes a LightGBM text model of random trees whose nodes take
// every decision type leaves reads (numerical with missing type None,
// Zero or NaN, default left or not; categorical one-hot, in one word
// and in several words) and thresholds at the edges of leaves' rules.
func lgSynth(r *rand.Rand, features, groups, rounds int, forest bool) []byte {
	var trees []string
	total := 0
	thresholds := []float64{-1, -1e-35, -1e-36, 0, math.Copysign(0, -1), 1e-36, 1e-35, math.Nextafter(1e-35, 1),
		math.Nextafter(-1e-35, -1), 0.5, 1, 2.5, 1e300, math.Inf(1), math.Inf(-1), math.NaN()}
	for t := range rounds * groups {
		leavesN := 1 + r.IntN(12)
		total += leavesN
		var feat, th, dt, left, right, cb, ct []string
		cb = append(cb, "0")
		words := 0
		// build lays out a subtree of n leaves from node next and leaf
		// leaf on, in LightGBM's numbering, and returns its reference.
		next, leaf := 0, 0
		var build func(n int) int
		build = func(n int) int {
			if n == 1 {
				leaf++
				return ^(leaf - 1)
			}
			i := next
			next++
			feat, th, dt, left, right = append(feat, ""), append(th, ""), append(dt, ""), append(left, ""), append(right, "")
			feat[i] = strconv.Itoa(r.IntN(features))
			missing := r.IntN(3) << 2
			if r.IntN(2) == 0 {
				missing |= 2 // default left
			}
			if r.IntN(3) == 0 {
				set := len(cb) - 1
				nw := 1 + r.IntN(3)
				bits := make([]uint32, nw)
				switch r.IntN(3) {
				case 0: // one category
					bits[r.IntN(nw)] = 1 << r.IntN(32)
				default:
					for k := range bits {
						bits[k] = r.Uint32() & r.Uint32()
					}
					bits[0] |= 1 << r.IntN(32)
				}
				for _, w := range bits {
					ct = append(ct, strconv.FormatUint(uint64(w), 10))
				}
				words += nw
				cb = append(cb, strconv.Itoa(words))
				th[i], dt[i] = strconv.Itoa(set), strconv.Itoa(1|missing)
			} else {
				th[i] = strconv.FormatFloat(thresholds[r.IntN(len(thresholds))], 'g', -1, 64)
				if r.IntN(2) == 0 {
					th[i] = strconv.FormatFloat((r.Float64()-0.5)*8, 'g', -1, 64)
				}
				dt[i] = strconv.Itoa(missing)
			}
			k := 1 + r.IntN(n-1)
			l := build(k)
			rr := build(n - k)
			left[i], right[i] = strconv.Itoa(l), strconv.Itoa(rr)
			return i
		}
		build(leavesN)
		vals := make([]string, leavesN)
		for k := range vals {
			vals[k] = strconv.FormatFloat((r.Float64()-0.5)*4, 'g', -1, 64)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "Tree=%d\nnum_leaves=%d\nnum_cat=%d\n", t, leavesN, len(cb)-1)
		j := func(s []string) string { return strings.Join(s, " ") }
		fmt.Fprintf(&b, "split_feature=%s\nthreshold=%s\ndecision_type=%s\nleft_child=%s\nright_child=%s\nleaf_value=%s\n",
			j(feat), j(th), j(dt), j(left), j(right), j(vals))
		if len(cb) > 1 {
			fmt.Fprintf(&b, "cat_boundaries=%s\ncat_threshold=%s\n", j(cb), j(ct))
		}
		b.WriteString("shrinkage=1\n\n")
		trees = append(trees, b.String())
	}
	var b strings.Builder
	objective := "regression"
	if groups > 1 {
		objective = fmt.Sprintf("multiclass num_class:%d", groups)
	}
	fmt.Fprintf(&b, "tree\nversion=v3\nnum_class=%d\nnum_tree_per_iteration=%d\nlabel_index=0\nmax_feature_idx=%d\nobjective=%s\n",
		groups, groups, features-1, objective)
	if forest {
		b.WriteString("average_output\n")
	}
	sizes := make([]string, len(trees))
	for k, s := range trees {
		sizes[k] = strconv.Itoa(len(s))
	}
	fmt.Fprintf(&b, "tree_sizes=%s\n\n", strings.Join(sizes, " "))
	for _, s := range trees {
		b.WriteString(s)
	}
	b.WriteString("end of trees\n")
	return []byte(b.String())
}

// checkSynth builds a random model from seed, loads it and compares it
// with leaves on random rows; it returns the model's node kinds.
func checkSynth(t testing.TB, seed uint64, rows int) [6]int {
	r := rand.New(rand.NewPCG(seed, seed>>32^0x9e3779b97f4a7c15))
	features, groups, rounds := 1+r.IntN(6), 1+r.IntN(3), 1+r.IntN(8)
	b := lgSynth(r, features, groups, rounds, r.IntN(4) == 0)
	labels := map[string]string{leaves.LabelTransform: "raw"}
	if r.IntN(3) == 0 {
		labels[leaves.LabelEstimators] = strconv.Itoa(1 + r.IntN(rounds))
	}
	d := serving.Descriptor{Name: "synth", Format: leaves.FormatLightGBM, Bytes: b, Labels: labels}
	sm, err := serving.Load(context.Background(), d)
	if err != nil {
		t.Fatalf("seed %d: %v\n%s", seed, err, b)
	}
	m := sm.(*leaves.Model)
	if !checkSame(t, m, d, randomRows(r, m, features, rows)) {
		t.Fatalf("seed %d: not compiled", seed)
	}
	return leaves.FlatKinds(m)
}

// TestFlatMatchesLeavesSynthetic compares 300 random models, whose
// nodes cover every decision type and missing-value rule leaves reads,
// with leaves, on random rows of edge values; and checks that every
// kind of node of the flat form was met.
func TestFlatMatchesLeavesSynthetic(t *testing.T) {
	var kinds [6]int
	for seed := range uint64(300) {
		for k, n := range checkSynth(t, seed, 200) {
			kinds[k] += n
		}
	}
	t.Logf("node kinds (le, notgt, numeric, onehot, small, bitset): %v", kinds)
	for k, n := range kinds {
		if n == 0 {
			t.Errorf("no node of kind %d in the synthetic models", k)
		}
	}
}

// FuzzFlatMatchesLeaves compares a random model built from the fuzzed
// seed with leaves on random rows.
func FuzzFlatMatchesLeaves(f *testing.F) {
	for seed := range uint64(8) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed uint64) { checkSynth(t, seed, 50) })
}
