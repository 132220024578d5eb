package leaves_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/leaves"
)

// seedModels names one real model per format.
var seedModels = []struct{ format, file string }{
	{"lightgbm", "lg_dart_breast_cancer.model"},
	{"lightgbm", "model_simple.txt"},
	{"lightgbm-json", "lg_dart_breast_cancer.json"},
	{"xgboost", "xgagaricus.model"},
	{"xgboost", "xg_dart_agaricus.model"},
	{"xgboost", "xgblin_agaricus.model"},
	{"sklearn", "sk_iris.model"},
}

// loadBytes loads b as format through serving.Load.
func loadBytes(format string, b []byte, labels map[string]string) (serving.Model, error) {
	return serving.Load(context.Background(), serving.Descriptor{Name: "bad", Format: format, Bytes: b, Labels: labels})
}

// wantLoadError asserts that err is a *serving.ModelError wrapping a
// *serving.FormatError of the given kind.
func wantLoadError(t *testing.T, err error, kind error) {
	t.Helper()
	if err == nil {
		t.Fatalf("loaded, want an error wrapping %v", kind)
	}
	var le *serving.ModelError
	if !errors.As(err, &le) {
		t.Fatalf("error %T is not a *serving.ModelError: %v", err, err)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error does not wrap %v: %v", kind, err)
	}
	var fe *serving.FormatError
	if (kind == serving.ErrCorruptModel || kind == serving.ErrUnsupportedModel) && !errors.As(err, &fe) {
		t.Fatalf("error has no *serving.FormatError: %v", err)
	}
}

// TestCorruptBytes truncates every seed model at several points and
// replaces it with random bytes: each load must fail with
// ErrCorruptModel inside a *serving.ModelError, and nothing may panic.
func TestCorruptBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range seedModels {
		b := readFile(t, s.file)
		cases := map[string][]byte{"empty-ish": b[:1], "10 bytes": b[:10]}
		for _, frac := range []float64{0.1, 0.5, 0.9} {
			cases[fmt.Sprintf("truncated to %.0f%%", 100*frac)] = b[:int(float64(len(b))*frac)]
		}
		for _, n := range []int{16, 512, len(b)} {
			r := make([]byte, n)
			for i := range r {
				r[i] = byte(rng.UintN(256))
			}
			cases[fmt.Sprintf("%d random bytes", n)] = r
		}
		for name, bad := range cases {
			t.Run(s.file+"/"+name, func(t *testing.T) {
				_, err := loadBytes(s.format, bad, nil)
				wantLoadError(t, err, serving.ErrCorruptModel)
			})
		}
	}
}

// TestHostileBytes feeds crafted models that would make leaves allocate
// terabytes, or build a tree whose prediction never ends.
func TestHostileBytes(t *testing.T) {
	simple := string(readFile(t, "model_simple.txt"))
	xg := readFile(t, "xgagaricus.model")
	sk := string(readFile(t, "sk_iris.model"))

	// A tree whose third node's left child is the root: a cycle.
	cycle := strings.Replace(simple, `num_leaves=3
num_cat=1
split_feature=1 0
split_gain=138.409 13.4409
threshold=0 340.50000000000006
decision_type=9 2
left_child=-1 -2
right_child=1 -3
leaf_value=0.56697267424823339 0.3584987837673016 0.41213915936587919`, `num_leaves=4
num_cat=0
split_feature=0 0 0
split_gain=1 1 1
threshold=1 2 3
decision_type=2 2 2
left_child=1 2 0
right_child=-1 -2 -3
leaf_value=1 2 3 4`, 1)
	if cycle == simple {
		t.Fatal("model_simple.txt changed; update the cycle fixture")
	}
	// The number of nodes of the first XGBoost tree, set to 2^31-1.
	hugeNodes := bytes.Clone(xg)
	off := 136 + 8 + len("binary:logistic") + 8 + len("gbtree") + 160 + 4
	if string(xg[136+8:136+8+len("binary:logistic")]) != "binary:logistic" {
		t.Fatal("xgagaricus.model layout not as expected")
	}
	hugeNodes[off], hugeNodes[off+1], hugeNodes[off+2], hugeNodes[off+3] = 0xff, 0xff, 0xff, 0x7f

	cases := []struct {
		name, format string
		b            []byte
	}{
		{"lightgbm tree with a cycle", "lightgbm", []byte(cycle)},
		{"lightgbm num_leaves 10^12", "lightgbm", []byte(strings.Replace(simple, "num_leaves=3", "num_leaves=1000000000000", 1))},
		{"lightgbm split on a feature past max_feature_idx", "lightgbm", []byte(strings.Replace(simple, "split_feature=1 0", "split_feature=1 7", 1))},
		{"lightgbm json num_leaves 10^12", "lightgbm-json", bytes.Replace(readFile(t, "lg_1tree.json"), []byte(`"num_leaves": 3`), []byte(`"num_leaves": 1000000000000`), 1)},
		{"xgboost num_nodes 2^31-1", "xgboost", hugeNodes},
		{"sklearn n_classes 10^13", "sklearn", []byte(strings.Replace(sk, "Vn_classes_\np51\nL3L\n", "Vn_classes_\np51\nL10000000000000L\n", 1))},
		{"sklearn node_count 2^31-1", "sklearn", []byte(strings.Replace(sk, "Vnode_count\np131\nL3L\n", "Vnode_count\np131\nL2147483647L\n", 1))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadBytes(c.format, c.b, nil)
			wantLoadError(t, err, serving.ErrCorruptModel)
			t.Log(err)
		})
	}
}

// TestWrongFormat checks the hints for bytes published under the wrong
// format, and the formats leaves cannot read.
func TestWrongFormat(t *testing.T) {
	_, err := loadBytes("lightgbm", readFile(t, "lg_dart_breast_cancer.json"), nil)
	wantLoadError(t, err, serving.ErrCorruptModel)
	if !strings.Contains(err.Error(), "lightgbm-json") {
		t.Errorf("error lacks the lightgbm-json hint: %v", err)
	}
	// XGBoost itself skips a "binf" header, which 1.x writes before the
	// legacy binary layout; so does the xgboost format.
	plain, err := loadBytes("xgboost", readFile(t, "xgagaricus.model"), nil)
	if err != nil {
		t.Fatal(err)
	}
	binf, err := loadBytes("xgboost", append([]byte("binf"), readFile(t, "xgagaricus.model")...), nil)
	if err != nil {
		t.Fatalf("binf header: %v", err)
	}
	x := make([]float64, plain.(serving.Describer).Describe().Features)
	p1, _ := plain.Predict(context.Background(), x)
	p2, _ := binf.Predict(context.Background(), x)
	if p1.Value != p2.Value || p1.Label != p2.Label {
		t.Fatalf("binf header changes the prediction: %v, want %v", p2, p1)
	}
	// JSON goes to package xgboost, which finds no model in this one.
	_, err = loadBytes("xgboost", []byte(`{"learner": {}}`), nil)
	wantLoadError(t, err, serving.ErrCorruptModel)
}

func TestUnknownObjective(t *testing.T) {
	b := bytes.Replace(readFile(t, "lg_dart_breast_cancer.model"), []byte("objective=binary sigmoid:1"), []byte("objective=cross_entropy_lambda"), 1)
	_, err := loadBytes("lightgbm", b, nil)
	wantLoadError(t, err, serving.ErrUnsupportedModel)
	if !strings.Contains(err.Error(), leaves.LabelTransform) {
		t.Errorf("error lacks the label hint: %v", err)
	}
	m, err := loadBytes("lightgbm", b, map[string]string{leaves.LabelTransform: "raw"})
	if err != nil {
		t.Fatalf("with %s=raw: %v", leaves.LabelTransform, err)
	}
	if tr := m.(*leaves.Model).Transform(); tr != leaves.Raw {
		t.Errorf("Transform() = %q", tr)
	}
}

func TestSigmoidScale(t *testing.T) {
	b := readFile(t, "lg_dart_breast_cancer.model")
	b2 := bytes.Replace(b, []byte("objective=binary sigmoid:1"), []byte("objective=binary sigmoid:2"), 1)
	ctx := context.Background()
	rawM, err := loadBytes("lightgbm", b, map[string]string{leaves.LabelTransform: "raw"})
	if err != nil {
		t.Fatal(err)
	}
	m2, err := loadBytes("lightgbm", b2, nil)
	if err != nil {
		t.Fatal(err)
	}
	x := readTable(t, "breast_cancer_test.tsv", false)[3]
	z, _ := rawM.Predict(ctx, x)
	p, _ := m2.Predict(ctx, x)
	if want := 1 / (1 + math.Exp(-2*z.Value)); math.Abs(p.Value-want) > 1e-15 {
		t.Errorf("sigmoid:2 gives %v, want %v", p.Value, want)
	}
}

func TestBadLabels(t *testing.T) {
	b := readFile(t, "lg_dart_breast_cancer.model")
	for _, labels := range []map[string]string{
		{leaves.LabelTransform: "sigmoid"},
		{leaves.LabelTransform: "softmax"}, // one output
		{leaves.LabelEstimators: "-1"},
		{leaves.LabelEstimators: "ten"},
		{leaves.LabelEstimators: "100000"},
	} {
		_, err := loadBytes("lightgbm", b, labels)
		wantLoadError(t, err, serving.ErrInvalidDescriptor)
	}
}

func TestDescriptorErrors(t *testing.T) {
	b := readFile(t, "xgagaricus.model")
	ctx := context.Background()

	_, err := serving.Load(ctx, serving.Descriptor{Name: "m", Format: "xgboost", Bytes: b, SHA256: serving.ContentID([]byte("other"))})
	wantLoadError(t, err, serving.ErrChecksum)
	var ce *serving.ChecksumError
	if !errors.As(err, &ce) || ce.Got != serving.ContentID(b) {
		t.Errorf("no *serving.ChecksumError naming the real hash: %v", err)
	}
	if _, err := serving.Load(ctx, serving.Descriptor{Name: "m", Format: "xgboost", Bytes: b, SHA256: serving.ContentID(b)}); err != nil {
		t.Errorf("right sha256 refused: %v", err)
	}

	_, err = serving.Load(ctx, serving.Descriptor{Name: "m", Format: "catboost", Bytes: b})
	wantLoadError(t, err, serving.ErrUnknownFormat)
	if !strings.Contains(err.Error(), "forgotten import?") {
		t.Errorf("no import hint: %v", err)
	}

	_, err = serving.Load(ctx, serving.Descriptor{Format: "xgboost", Bytes: b})
	wantLoadError(t, err, serving.ErrInvalidDescriptor)
}

func TestFeatureCount(t *testing.T) {
	ctx := context.Background()
	for _, s := range seedModels {
		m, err := loadBytes(s.format, readFile(t, s.file), nil)
		if err != nil {
			t.Fatalf("%s: %v", s.file, err)
		}
		n := m.(serving.Describer).Describe().Features
		for _, got := range []int{0, n - 1, n + 1} {
			_, err := m.Predict(ctx, make([]float64, got))
			var fe *serving.FeatureCountError
			if !errors.As(err, &fe) || fe.Want != n || fe.Got != got || !errors.Is(err, serving.ErrFeatureCount) {
				t.Errorf("%s: Predict with %d of %d features: %v", s.file, got, n, err)
			}
			out := make([]serving.Prediction, 2)
			err = m.(serving.BatchPredictor).PredictBatch(ctx, [][]float64{make([]float64, n), make([]float64, got)}, out)
			if !errors.As(err, &fe) {
				t.Errorf("%s: PredictBatch with a %d-feature row: %v", s.file, got, err)
			}
		}
	}
	// Through a Server, the error is a *serving.ModelError naming the model.
	srv, _ := serving.NewServer(quiet)
	defer srv.Close()
	ref, err := srv.Activate(ctx, serving.Descriptor{Name: "m", Format: "xgboost", Version: 1, Bytes: readFile(t, "xgagaricus.model")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = srv.Model("m").Score(ctx, serving.Record{Features: []float64{1, 2, 3}})
	var se *serving.ModelError
	var fe *serving.FeatureCountError
	if !errors.As(err, &se) || se.Model != ref || !errors.As(err, &fe) || fe.Got != 3 {
		t.Errorf("Score with 3 features: %v", err)
	}
}

// TestNonFinite checks NaN and Inf under each Server NonFinite policy.
// Trees route NaN as "missing", so AllowMissing must reach the model and
// give what the model itself gives.
func TestNonFinite(t *testing.T) {
	ctx := context.Background()
	d := serving.Descriptor{Name: "m", Format: "lightgbm", Version: 1, Bytes: readFile(t, "lg_dart_breast_cancer.model")}
	m, err := serving.Load(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	row := readTable(t, "breast_cancer_test.tsv", false)[0]
	withNaN := append([]float64(nil), row...)
	withNaN[3] = math.NaN()
	withInf := append([]float64(nil), row...)
	withInf[5] = math.Inf(-1)
	direct, err := m.Predict(ctx, withNaN)
	if err != nil || math.IsNaN(direct.Value) {
		t.Fatalf("model on NaN: %v %v", direct, err)
	}

	for _, c := range []struct {
		name         string
		policy       serving.NonFinitePolicy
		nanOK, infOK bool
	}{
		{"RejectNonFinite (default)", serving.RejectNonFinite, false, false},
		{"AllowMissing", serving.AllowMissing, true, false},
		{"PassNonFinite", serving.PassNonFinite, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, _ := serving.NewServer(quiet, serving.WithNonFinite(c.policy))
			defer srv.Close()
			if _, err := srv.Activate(ctx, d); err != nil {
				t.Fatal(err)
			}
			res, err := srv.Model("m").Score(ctx, serving.Record{Features: withNaN})
			if c.nanOK {
				if err != nil || res.Value != direct.Value {
					t.Errorf("NaN: %v, %v; want %v", res.Value, err, direct.Value)
				}
			} else {
				var nf *serving.NonFiniteError
				if !errors.Is(err, serving.ErrNonFinite) || !errors.As(err, &nf) || nf.Index != 3 {
					t.Errorf("NaN: %v", err)
				}
			}
			_, err = srv.Model("m").Score(ctx, serving.Record{Features: withInf})
			if c.infOK != (err == nil) {
				t.Errorf("-Inf: %v", err)
			}
			if !c.infOK && !errors.Is(err, serving.ErrNonFinite) {
				t.Errorf("-Inf error does not wrap ErrNonFinite: %v", err)
			}
		})
	}
}

// TestRegressionSqrt: LightGBM trained with reg_sqrt=true writes its
// objective as "regression sqrt" (so for regression_l1, huber, fair,
// quantile and mape) and squares the raw score at prediction, which
// leaves does not: such a model is refused, not served in square-root
// space, unless a label asks for the raw scores.
func TestRegressionSqrt(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "lightgbm4", "regression.model.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range []string{"regression sqrt", "huber sqrt", "quantile alpha:0.5 sqrt"} {
		bs := bytes.Replace(b, []byte("objective=regression\n"), []byte("objective="+obj+"\n"), 1)
		_, err := loadBytes("lightgbm", bs, nil)
		wantLoadError(t, err, serving.ErrUnsupportedModel)
		if _, err := loadBytes("lightgbm", bs, map[string]string{leaves.LabelTransform: "raw"}); err != nil {
			t.Errorf("%s with %s=raw: %v", obj, leaves.LabelTransform, err)
		}
	}
}

// TestDeclaredLeavesBoundedInTotal: leaves keeps, for every tree, room
// for the leaves it declares, whatever the tree holds. Each tree
// declaring up to the model's size let a model of n bytes and n/100
// trees take memory in n², so the declared leaves of all trees together
// are bounded by the model's size.
func TestDeclaredLeavesBoundedInTotal(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "lightgbm4", "regression.model.txt"))
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`(?m)^num_leaves=\d+$`).ReplaceAll(b, []byte("num_leaves=4000"))
	_, err = loadBytes("lightgbm", text, nil)
	wantLoadError(t, err, serving.ErrCorruptModel)

	j, err := os.ReadFile(filepath.Join("testdata", "lightgbm4", "binary_classification.model.json"))
	if err != nil {
		t.Fatal(err)
	}
	n := strconv.Itoa(len(j) - 1)
	dump := regexp.MustCompile(`"num_leaves":\s*\d+`).ReplaceAll(j, []byte(`"num_leaves":`+n))
	_, err = loadBytes("lightgbm-json", dump, nil)
	wantLoadError(t, err, serving.ErrCorruptModel)
}

// TestRandomForestTransform: LightGBM 3.0 and later predict a random
// forest (average_output) as the objective's transform of the averaged
// tree outputs (GBDT::Predict averages, then calls ConvertOutput), and
// store raw scores in the leaves. LightGBM 2.x before 2.2.3 stored
// leaves already transformed and did not transform the average, which is
// what the v2 model of leaves' test data shows (TestTruePredictions
// keeps it raw). A v3 or v4 binary forest must give sigmoid(mean), not
// the raw mean.
func TestRandomForestTransform(t *testing.T) {
	v2 := readFile(t, "lg_rf_iris.model")
	x := readLibsvm(t, "iris_test.libsvm", 4, 0)[0]
	ctx := context.Background()
	for _, version := range []string{"v3", "v4"} {
		b := bytes.Replace(v2, []byte("version=v2"), []byte("version="+version), 1)
		raw, err := loadBytes("lightgbm", b, map[string]string{leaves.LabelTransform: "raw"})
		if err != nil {
			t.Fatal(err)
		}
		m, err := loadBytes("lightgbm", b, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tr := m.(*leaves.Model).Transform(); tr != leaves.Logistic {
			t.Errorf("%s forest: Transform() = %q, want %q", version, tr, leaves.Logistic)
		}
		z, _ := raw.Predict(ctx, x)
		p, err := m.Predict(ctx, x)
		if want := 1 / (1 + math.Exp(-z.Value)); err != nil || math.Abs(p.Value-want) > 1e-15 {
			t.Errorf("%s forest gives %v, %v; want sigmoid(%v) = %v", version, p.Value, err, z.Value, want)
		}
	}
	// A v2 forest keeps its averaged outputs as they are.
	m, err := loadBytes("lightgbm", v2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tr := m.(*leaves.Model).Transform(); tr != leaves.Raw {
		t.Errorf("v2 forest: Transform() = %q, want %q", tr, leaves.Raw)
	}
}

// TestPickleSizesThroughMemo: the sizes leaves allocates by must be
// checked however the pickle spells them. A real pickle names a key, or
// the sklearn Tree class, once and fetches it from the memo (g) after
// that, and a Tree's n_outputs follows a numpy array built by its own
// global and REDUCE. In sk_iris.model the second tree's node_count key
// and every Tree's n_outputs come that way: set to 2^31-1, leaves
// allocates 2 GiB (a []bool of node_count) and 16 GiB (a []int of
// capacity n_outputs) while loading a 129 kB pickle.
func TestPickleSizesThroughMemo(t *testing.T) {
	sk := string(readFile(t, "sk_iris.model"))
	const huge = "L2147483647L\n"
	for _, c := range []struct{ name, old, new string }{
		{"node_count of tree 2 through the memo", "sg131\nL11L\n", "sg131\n" + huge},
		{"n_outputs of tree 1 after its numpy array", "tp127\nbL1L\ntp128\n", "tp127\nb" + huge + "tp128\n"},
		{"n_outputs of tree 2 built by a memo-fetched Tree", "tp187\nbL1L\n", "tp187\nb" + huge},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := strings.Replace(sk, c.old, c.new, 1)
			if b == sk {
				t.Fatal("sk_iris.model changed; update the fixture edit")
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := loadBytes("sklearn", []byte(b), nil)
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Errorf("loading a %d-byte pickle allocated %d MiB", len(b), alloc>>20)
			}
			wantLoadError(t, err, serving.ErrCorruptModel)
		})
	}
}

// TestPicklesLeavesCannotPrint: leaves' pickle decoder formats whole
// values into its errors with fmt. A dict that contains itself (SETITEM
// of a memo-fetched dict into itself) overflowed the goroutine stack,
// a fatal error that no recover catches and that killed the process;
// a tuple of a tuple of ... 40 deep, each holding its inner value twice
// through the memo, expands to 2^40 values and printing it never ended.
// Both are REDUCE arguments of the wrong count, which leaves prints.
func TestPicklesLeavesCannotPrint(t *testing.T) {
	const reduceOf = "ccopy_reg\n_reconstructor\n("
	var nest strings.Builder
	nest.WriteString("Va\np0\n")
	for k := 1; k <= 40; k++ {
		fmt.Fprintf(&nest, "(g%d\ng%d\ntp%d\n", k-1, k-1, k)
	}
	for _, c := range []struct{ name, pickle string }{
		{"dict holding itself", reduceOf + "(dp0\nVk\ng0\nstR."},
		{"2^40 shared values", nest.String() + reduceOf + "g40\ntR."},
	} {
		t.Run(c.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := loadBytes("sklearn", []byte(c.pickle), nil)
				done <- err
			}()
			select {
			case err := <-done:
				wantLoadError(t, err, serving.ErrCorruptModel)
			case <-time.After(30 * time.Second):
				t.Fatal("load still running after 30s")
			}
		})
	}
}

// TestSoftmaxOfAnInfiniteScore: the trees of a class can sum to +Inf from
// finite leaves (two rounds of 1e308). Softmax then gives that class all
// the probability, as in the limit, not NaN for every class, which the
// Server would pass on as a prediction.
func TestSoftmaxOfAnInfiniteScore(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "lightgbm4", "multiclass.model.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// Trees 0 and 3 are class 0's in rounds 0 and 1 (3 trees per round).
	lines := strings.Split(string(b), "\n")
	tree := ""
	for i, l := range lines {
		if strings.HasPrefix(l, "Tree=") {
			tree = l
		}
		if (tree == "Tree=0" || tree == "Tree=3") && strings.HasPrefix(l, "leaf_value=") {
			n := len(strings.Fields(strings.TrimPrefix(l, "leaf_value=")))
			lines[i] = "leaf_value=" + strings.TrimSpace(strings.Repeat("1e308 ", n))
		}
	}
	m, err := loadBytes("lightgbm", []byte(strings.Join(lines, "\n")), nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Predict(context.Background(), make([]float64, 10))
	if err != nil {
		t.Fatal(err)
	}
	if p.Value != 1 || p.Confidence != 1 || len(p.Values) != 3 || p.Values[0] != 1 || p.Values[1] != 0 || p.Values[2] != 0 {
		t.Fatalf("softmax of (+Inf, finite, finite) = %+v, want Values [1 0 0], Value and Confidence 1", p)
	}
}

// lgJSONDump is a LightGBM 4 JSON dump of one regression tree over two
// features, with the given tree_structure and num_leaves.
func lgJSONDump(tree string, leaves int) []byte {
	return fmt.Appendf(nil, `{"name":"tree","version":"v4","num_class":1,"num_tree_per_iteration":1,"label_index":0,`+
		`"max_feature_idx":1,"objective":"regression","average_output":false,"feature_names":["a","b"],"feature_infos":{},`+
		`"tree_info":[{"tree_index":0,"num_leaves":%d,"num_cat":1,"shrinkage":1,"tree_structure":%s}]}`, leaves, tree)
}

// lgJSONChain is a tree_structure of depth nodes, each the left child of
// the one before.
func lgJSONChain(depth int) string {
	var b strings.Builder
	for range depth {
		b.WriteString(`{"split_index":0,"split_feature":0,"split_gain":0,"threshold":1,"decision_type":"<=","default_left":true,` +
			`"missing_type":"None","internal_value":0,"internal_weight":0,"internal_count":0,"left_child":`)
	}
	b.WriteString(`{"leaf_index":0,"leaf_value":1}`)
	for range depth {
		b.WriteString(`,"right_child":{"leaf_index":1,"leaf_value":2}}`)
	}
	return b.String()
}

// TestJSONDumpBombs feeds LightGBM JSON dumps that cost leaves' JSON
// decoder far more than their size. It unmarshals each node's whole
// subtree again, so a tree n nodes deep costs n² (to load a chain
// 1,200 deep, 300 kB, took 5.4 s; 9,000 deep, 2.2 MB, 3 min 23 s: wall
// time on 2 cores at load average 14 to 21); and
// for a categorical split it allocates one bit per category up to the
// largest, twice (the bitset and the tree's copy), so a 466-byte dump
// splitting on category 10^9 made leaves allocate 250 MB, and each more
// such split in a dump as much again. A chain 100 deep still loads.
func TestJSONDumpBombs(t *testing.T) {
	cat := func(set string) string {
		return `{"split_index":0,"split_feature":0,"threshold":"` + set + `","decision_type":"==","default_left":false,"missing_type":"None",` +
			`"left_child":{"leaf_index":0,"leaf_value":1},"right_child":{"leaf_index":1,"leaf_value":2}}`
	}
	for _, c := range []struct {
		name string
		b    []byte
		kind error
	}{
		{"chain 1200 deep", lgJSONDump(lgJSONChain(1200), 1201), serving.ErrUnsupportedModel},
		{"category 10^8", lgJSONDump(cat("0||100000000"), 2), serving.ErrCorruptModel},
		{"category 10^8 once escaped", lgJSONDump(cat(`0\u007c|100000000`), 2), serving.ErrCorruptModel},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadBytes("lightgbm-json", c.b, nil)
			wantLoadError(t, err, c.kind)
			t.Log(err)
		})
	}
	for _, b := range [][]byte{lgJSONDump(lgJSONChain(100), 101), lgJSONDump(cat("0||3||40"), 2)} {
		m, err := loadBytes("lightgbm-json", b, map[string]string{leaves.LabelTransform: "raw"})
		if err != nil {
			t.Fatal(err)
		}
		p, err := m.Predict(context.Background(), []float64{41, 0})
		if err != nil || p.Value != 2 {
			t.Fatalf("Predict: %v, %v; want 2", p, err)
		}
	}
}

// lgOneTree writes a LightGBM v3 text model of one regression tree over
// five features, with the given node arrays.
func lgOneTree(numLeaves int, feat, th, left, right, values string) []byte {
	tree := fmt.Sprintf("Tree=0\nnum_leaves=%d\nnum_cat=0\nsplit_feature=%s\nthreshold=%s\ndecision_type=%s\nleft_child=%s\nright_child=%s\nleaf_value=%s\nshrinkage=1\n\n",
		numLeaves, feat, th, strings.TrimSpace(strings.Repeat("2 ", numLeaves-1)), left, right, values)
	return fmt.Appendf(nil, "tree\nversion=v3\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=4\nobjective=regression\ntree_sizes=%d\n\n%send of trees\n", len(tree), tree)
}

// TestSharedSubtree: leaves builds its trees by walking them from the
// root, and a child met a second time (a node with two parents, or a
// cycle) is not built again, its parent's link left as it was. For a
// right link that means "the next node": in a tree where node 3 is the
// right child of node 1 and the left child of node 2, leaves sent
// node 1's right branch to node 4, a loaded model that answered 10
// where the tree says 30. Such trees, which LightGBM and XGBoost never
// write, are refused, in LightGBM text models and XGBoost binaries.
func TestSharedSubtree(t *testing.T) {
	const (
		feat   = "0 1 2 3 4"
		th     = "0.5 0.5 0.5 0.5 0.5"
		values = "10 20 30 40 50 60"
	)
	// Node 3 is the right child of node 1 and the left child of node 2.
	shared := lgOneTree(6, feat, th, "1 4 3 -3 -1", "2 3 -2 -4 -5", values)
	_, err := loadBytes("lightgbm", shared, nil)
	wantLoadError(t, err, serving.ErrCorruptModel)
	t.Log(err)
	// The root as a child, and a child past the last node.
	for _, links := range [][2]string{{"1 4 3 -3 -1", "2 0 -2 -4 -5"}, {"1 4 3 -3 -1", "2 5 -2 -4 -5"}} {
		_, err := loadBytes("lightgbm", lgOneTree(6, feat, th, links[0], links[1], values), nil)
		wantLoadError(t, err, serving.ErrCorruptModel)
	}
	// The same tree with node 1's right child a leaf of its own loads,
	// and answers 10 on the path root, node 1, node 3 (all left).
	m, err := loadBytes("lightgbm", lgOneTree(5, "0 1 2 4", "0.5 0.5 0.5 0.5", "1 3 -3 -1", "2 -4 -2 -5", "10 20 30 40 50"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := m.Predict(context.Background(), []float64{0, 0, 0, 0, 0}); err != nil || p.Value != 10 {
		t.Fatalf("Predict = %v, %v; want 10", p, err)
	}

	// XGBoost: the first tree of xgagaricus.model is node 0 with
	// children 1 and 2, whose children are the leaves 3, 4 and 5, 6.
	// Node 1 takes node 2 as its right child, and leaf 3 becomes a split
	// with leaf 4 on both sides: leaves, which builds node 2 once, sent
	// node 1's right branch to node 3.
	xg := readFile(t, "xgagaricus.model")
	nodes := 136 + 8 + len("binary:logistic") + 8 + len("gbtree") + 160 + 148
	link := func(b []byte, node, side, to int) int32 { // side 1: left, 2: right
		p := b[nodes+20*node+4*side:]
		old := int32(binary.LittleEndian.Uint32(p))
		binary.LittleEndian.PutUint32(p, uint32(to))
		return old
	}
	bad := bytes.Clone(xg)
	if link(bad, 0, 1, 1) != 1 || link(bad, 0, 2, 2) != 2 || link(bad, 1, 2, 2) != 4 || link(bad, 3, 1, 4) != -1 || link(bad, 3, 2, 4) != -1 {
		t.Fatal("xgagaricus.model layout not as expected")
	}
	_, err = loadBytes("xgboost", bad, nil)
	wantLoadError(t, err, serving.ErrCorruptModel)
	t.Log(err)
}

// TestTreeSizesBounded: leaves takes a LightGBM model's tree count from
// its tree_sizes line and allocates room for that many trees, and the
// split line, before it reads them: an 8 MB model whose tree_sizes lists
// 4 million trees made it allocate 480 MB before failing (60 times the
// model; a 1 GiB model would ask for 60 GiB). The list must now name
// as many trees as the model has; loading such a model allocates less
// than twice its size.
func TestTreeSizesBounded(t *testing.T) {
	simple := string(readFile(t, "model_simple.txt"))
	i := strings.Index(simple, "tree_sizes=")
	j := strings.Index(simple[i:], "\n")
	b := []byte(simple[:i] + "tree_sizes=" + strings.TrimSpace(strings.Repeat("1 ", 4_000_000)) + simple[i+j:])
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	_, err := loadBytes("lightgbm", b, nil)
	runtime.ReadMemStats(&ms)
	wantLoadError(t, err, serving.ErrCorruptModel)
	if n := ms.TotalAlloc - before; n > 2*uint64(len(b)) {
		t.Fatalf("allocated %d bytes to refuse a %d-byte model: %v", n, len(b), err)
	}
	t.Log(err)
	// One tree more listed than present, and one fewer.
	for _, sizes := range []string{"tree_sizes=1 1 1", "tree_sizes=1"} {
		bad := strings.Replace(simple, simple[i:i+j], sizes, 1)
		_, err := loadBytes("lightgbm", []byte(bad), nil)
		wantLoadError(t, err, serving.ErrCorruptModel)
	}
}

// TestNumLeavesOfEachTree: leaves allocates for the num_leaves a tree
// declares (about 33 bytes a leaf, for its nodes and the walk that
// builds them) once it has read the tree's lines, whatever those lines
// hold. The declared leaves of all trees together are bounded by the
// model's size, which still let a 1 MB model's one tree of 3 leaves
// declare a million and make leaves allocate 33 times the model. A
// tree must now have a leaf value for every leaf it declares.
func TestNumLeavesOfEachTree(t *testing.T) {
	simple := string(readFile(t, "model_simple.txt"))
	b := []byte(strings.Replace(simple, "num_leaves=3", "num_leaves=1000000", 1) + "\n" + strings.Repeat("x", 1<<20) + "\n")
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	_, err := loadBytes("lightgbm", b, nil)
	runtime.ReadMemStats(&ms)
	wantLoadError(t, err, serving.ErrCorruptModel)
	if n := ms.TotalAlloc - before; n > 2*uint64(len(b)) {
		t.Fatalf("allocated %d bytes to refuse a %d-byte model: %v", n, len(b), err)
	}
	t.Log(err)
}

// lgSharedSet: one tree, a chain of k categorical nodes that all use
// category set 0, of n words.
func lgSharedSet(k, n int) []byte {
	rep := func(s string, c int) string { return strings.TrimSpace(strings.Repeat(s+" ", c)) }
	left, right := make([]string, k), make([]string, k)
	for i := range k {
		left[i] = strconv.Itoa(^i)
		right[i] = strconv.Itoa(i + 1)
	}
	right[k-1] = strconv.Itoa(^k)
	tree := fmt.Sprintf("Tree=0\nnum_leaves=%d\nnum_cat=1\nsplit_feature=%s\nthreshold=%s\ndecision_type=%s\nleft_child=%s\nright_child=%s\nleaf_value=%s\ncat_boundaries=0 %d\ncat_threshold=3 %s\nshrinkage=1\n\n",
		k+1, rep("0", k), rep("0", k), rep("1", k), strings.Join(left, " "), strings.Join(right, " "), rep("1", k+1), n, rep("0", n-1))
	return fmt.Appendf(nil, "tree\nversion=v3\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=0\nobjective=regression\ntree_sizes=%d\n\n%send of trees\n", len(tree), tree)
}

// TestSharedCategorySet: leaves copies a categorical node's category
// set into its tree for each node that uses the set, so nodes sharing
// one large set take memory in the square of the model's size: a 46 kB
// model whose 2,000 nodes share a set of 5,000 words made leaves
// allocate 418 MB (and it loaded, its compiled form keeping 40 MB).
// The words the nodes use, counted per node, are now bounded by the
// model's size.
func TestSharedCategorySet(t *testing.T) {
	b := lgSharedSet(2000, 5000)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	_, err := loadBytes("lightgbm", b, nil)
	runtime.ReadMemStats(&ms)
	if n := ms.TotalAlloc - before; n > 20*uint64(len(b)) {
		t.Fatalf("allocated %d bytes for a %d-byte model: %v", n, len(b), err)
	}
	wantLoadError(t, err, serving.ErrCorruptModel)
	t.Log(err)
	// 20 nodes sharing a set of 5 words load, and answer as leaves does.
	m, err := loadBytes("lightgbm", lgSharedSet(20, 5), map[string]string{leaves.LabelTransform: "raw"})
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, m.(*leaves.Model), serving.Descriptor{Name: "m", Format: "lightgbm", Bytes: lgSharedSet(20, 5), Labels: map[string]string{leaves.LabelTransform: "raw"}},
		[][]float64{{0}, {1}, {2}, {33}, {math.NaN()}, {-1}})
}

// TestJSONNumLeavesOfEachTree: leaves allocates for the num_leaves a
// JSON dump's tree declares (about 40 bytes a leaf) whatever the tree
// holds; the bound on all trees together let a 1 MB dump whose one tree
// of 2 leaves declared a million allocate 45 MB, and load. A tree must
// now have a leaf value for every leaf it declares.
func TestJSONNumLeavesOfEachTree(t *testing.T) {
	tree := `{"split_index":0,"split_feature":0,"threshold":1,"decision_type":"<=","default_left":true,"missing_type":"None",` +
		`"left_child":{"leaf_index":0,"leaf_value":1},"right_child":{"leaf_index":1,"leaf_value":2}}`
	b := bytes.Replace(lgJSONDump(tree, 1000000), []byte(`"feature_infos":{}`), []byte(`"feature_infos":{},"pad":"`+strings.Repeat("x", 1<<20)+`"`), 1)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	_, err := loadBytes("lightgbm-json", b, nil)
	runtime.ReadMemStats(&ms)
	wantLoadError(t, err, serving.ErrCorruptModel)
	if n := ms.TotalAlloc - before; n > 4*uint64(len(b)) {
		t.Fatalf("allocated %d bytes to refuse a %d-byte dump: %v", n, len(b), err)
	}
	t.Log(err)
	if _, err := loadBytes("lightgbm-json", lgJSONDump(tree, 2), nil); err != nil {
		t.Fatal(err)
	}
}

// TestXGBoostBaseScoreFinite: leaves adds a legacy binary's base_score
// to every margin; a NaN or infinite one loaded, and the model answered
// NaN, or 1, for every row (xgagaricus.model). Such models are refused,
// as package xgboost refuses them in JSON and UBJSON.
func TestXGBoostBaseScoreFinite(t *testing.T) {
	for _, c := range []struct {
		file string
		off  int // of base_score
	}{{"xgagaricus.model", 0}, {"xgblin_agaricus.model", 0}, {"../xgboost/testdata/reg_squarederror.bin", 4}} {
		var b []byte
		if strings.HasPrefix(c.file, "..") {
			var err error
			if b, err = os.ReadFile(c.file); err != nil {
				t.Fatal(err)
			}
		} else {
			b = readFile(t, c.file)
		}
		for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
			bad := bytes.Clone(b)
			binary.LittleEndian.PutUint32(bad[c.off:], math.Float32bits(float32(v)))
			_, err := loadBytes("xgboost", bad, nil)
			wantLoadError(t, err, serving.ErrCorruptModel)
		}
		if _, err := loadBytes("xgboost", b, nil); err != nil {
			t.Fatal(err)
		}
	}
}
