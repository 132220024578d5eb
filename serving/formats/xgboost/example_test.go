package xgboost_test

import (
	"context"
	"fmt"
	"log"

	"github.com/modelstream/modelstream/serving"
	_ "github.com/modelstream/modelstream/serving/formats/xgboost"
)

// tinyModel is an XGBoost JSON model as save_model writes it, cut down
// to one tree: age < 30 scores -1, otherwise 1 (margins), and a missing
// age goes right; binary:logistic turns the margin into a probability.
const tinyModel = `{"learner":{
 "feature_names":["age","income"],"feature_types":["float","float"],
 "learner_model_param":{"base_score":"5E-1","num_class":"0","num_feature":"2"},
 "objective":{"name":"binary:logistic"},
 "gradient_booster":{"name":"gbtree","model":{
  "gbtree_model_param":{"num_trees":"1","num_parallel_tree":"1"},
  "tree_info":[0],
  "trees":[{"tree_param":{"num_nodes":"3","num_feature":"2","size_leaf_vector":"0"},
   "left_children":[1,-1,-1],"right_children":[2,-1,-1],
   "split_indices":[0,0,0],"split_conditions":[3E1,-1E0,1E0],
   "default_left":[0,0,0],"split_type":[0,0,0]}]}}},
 "version":[1,7,4]}`

// A model message in format "xgboost-json" (or "xgboost", which also
// reads UBJSON and the legacy binary format) activates like any other;
// the model names its inputs, so a named record is bound to them by
// name whatever the order of its fields.
func Example() {
	ctx := context.Background()
	srv, err := serving.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	if _, err := srv.Activate(ctx, serving.Descriptor{Name: "churn", Format: "xgboost-json", Bytes: []byte(tinyModel)}); err != nil {
		log.Fatal(err)
	}
	layout, err := serving.NewLayout("income", "age")
	if err != nil {
		log.Fatal(err)
	}
	for _, age := range []float64{25, 40} {
		res, err := srv.Model("churn").Score(ctx, serving.Record{Layout: layout, Features: []float64{52000, age}})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("age %v: p=%.4f label=%s\n", age, res.Value, res.Label)
	}
	// Output:
	// age 25: p=0.2689 label=0
	// age 40: p=0.7311 label=1
}
