package xgboost_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/xgboost"
)

func tryLoad(format string, b []byte, labels map[string]string) (serving.Model, error) {
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

// TestTruncatedAndRandom cuts every JSON and UBJSON fixture at many
// points and replaces it with random bytes: each load fails with
// ErrCorruptModel, and nothing panics.
func TestTruncatedAndRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, name := range []string{"binary_logistic", "multi_softprob", "dart", "categorical", "gblinear", "rf_multi"} {
		for _, ext := range []string{"json", "ubj"} {
			format := map[string]string{"json": xgboost.FormatJSON, "ubj": xgboost.FormatUBJSON}[ext]
			b := readModel(t, name, ext)
			for _, n := range []int{0, 1, 2, 10, len(b) / 3, len(b) / 2, len(b) - 2, len(b) - 1} {
				_, err := tryLoad(format, b[:n], nil)
				if n == 0 {
					// An empty model is refused by serving.Load itself.
					if !errors.Is(err, serving.ErrInvalidDescriptor) {
						t.Fatalf("empty: %v", err)
					}
					continue
				}
				t.Run(fmt.Sprintf("%s.%s/cut at %d", name, ext, n), func(t *testing.T) {
					wantLoadError(t, err, serving.ErrCorruptModel)
				})
			}
			for range 20 {
				r := bytes.Clone(b)
				r[rng.IntN(len(r))] ^= byte(1 + rng.IntN(255))
				if m, err := tryLoad(format, r, nil); err == nil {
					predictAll(t, m)
				} else {
					var fe *serving.FormatError
					if !errors.As(err, &fe) {
						t.Fatalf("%s.%s with a flipped byte: %v", name, ext, err)
					}
				}
			}
		}
	}
	for _, n := range []int{1, 16, 4096} {
		r := make([]byte, n)
		for i := range r {
			r[i] = byte(rng.UintN(256))
		}
		for _, f := range []string{xgboost.FormatJSON, xgboost.FormatUBJSON} {
			_, err := tryLoad(f, r, nil)
			wantLoadError(t, err, serving.ErrCorruptModel)
		}
	}
}

// predictAll runs a loaded model on a few inputs; it must terminate
// without panicking.
func predictAll(t *testing.T, m serving.Model) {
	t.Helper()
	n := m.(serving.Describer).Describe().Features
	for _, v := range []float64{0, -1, 1, 2.5, 1e30, -1e30, math.NaN(), math.Inf(1), 7} {
		x := make([]float64, n)
		for i := range x {
			x[i] = v
		}
		if _, err := m.Predict(context.Background(), x); err != nil {
			t.Fatal(err)
		}
	}
}

// mutateJSON decodes a JSON fixture, lets f change it and encodes it
// again. trees is learner.gradient_booster.model.trees.
func mutateJSON(t *testing.T, name string, f func(learner map[string]any, trees []any)) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(readModel(t, name, "json"), &doc); err != nil {
		// The categorical fixture has NaN tokens; the others are plain JSON.
		t.Fatal(err)
	}
	learner := doc["learner"].(map[string]any)
	var trees []any
	if m, ok := learner["gradient_booster"].(map[string]any)["model"].(map[string]any); ok {
		if tr, ok := m["trees"].([]any); ok {
			trees = tr
		}
	}
	f(learner, trees)
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tree0(trees []any) map[string]any { return trees[0].(map[string]any) }

// TestHostileModels feeds models that decode but would make a trusting
// evaluator loop forever, index out of range or allocate without bound.
func TestHostileModels(t *testing.T) {
	deepJSON := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	deepUBJ := bytes.Repeat([]byte("["), 100000)
	hugeCount := []byte("{L\x00\x00\x00\x00\x00\x00\x00\x01a[$d#L\x7f\xff\xff\xff\xff\xff\xff\xff")
	hugeString := []byte("{L\x00\x00\x00\x00\x00\x00\x00\x01aSL\x7f\xff\xff\xff\xff\xff\xff\xff")
	hugeKey := []byte("{L\x7f\xff\xff\xff\xff\xff\xff\xff")
	negCount := []byte("{L\x00\x00\x00\x00\x00\x00\x00\x01a[#L\xff\xff\xff\xff\xff\xff\xff\xff")
	nullArray := []byte("{L\x00\x00\x00\x00\x00\x00\x00\x01a[$Z#L\x00\x00\x00\x00\x7f\xff\xff\xff}")
	corrupt := map[string]struct {
		format string
		b      []byte
	}{
		"deep JSON":            {xgboost.FormatJSON, []byte(`{"a":` + deepJSON + `}`)},
		"deep UBJSON":          {xgboost.FormatUBJSON, append([]byte("{L\x00\x00\x00\x00\x00\x00\x00\x01a"), deepUBJ...)},
		"UBJSON count 2^63-1":  {xgboost.FormatUBJSON, hugeCount},
		"UBJSON string 2^63-1": {xgboost.FormatUBJSON, hugeString},
		"UBJSON key 2^63-1":    {xgboost.FormatUBJSON, hugeKey},
		"UBJSON count -1":      {xgboost.FormatUBJSON, negCount},
		"UBJSON nulls x 2^31":  {xgboost.FormatUBJSON, nullArray},
		"JSON not a model":     {xgboost.FormatJSON, []byte(`{"learner": 3}`)},
		"JSON trailing data":   {xgboost.FormatJSON, append(readModel(t, "gblinear", "json"), []byte(" {}")...)},
		"UBJSON trailing data": {xgboost.FormatUBJSON, append(readModel(t, "gblinear", "ubj"), 'Z')},
		"UBJSON bytes as JSON": {xgboost.FormatJSON, readModel(t, "gblinear", "ubj")},
		"JSON bytes as UBJSON": {xgboost.FormatUBJSON, readModel(t, "gblinear", "json")},
		"cycle to the root": {xgboost.FormatJSON, mutateJSON(t, "binary_logistic", func(_ map[string]any, tr []any) {
			tree0(tr)["left_children"].([]any)[1] = 0.0
		})},
		"self loop": {xgboost.FormatJSON, mutateJSON(t, "binary_logistic", func(_ map[string]any, tr []any) {
			tree0(tr)["right_children"].([]any)[2] = 2.0
		})},
		"shared subtree": {xgboost.FormatJSON, mutateJSON(t, "binary_logistic", func(_ map[string]any, tr []any) {
			tree0(tr)["right_children"].([]any)[0] = tree0(tr)["left_children"].([]any)[0]
		})},
		"child out of range": {xgboost.FormatJSON, mutateJSON(t, "binary_logistic", func(_ map[string]any, tr []any) {
			tree0(tr)["left_children"].([]any)[0] = 1e6
		})},
		"negative child": {xgboost.FormatJSON, mutateJSON(t, "binary_logistic", func(_ map[string]any, tr []any) {
			tree0(tr)["right_children"].([]any)[0] = -7.0
		})},
		"feature out of range": {xgboost.FormatJSON, mutateJSON(t, "binary_logistic", func(_ map[string]any, tr []any) {
			tree0(tr)["split_indices"].([]any)[0] = 5.0
		})},
		"short array": {xgboost.FormatJSON, mutateJSON(t, "binary_logistic", func(_ map[string]any, tr []any) {
			a := tree0(tr)["split_conditions"].([]any)
			tree0(tr)["split_conditions"] = a[:len(a)-1]
		})},
		"num_nodes lies": {xgboost.FormatJSON, mutateJSON(t, "binary_logistic", func(_ map[string]any, tr []any) {
			tree0(tr)["tree_param"].(map[string]any)["num_nodes"] = "1000000000"
		})},
		"tree group out of range": {xgboost.FormatJSON, mutateJSON(t, "binary_logistic", func(l map[string]any, _ []any) {
			l["gradient_booster"].(map[string]any)["model"].(map[string]any)["tree_info"].([]any)[0] = 3.0
		})},
		"num_trees lies": {xgboost.FormatJSON, mutateJSON(t, "binary_logistic", func(l map[string]any, _ []any) {
			l["gradient_booster"].(map[string]any)["model"].(map[string]any)["gbtree_model_param"].(map[string]any)["num_trees"] = "7"
		})},
		"null leaf": {xgboost.FormatJSON, mutateJSON(t, "binary_logistic", func(_ map[string]any, tr []any) {
			a := tree0(tr)["split_conditions"].([]any)
			a[len(a)-1] = nil
		})},
		"base_score above 1": {xgboost.FormatJSON, mutateJSON(t, "binary_logistic", func(l map[string]any, _ []any) {
			l["learner_model_param"].(map[string]any)["base_score"] = "1.5E0"
		})},
		"base_score below 0": {xgboost.FormatJSON, mutateJSON(t, "binary_logistic", func(l map[string]any, _ []any) {
			l["learner_model_param"].(map[string]any)["base_score"] = "-1E-7"
		})},
		"base_score vector too long": {xgboost.FormatJSON, mutateJSON(t, "reg_squarederror", func(l map[string]any, _ []any) {
			l["learner_model_param"].(map[string]any)["base_score"] = "[1,2,3]"
		})},
		"num_feature 0": {xgboost.FormatJSON, mutateJSON(t, "gblinear", func(l map[string]any, _ []any) {
			l["learner_model_param"].(map[string]any)["num_feature"] = "0"
		})},
		"num_feature 2^40": {xgboost.FormatJSON, mutateJSON(t, "gblinear", func(l map[string]any, _ []any) {
			l["learner_model_param"].(map[string]any)["num_feature"] = "1099511627776"
		})},
		"linear weights short": {xgboost.FormatJSON, mutateJSON(t, "gblinear", func(l map[string]any, _ []any) {
			m := l["gradient_booster"].(map[string]any)["model"].(map[string]any)
			m["weights"] = m["weights"].([]any)[1:]
		})},
		"feature names repeated": {xgboost.FormatJSON, mutateJSON(t, "binary_logistic", func(l map[string]any, _ []any) {
			l["feature_names"].([]any)[1] = "f0"
		})},
		"feature names short": {xgboost.FormatJSON, mutateJSON(t, "binary_logistic", func(l map[string]any, _ []any) {
			l["feature_names"] = l["feature_names"].([]any)[1:]
		})},
	}
	for name, c := range corrupt {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := tryLoad(c.format, c.b, nil)
			wantLoadError(t, err, serving.ErrCorruptModel)
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("refusing took %v", d)
			}
		})
	}
	unsupported := map[string][]byte{
		"objective": mutateJSON(t, "reg_squarederror", func(l map[string]any, _ []any) {
			l["objective"].(map[string]any)["name"] = "reg:madeup"
		}),
		"booster": mutateJSON(t, "reg_squarederror", func(l map[string]any, _ []any) {
			l["gradient_booster"].(map[string]any)["name"] = "gbforest"
		}),
		"vector leaves": mutateJSON(t, "reg_squarederror", func(_ map[string]any, tr []any) {
			tree0(tr)["tree_param"].(map[string]any)["size_leaf_vector"] = "3"
		}),
		"feature type": mutateJSON(t, "binary_logistic", func(l map[string]any, _ []any) {
			l["feature_types"] = []any{"q", "q", "q", "q", "s"}
		}),
	}
	for name, b := range unsupported {
		t.Run("unsupported "+name, func(t *testing.T) {
			_, err := tryLoad(xgboost.FormatJSON, b, nil)
			wantLoadError(t, err, serving.ErrUnsupportedModel)
		})
	}
}

// TestCategoryOutOfRange checks a categorical split's handling of values
// that are not categories of the set: they go left, as in XGBoost.
func TestCategoryCodes(t *testing.T) {
	m := loadAs(t, xgboost.FormatJSON, readModel(t, "categorical", "json"), nil)
	x := []float64{0.1, 0, 0.2, 0, 0.3}
	base, err := m.Predict(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	// Category 1 of cat_b is not in the root's set {0,2,3,5}: it goes
	// left, as does every invalid code.
	x[1] = 1
	left, _ := m.Predict(context.Background(), x)
	if left.Value == base.Value {
		t.Fatalf("categories 0 and 1 of cat_b give the same score %v; the fixture's first split separates them", base.Value)
	}
	for _, bad := range []float64{-1, -0.5, 1 << 24, math.Inf(1), math.Inf(-1), 1e300, 1.5} {
		x[1] = bad
		p, err := m.Predict(context.Background(), x)
		if err != nil {
			t.Fatal(err)
		}
		if p.Value != left.Value {
			t.Errorf("cat_b=%v: got %v, want %v (left, like category 1)", bad, p.Value, left.Value)
		}
	}
}

// TestDescriptorAndCalls covers labels, feature counts and batches.
func TestDescriptorAndCalls(t *testing.T) {
	b := readModel(t, "binary_logistic", "json")
	_, err := tryLoad(xgboost.FormatJSON, b, map[string]string{xgboost.LabelOutput: "probability"})
	if !errors.Is(err, serving.ErrInvalidDescriptor) {
		t.Fatalf("bad label: %v", err)
	}
	m := loadAs(t, xgboost.FormatJSON, b, nil)
	var fc *serving.FeatureCountError
	if _, err := m.Predict(context.Background(), make([]float64, 4)); !errors.As(err, &fc) || fc.Want != 5 || fc.Got != 4 {
		t.Fatalf("short row: %v", err)
	}
	bp := m.(serving.BatchPredictor)
	if err := bp.PredictBatch(context.Background(), [][]float64{make([]float64, 5), make([]float64, 6)}, make([]serving.Prediction, 2)); !errors.As(err, &fc) {
		t.Fatalf("batch with a long row: %v", err)
	}
	if err := bp.PredictBatch(context.Background(), [][]float64{make([]float64, 5)}, nil); err == nil {
		t.Fatal("batch with no room for outputs: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := bp.PredictBatch(ctx, [][]float64{make([]float64, 5)}, make([]serving.Prediction, 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled batch: %v", err)
	}
}

// TestUBJSONNumbers checks every UBJSON number type through a model's
// base_score and weights.
func TestUBJSONNumbers(t *testing.T) {
	key := func(s string) []byte { return append([]byte{'i', byte(len(s))}, s...) }
	be := func(v any) []byte {
		var buf bytes.Buffer
		binary.Write(&buf, binary.BigEndian, v)
		return buf.Bytes()
	}
	var doc []byte
	add := func(parts ...[]byte) {
		for _, p := range parts {
			doc = append(doc, p...)
		}
	}
	add([]byte("{"), key("learner"), []byte("{"),
		key("learner_model_param"), []byte("{"),
		key("num_feature"), []byte("U\x02"),
		key("base_score"), []byte("D"), be(0.25),
		[]byte("}"),
		key("objective"), []byte("{"), key("name"), []byte("SU\x10reg:squarederror"), []byte("}"),
		key("gradient_booster"), []byte("{"), key("name"), []byte("Si\x08gblinear"),
		key("model"), []byte("{"), key("weights"), []byte("["),
		[]byte("i\xfe"), []byte("I"), be(int16(300)), []byte("d"), be(float32(0.5)),
		[]byte("]}}}N}"))
	m := loadAs(t, xgboost.FormatUBJSON, doc, nil)
	p, err := m.Predict(context.Background(), []float64{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	// 0.25 + 1*-2 + 2*300 + 0.5
	if p.Value != 598.75 {
		t.Fatalf("got %v, want 598.75", p.Value)
	}
	doc[len(doc)-2] = 'X' // an unknown marker in place of the no-op
	_, err = tryLoad(xgboost.FormatUBJSON, doc, nil)
	wantLoadError(t, err, serving.ErrCorruptModel)
}

// TestBadVersionKeepsServing activates a good model, then corrupt,
// truncated and hostile versions of it: each activation fails with a
// typed error and the good version keeps answering.
func TestBadVersionKeepsServing(t *testing.T) {
	ctx := context.Background()
	srv, err := serving.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	good := readModel(t, "binary_logistic", "ubj")
	if _, err := srv.Activate(ctx, serving.Descriptor{Name: "m", Format: "xgboost-ubj", Version: 1, Bytes: good}); err != nil {
		t.Fatal(err)
	}
	row := readExpected(t, "binary_logistic").rows()[0]
	before, err := srv.Model("m").Score(ctx, serving.Record{Features: row})
	if err != nil {
		t.Fatal(err)
	}
	for i, bad := range [][]byte{
		good[:len(good)/2],
		append([]byte("{L\x00\x00\x00\x00\x00\x00\x00\x01a[$d#L\x7f"), make([]byte, 8)...),
		bytes.Repeat([]byte("["), 1<<16),
	} {
		_, err := srv.Activate(ctx, serving.Descriptor{Name: "m", Format: "xgboost-ubj", Version: uint64(2 + i), Bytes: bad})
		var fe *serving.FormatError
		if !errors.As(err, &fe) {
			t.Fatalf("bad version %d: %v, want a *serving.FormatError", i, err)
		}
		after, err := srv.Model("m").Score(ctx, serving.Record{Features: row})
		if err != nil || after.Value != before.Value || after.Provenance.Model.Version != 1 {
			t.Fatalf("after bad version %d: %+v, %v", i, after, err)
		}
	}
}

// TestCategorySegmentsShared checks that category sets cannot overlap: a
// tree whose 1,023 categorical splits all point at the same 4,096
// categories would otherwise be decoded into a set of its own per split
// (16 MiB from a 60 KB document; a few MB of JSON asks for tens of GB).
// XGBoost writes each split's set after the previous one.
func TestCategorySegmentsShared(t *testing.T) {
	const depth, ncats = 10, 4096
	tree := func(shared bool) []byte {
		return mutateJSON(t, "binary_logistic", func(learner map[string]any, trees []any) {
			n := 1<<(depth+1) - 1
			left, right := make([]int, n), make([]int, n)
			feat, cond, dflt, stype := make([]int, n), make([]float64, n), make([]int, n), make([]int, n)
			var nodes, segs, sizes []int
			var cats []int
			for i := range n {
				if i >= n/2 {
					left[i], right[i], cond[i] = -1, -1, float64(i%7)/10
					continue
				}
				left[i], right[i], feat[i], stype[i] = 2*i+1, 2*i+2, 1, 1
				nodes = append(nodes, i)
				if shared {
					segs, sizes = append(segs, 0), append(sizes, ncats)
				} else {
					segs, sizes = append(segs, len(cats)), append(sizes, 1)
					cats = append(cats, i%ncats)
				}
			}
			if shared {
				for c := range ncats {
					cats = append(cats, c)
				}
			}
			gb := learner["gradient_booster"].(map[string]any)["model"].(map[string]any)
			gb["gbtree_model_param"].(map[string]any)["num_trees"] = "1"
			gb["tree_info"] = []int{0}
			gb["trees"] = []any{map[string]any{
				"tree_param":    map[string]any{"num_nodes": strconv.Itoa(n), "size_leaf_vector": "0"},
				"left_children": left, "right_children": right, "split_indices": feat,
				"split_conditions": cond, "default_left": dflt, "split_type": stype,
				"categories": cats, "categories_nodes": nodes,
				"categories_segments": segs, "categories_sizes": sizes,
			}}
		})
	}
	m, err := tryLoad(xgboost.FormatJSON, tree(false), nil)
	if err != nil {
		t.Fatalf("a tree of %d categorical splits with sets one after another: %v", 1<<depth-1, err)
	}
	predictAll(t, m)
	_, err = tryLoad(xgboost.FormatJSON, tree(true), nil)
	wantLoadError(t, err, serving.ErrCorruptModel)
}

// TestSoftmaxOfAnInfiniteMargin: XGBoost sums margins in float32, so two
// finite leaves of 3e38 in a class's trees sum to +Inf. Softmax then
// gives that class all the probability, as in the limit, not NaN for
// every class.
func TestSoftmaxOfAnInfiniteMargin(t *testing.T) {
	b := mutateJSON(t, "multi_softprob", func(l map[string]any, tr []any) {
		info := l["gradient_booster"].(map[string]any)["model"].(map[string]any)["tree_info"].([]any)
		for i, tree := range tr {
			if info[i].(float64) != 0 {
				continue
			}
			tree := tree.(map[string]any)
			left, cond := tree["left_children"].([]any), tree["split_conditions"].([]any)
			for n := range left {
				if left[n].(float64) == -1 {
					cond[n] = 3e38
				}
			}
		}
	})
	m := loadAs(t, xgboost.FormatJSON, b, nil)
	p, err := m.Predict(context.Background(), make([]float64, 5))
	if err != nil {
		t.Fatal(err)
	}
	if p.Value != 1 || p.Confidence != 1 || len(p.Values) != 3 || p.Values[0] != 1 || p.Values[1] != 0 || p.Values[2] != 0 {
		t.Fatalf("softmax of (+Inf, finite, finite) = %+v, want Values [1 0 0], Value and Confidence 1", p)
	}
}
