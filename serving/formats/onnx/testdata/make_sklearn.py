#!/usr/bin/python3
"""Writes the scikit-learn fixtures of serving/formats/onnx: models
trained with scikit-learn (Debian's python3-sklearn), converted to the
ai.onnx.ml graphs that skl2onnx emits for them by the short converter
below (onnx.helper only), with scikit-learn's own predict and
predict_proba for some rows. Also one hand-built graph with string,
double and bool inputs, checked against numpy.

Run from this directory: /usr/bin/python3 make_sklearn.py

Each model NAME gets NAME.onnx and NAME.json: {"rows": [...], "labels":
[predict], "proba": [predict_proba rows]} for classifiers, {"rows",
"outputs"} otherwise.
"""
import json

import numpy as np
from onnx import TensorProto, TypeProto, helper
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
from sklearn.linear_model import LogisticRegression

ML = helper.make_opsetid("ai.onnx.ml", 1)
ONNX = helper.make_opsetid("", 13)
ROWS = 40


def save(name, graph):
    model = helper.make_model(graph, opset_imports=[ONNX, ML], producer_name="modelstream make_sklearn.py")
    model.ir_version = 8
    with open(name + ".onnx", "wb") as f:
        f.write(model.SerializeToString())


def tree_nodes(trees, leaf_weights):
    """The node attributes of TreeEnsemble{Classifier,Regressor} for
    sklearn trees: x <= threshold goes to the left (true) child.
    leaf_weights(tree_index, tree, leaf) yields (target_or_class, weight)."""
    a = {k: [] for k in ["nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_modes", "nodes_values",
                         "nodes_truenodeids", "nodes_falsenodeids", "nodes_hitrates", "nodes_missing_value_tracks_true"]}
    w = {"treeids": [], "nodeids": [], "ids": [], "weights": []}
    for ti, est in enumerate(trees):
        t = est.tree_
        for n in range(t.node_count):
            leaf = t.children_left[n] == -1
            a["nodes_treeids"].append(ti)
            a["nodes_nodeids"].append(n)
            a["nodes_featureids"].append(0 if leaf else int(t.feature[n]))
            a["nodes_modes"].append("LEAF" if leaf else "BRANCH_LEQ")
            a["nodes_values"].append(0.0 if leaf else float(t.threshold[n]))
            a["nodes_truenodeids"].append(0 if leaf else int(t.children_left[n]))
            a["nodes_falsenodeids"].append(0 if leaf else int(t.children_right[n]))
            a["nodes_hitrates"].append(1.0)
            a["nodes_missing_value_tracks_true"].append(0)
            if leaf:
                for target, weight in leaf_weights(ti, t, n):
                    w["treeids"].append(ti)
                    w["nodeids"].append(n)
                    w["ids"].append(target)
                    w["weights"].append(weight)
    return a, w


def classifier_graph(name, features, classes, core_node, probs_name="probabilities"):
    """skl2onnx's classifier tail: the core node writes label and
    probabilities; ZipMap turns probabilities into a map per row."""
    int_labels = all(isinstance(c, (int, np.integer)) for c in classes)
    zip_attr = {"classlabels_int64s": [int(c) for c in classes]} if int_labels else {"classlabels_strings": [str(c) for c in classes]}
    nodes = [
        core_node,
        helper.make_node("Identity", ["label"], ["output_label"]),
        helper.make_node("ZipMap", [probs_name], ["output_probability"], domain="ai.onnx.ml", **zip_attr),
    ]
    label_type = TensorProto.INT64 if int_labels else TensorProto.STRING
    key_type = TensorProto.INT64 if int_labels else TensorProto.STRING
    return helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("float_input", TensorProto.FLOAT, [None, features])],
        [helper.make_tensor_value_info("output_label", label_type, [None]),
         helper.make_value_info("output_probability", seq_of_maps(key_type)),
         ])


def seq_of_maps(key_type):
    """The type seq(map(key_type, float)) that ZipMap writes."""
    m = TypeProto()
    m.map_type.key_type = key_type
    m.map_type.value_type.tensor_type.elem_type = TensorProto.FLOAT
    t = TypeProto()
    t.sequence_type.elem_type.CopyFrom(m)
    return t


def class_attr(classes):
    if all(isinstance(c, (int, np.integer)) for c in classes):
        return {"classlabels_int64s": [int(c) for c in classes]}
    return {"classlabels_strings": [str(c) for c in classes]}


def write_classifier(name, model, X):
    rows = X[:ROWS].astype(np.float32)
    json.dump({"rows": rows.astype(float).tolist(),
               "labels": [str(v) for v in model.predict(rows)],
               "proba": model.predict_proba(rows).tolist()}, open(name + ".json", "w"))


# RandomForestClassifier: 3 classes, 8 features.
X, y = make_classification(n_samples=400, n_features=8, n_informative=5, n_classes=3, random_state=1)
X = X.astype(np.float32)
rf = RandomForestClassifier(n_estimators=12, max_depth=6, random_state=1).fit(X, y)
n = len(rf.estimators_)


def rf_leaf(ti, t, leaf):
    v = t.value[leaf][0]
    return [(c, float(v[c] / v.sum() / n)) for c in range(len(v))]


a, w = tree_nodes(rf.estimators_, rf_leaf)
core = helper.make_node("TreeEnsembleClassifier", ["float_input"], ["label", "probabilities"], domain="ai.onnx.ml",
                        class_treeids=w["treeids"], class_nodeids=w["nodeids"], class_ids=w["ids"], class_weights=w["weights"],
                        post_transform="NONE", **a, **class_attr(rf.classes_))
save("sklearn_random_forest", classifier_graph("random_forest", 8, rf.classes_, core))
write_classifier("sklearn_random_forest", rf, X)

# LogisticRegression, multinomial: 3 classes with string labels.
names = np.array(["ham", "spam", "eggs"])
lr = LogisticRegression(max_iter=500).fit(X, names[y])
core = helper.make_node("LinearClassifier", ["float_input"], ["label", "probabilities"], domain="ai.onnx.ml",
                        coefficients=lr.coef_.astype(float).reshape(-1).tolist(), intercepts=lr.intercept_.astype(float).tolist(),
                        multi_class=1, post_transform="SOFTMAX", **class_attr(list(lr.classes_)))
save("sklearn_logistic", classifier_graph("logistic", 8, list(lr.classes_), core))
write_classifier("sklearn_logistic", lr, X)

# LogisticRegression, binary with int labels: skl2onnx writes the one
# coefficient row as two, negated, under a logistic post-transform.
yb = (y == 1).astype(np.int64)
lrb = LogisticRegression(max_iter=500).fit(X, yb)
coef = np.vstack([-lrb.coef_, lrb.coef_]).astype(float)
core = helper.make_node("LinearClassifier", ["float_input"], ["label", "probabilities"], domain="ai.onnx.ml",
                        coefficients=coef.reshape(-1).tolist(), intercepts=[float(-lrb.intercept_[0]), float(lrb.intercept_[0])],
                        multi_class=0, post_transform="LOGISTIC", classlabels_ints=[int(c) for c in lrb.classes_])
save("sklearn_logistic_binary", classifier_graph("logistic_binary", 8, lrb.classes_, core))
write_classifier("sklearn_logistic_binary", lrb, X)

# GradientBoostingRegressor: 6 features.
Xr, yr = make_regression(n_samples=300, n_features=6, noise=0.3, random_state=2)
Xr = Xr.astype(np.float32)
gbr = GradientBoostingRegressor(n_estimators=30, max_depth=3, learning_rate=0.1, random_state=2).fit(Xr, yr)
trees = [e[0] for e in gbr.estimators_]
a, w = tree_nodes(trees, lambda ti, t, leaf: [(0, float(t.value[leaf][0][0] * gbr.learning_rate))])
core = helper.make_node("TreeEnsembleRegressor", ["float_input"], ["variable"], domain="ai.onnx.ml",
                        target_treeids=w["treeids"], target_nodeids=w["nodeids"], target_ids=w["ids"], target_weights=w["weights"],
                        n_targets=1, aggregate_function="SUM", post_transform="NONE",
                        base_values=[float(gbr.init_.constant_.reshape(-1)[0])], **a)
save("sklearn_gradient_boosting", helper.make_graph(
    [core], "gradient_boosting",
    [helper.make_tensor_value_info("float_input", TensorProto.FLOAT, [None, 6])],
    [helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1])]))
rows = Xr[:ROWS]
json.dump({"rows": rows.astype(float).tolist(), "outputs": [[float(v)] for v in gbr.predict(rows)]},
          open("sklearn_gradient_boosting.json", "w"))

# Named inputs of the other element types: a string category one-hot
# encoded, a double and a bool, scored linearly. Checked against numpy.
cats = ["red", "green", "blue"]
W = np.array([[0.5], [-1.0], [2.0], [0.25], [-3.0]], dtype=np.float32)
b = np.array([0.125], dtype=np.float32)
nodes = [
    helper.make_node("OneHotEncoder", ["color"], ["color_hot"], domain="ai.onnx.ml", cats_strings=cats, zeros=1),
    helper.make_node("Flatten", ["color_hot"], ["color_flat"], axis=1),
    helper.make_node("Cast", ["weight"], ["weight_f"], to=TensorProto.FLOAT),
    helper.make_node("Cast", ["flag"], ["flag_f"], to=TensorProto.FLOAT),
    helper.make_node("Concat", ["color_flat", "weight_f", "flag_f"], ["features"], axis=1),
    helper.make_node("MatMul", ["features", "W"], ["xw"]),
    helper.make_node("Add", ["xw", "b"], ["score"]),
]
save("mixed_inputs", helper.make_graph(
    nodes, "mixed_inputs",
    [helper.make_tensor_value_info("color", TensorProto.STRING, [None, 1]),
     helper.make_tensor_value_info("weight", TensorProto.DOUBLE, [None, 1]),
     helper.make_tensor_value_info("flag", TensorProto.BOOL, [None, 1])],
    [helper.make_tensor_value_info("score", TensorProto.FLOAT, [None, 1])],
    [helper.make_tensor("W", TensorProto.FLOAT, [5, 1], W.reshape(-1).tolist()),
     helper.make_tensor("b", TensorProto.FLOAT, [1], b.tolist())]))
rng = np.random.default_rng(3)
rows, outs = [], []
for _ in range(ROWS):
    c, wt, fl = int(rng.integers(0, 3)), float(rng.normal() * 10), int(rng.integers(0, 2))
    hot = np.zeros(3, dtype=np.float32)
    hot[c] = 1
    x = np.concatenate([hot, [np.float32(wt)], [np.float32(fl)]]).astype(np.float32)
    rows.append([c, wt, fl])  # the string input gets its category code
    outs.append([float((x @ W + b)[0])])
json.dump({"rows": rows, "outputs": outs, "categories": cats}, open("mixed_inputs.json", "w"))
