package leaves_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/leaves"
)

// lgBig writes a LightGBM text model of trees numerical trees of n
// leaves each: tree t is a chain of n-1 splits, split i on feature
// (t+i)%features at i+0.5, with leaf i on its left.
func lgBig(trees, n, features int) []byte {
	var b strings.Builder
	var body strings.Builder
	sizes := make([]string, trees)
	for t := range trees {
		var tb strings.Builder
		feat, th, dt, left, right, vals := make([]string, n-1), make([]string, n-1), make([]string, n-1), make([]string, n-1), make([]string, n-1), make([]string, n)
		for i := range n - 1 {
			feat[i] = strconv.Itoa((t + i) % features)
			th[i] = strconv.FormatFloat(float64(i)+0.5, 'g', -1, 64)
			dt[i] = "2"
			left[i] = strconv.Itoa(^i)
			right[i] = strconv.Itoa(i + 1)
		}
		right[n-2] = strconv.Itoa(^(n - 1))
		for i := range vals {
			vals[i] = strconv.Itoa(i)
		}
		j := func(s []string) string { return strings.Join(s, " ") }
		fmt.Fprintf(&tb, "Tree=%d\nnum_leaves=%d\nnum_cat=0\nsplit_feature=%s\nthreshold=%s\ndecision_type=%s\nleft_child=%s\nright_child=%s\nleaf_value=%s\nshrinkage=1\n\n",
			t, n, j(feat), j(th), j(dt), j(left), j(right), j(vals))
		sizes[t] = strconv.Itoa(tb.Len())
		body.WriteString(tb.String())
	}
	fmt.Fprintf(&b, "tree\nversion=v3\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=%d\nobjective=regression\ntree_sizes=%s\n\n", features-1, strings.Join(sizes, " "))
	b.WriteString(body.String())
	b.WriteString("end of trees\n")
	return []byte(b.String())
}

// retainedBy returns the heap that load's result keeps reachable, after
// garbage collection.
func retainedBy(load func() any) (any, uint64) {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	v := load()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return v, ms.HeapAlloc - min(before, ms.HeapAlloc)
}

// TestCompiledModelDropsLeaves: a compiled Model kept leaves' decoded
// trees beside its compiled forest, which takes about as much memory
// again: a 2.3 MB model of 400 trees of 255 leaves retained 1.9 times
// its compiled form. Once compiled, leaves' trees are dropped, and the
// Model still predicts and counts its rounds.
func TestCompiledModelDropsLeaves(t *testing.T) {
	b := lgBig(400, 255, 20)
	v, retained := retainedBy(func() any {
		m, err := loadBytes("lightgbm", b, map[string]string{leaves.LabelTransform: "raw"})
		if err != nil {
			t.Fatal(err)
		}
		return m
	})
	m := v.(*leaves.Model)
	flat := leaves.FlatBytes(m)
	t.Logf("%d-byte model: retains %d bytes, compiled form %d", len(b), retained, flat)
	if leaves.HoldsLeaves(m) || float64(retained) > 1.25*float64(flat) {
		t.Errorf("retains %d bytes for %d of compiled form (holds leaves' trees: %v)", retained, flat, leaves.HoldsLeaves(m))
	}
	if n := m.Estimators(); n != 400 {
		t.Errorf("Estimators() = %d, want 400", n)
	}
	x := make([]float64, 20)
	x[0] = 3 // tree t splits on feature t%20 first, then the next ones
	p, err := m.Predict(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]serving.Prediction, 2)
	if err := m.PredictBatch(context.Background(), [][]float64{x, x}, out); err != nil || samePrediction(out[1], p) != "" {
		t.Fatalf("PredictBatch: %v, %v; Predict %v", out, err, p)
	}
	ref, _, err := leaves.LeavesOnly(serving.Descriptor{Name: "m", Format: "lightgbm", Bytes: b, Labels: map[string]string{leaves.LabelTransform: "raw"}})
	if err != nil {
		t.Fatal(err)
	}
	if q, err := ref.Predict(context.Background(), x); err != nil || samePrediction(p, q) != "" {
		t.Fatalf("leaves: %v, %v; compiled %v", q, err, p)
	}
}
