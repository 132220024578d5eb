package leaves_test

import (
	"context"
	"fmt"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/leaves"
)

// stump is a LightGBM text model with one tree of two leaves, written by
// hand: feature 0 at most 0.5 scores -1, above it +1.
const stump = `tree
version=v3
num_class=1
num_tree_per_iteration=1
label_index=0
max_feature_idx=1
objective=binary sigmoid:1
tree_sizes=1

Tree=0
num_leaves=2
num_cat=0
split_feature=0
threshold=0.5
decision_type=2
left_child=-1
right_child=-2
leaf_value=-1 1
shrinkage=1


end of trees
`

// Loading a LightGBM model through serving: the binary objective makes
// the model return probabilities.
func Example() {
	ctx := context.Background()
	m, err := serving.Load(ctx, serving.Descriptor{Name: "stump", Format: leaves.FormatLightGBM, Bytes: []byte(stump)})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.(*leaves.Model).Transform(), m.(serving.Describer).Describe().Features, "features")
	for _, x := range [][]float64{{0.2, 7}, {0.9, 7}} {
		p, _ := m.Predict(ctx, x)
		fmt.Printf("x0=%.1f p=%.4f label=%s\n", x[0], p.Value, p.Label)
	}
	// The "leaves.transform" label asks for the raw margin instead.
	raw, _ := serving.Load(ctx, serving.Descriptor{Name: "stump", Format: leaves.FormatLightGBM, Bytes: []byte(stump),
		Labels: map[string]string{leaves.LabelTransform: "raw"}})
	p, _ := raw.Predict(ctx, []float64{0.9, 7})
	fmt.Println("raw", p.Value)
	// Output:
	// logistic 2 features
	// x0=0.2 p=0.2689 label=0
	// x0=0.9 p=0.7311 label=1
	// raw 1
}

// Importing the package registers its formats, and those of package
// xgboost, to which the "xgboost" format hands JSON and UBJSON models.
func Example_formats() {
	fmt.Println(serving.Formats())
	// Output: [lightgbm lightgbm-json sklearn xgboost xgboost-json xgboost-ubj]
}
