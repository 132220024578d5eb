package leaves

import (
	"bufio"
	"fmt"
	"strings"
	"testing"

	lv "github.com/dmitryikh/leaves"
)

// TestInspectSharedNode: leaves builds a node met twice once, so that
// the link it skipped reads as a link to the next node built, which then
// has two parents. inspect refuses such a tree, whatever the format it
// came from (the sklearn decoder builds its trees the same way, and has
// no scan of its own links); here leaves reads a LightGBM text tree
// directly, without checkLGLinks. Node 3 is the right child of node 1
// and the left child of node 2: leaves built node 1's right branch as
// node 4.
func TestInspectSharedNode(t *testing.T) {
	tree := "Tree=0\nnum_leaves=6\nnum_cat=0\nsplit_feature=0 1 2 3 4\nthreshold=0.5 0.5 0.5 0.5 0.5\n" +
		"decision_type=2 2 2 2 2\nleft_child=1 4 3 -3 -1\nright_child=2 3 -2 -4 -5\nleaf_value=10 20 30 40 50 60\nshrinkage=1\n\n"
	text := fmt.Sprintf("tree\nversion=v3\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=4\nobjective=regression\ntree_sizes=%d\n\n%send of trees\n", len(tree), tree)
	e, err := lv.LGEnsembleFromReader(bufio.NewReader(strings.NewReader(text)), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.PredictSingle([]float64{0, 1, 0, 0, 0}, 0); got != 10 {
		t.Fatalf("leaves predicts %v; this test expects leaves' 10 (the tree says 30)", got)
	}
	if _, err := inspect(e); err == nil || !strings.Contains(err.Error(), "two parents") {
		t.Fatalf("inspect: %v, want an error about a node with two parents", err)
	}
}

// TestInspectCycleToRoot: a LightGBM text tree whose node 1 takes the
// root as its left child is a cycle; leaves reads it without complaint,
// and a walk of the tree it builds would never reach a leaf. The root
// has no parent, so the two-parent count alone does not see this link:
// inspect refuses it as a link that does not point to a later node.
func TestInspectCycleToRoot(t *testing.T) {
	tree := "Tree=0\nnum_leaves=3\nnum_cat=0\nsplit_feature=0 1\nthreshold=0.5 0.5\n" +
		"decision_type=2 2\nleft_child=1 0\nright_child=-1 -2\nleaf_value=10 20 30\nshrinkage=1\n\n"
	text := fmt.Sprintf("tree\nversion=v3\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=4\nobjective=regression\ntree_sizes=%d\n\n%send of trees\n", len(tree), tree)
	e, err := lv.LGEnsembleFromReader(bufio.NewReader(strings.NewReader(text)), false)
	if err != nil {
		t.Fatalf("leaves refused the tree itself (%v); this test needs leaves to read it", err)
	}
	if _, err := inspect(e); err == nil || !strings.Contains(err.Error(), "is not a later node") {
		t.Fatalf("inspect: %v, want an error about a child that is not a later node", err)
	}
}
