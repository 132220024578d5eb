#!/usr/bin/python3
"""Fits small scikit-learn models, writes each as a standard PMML 4.4
document, and records scikit-learn's own predictions next to it.

This is a hand-written exporter (this project's own, not JPMML-SkLearn):
it writes the PMML that the specification defines for each estimator's
fitted parameters. The predictions in the .csv files are what
scikit-learn's predict / predict_proba return for the inputs in the same
row, so the Go tests check the evaluator against scikit-learn, not against
this script.

Run from this folder with Debian's python3-sklearn:

    /usr/bin/python3 export.py

Each CSV has a header: the input columns, then "label" (classifiers) or
"value" (regressors), then "p:<class>" for every class (classifiers with
probabilities). Numbers are written with repr(), so they round-trip.
"""

import numpy as np
from sklearn import datasets
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.svm import SVC, SVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">\n<Header><Application name="modelstream testdata/sklearn/export.py (scikit-learn %s)"/></Header>\n'


def r(x):
    return repr(float(x))


def esc(s):
    return s.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def data_dictionary(names, target, classes=None, cats=None):
    cats = cats or {}
    out = ["<DataDictionary>"]
    for n in names:
        if n in cats:
            out.append('<DataField name="%s" optype="categorical" dataType="string">' % n)
            out += ['<Value value="%s"/>' % esc(v) for v in cats[n]]
            out.append("</DataField>")
        else:
            out.append('<DataField name="%s" optype="continuous" dataType="double"/>' % n)
    if classes is not None:
        out.append('<DataField name="%s" optype="categorical" dataType="string">' % target)
        out += ['<Value value="%s"/>' % esc(str(c)) for c in classes]
        out.append("</DataField>")
    else:
        out.append('<DataField name="%s" optype="continuous" dataType="double"/>' % target)
    out.append("</DataDictionary>")
    return "\n".join(out)


def mining_schema(names, target):
    return "<MiningSchema>" + "".join('<MiningField name="%s"/>' % n for n in names) + '<MiningField name="%s" usageType="target"/></MiningSchema>' % target


def tree_nodes(est, names, classes, pred="<True/>"):
    t = est.tree_
    out = []

    def node(i, pred):
        attrs = ' recordCount="%s"' % r(t.n_node_samples[i])
        body = ""
        if classes is not None:
            counts = t.value[i][0]
            attrs += ' score="%s"' % esc(str(classes[int(np.argmax(counts))]))
            # record counts only: the evaluator derives the probabilities
            tot = counts.sum()
            for c, v in zip(classes, counts):
                body += '<ScoreDistribution value="%s" recordCount="%s"/>' % (esc(str(c)), r(v / tot * t.n_node_samples[i]))
        else:
            attrs += ' score="%s"' % r(t.value[i][0][0])
        out.append("<Node%s>%s%s" % (attrs, pred, body))
        if t.children_left[i] != -1:
            f, th = names[t.feature[i]], r(t.threshold[i])
            node(t.children_left[i], '<SimplePredicate field="%s" operator="lessOrEqual" value="%s"/>' % (f, th))
            node(t.children_right[i], '<SimplePredicate field="%s" operator="greaterThan" value="%s"/>' % (f, th))
        out.append("</Node>")

    node(0, pred)
    return "".join(out)


def tree_model(est, names, target, classes, extra=""):
    fn = "classification" if classes is not None else "regression"
    return '<TreeModel functionName="%s" splitCharacteristic="binarySplit">%s%s%s</TreeModel>' % (
        fn, mining_schema(names, target), extra, tree_nodes(est, names, classes))


def write(name, doc, header, rows):
    with open(name + ".pmml", "w") as f:
        f.write(doc)
    with open(name + ".csv", "w") as f:
        f.write(",".join(header) + "\n")
        for row in rows:
            f.write(",".join(row) + "\n")


def f32(X):
    # Trees compare float32 copies of the inputs: record inputs that are
    # exact in float32 so that both sides compare the same numbers.
    return X.astype(np.float32).astype(np.float64)


def rows_for(X, est, classes, cat_cols=None):
    pred = est.predict(X if cat_cols is None else cat_cols[1])
    proba = est.predict_proba(X if cat_cols is None else cat_cols[1]) if classes is not None and hasattr(est, "predict_proba") else None
    out = []
    for i in range(len(X)):
        row = [r(v) if not isinstance(v, str) else v for v in X[i]]
        if classes is not None:
            row.append(str(pred[i]))
            if proba is not None:
                row += [r(p) for p in proba[i]]
        else:
            row.append(r(pred[i]))
        out.append(row)
    return out


def header(names, classes, proba=True):
    if classes is None:
        return names + ["value"]
    return names + ["label"] + (["p:" + str(c) for c in classes] if proba else [])


def iris():
    d = datasets.load_iris()
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    classes = [str(c) for c in d.target_names]
    y = np.array([classes[i] for i in d.target])
    return f32(d.data), y, names, classes


def diabetes():
    # The first 150 rows keep the fixtures small.
    d = datasets.load_diabetes()
    return f32(d.data[:150]), d.target[:150], ["x%d" % i for i in range(d.data.shape[1])]


def export_tree():
    X, y, names, classes = iris()
    est = DecisionTreeClassifier(max_depth=4, random_state=0).fit(X, y)
    doc = HEAD + data_dictionary(names, "species", classes) + tree_model(est, names, "species", classes) + "</PMML>\n"
    write("tree-iris", doc, header(names, classes), rows_for(X, est, classes))

    X, y, names = diabetes()
    est = DecisionTreeRegressor(max_depth=5, random_state=0).fit(X, y)
    doc = HEAD + data_dictionary(names, "y") + tree_model(est, names, "y", None) + "</PMML>\n"
    write("tree-diabetes", doc, header(names, None), rows_for(X, est, None))


def export_forest():
    X, y, names, classes = iris()
    est = RandomForestClassifier(n_estimators=30, max_depth=4, random_state=0).fit(X, y)
    segs = "".join('<Segment id="%d"><True/>%s</Segment>' % (i + 1, tree_model(t, names, "species", classes)) for i, t in enumerate(est.estimators_))
    doc = HEAD + data_dictionary(names, "species", classes) + '<MiningModel functionName="classification">%s<Segmentation multipleModelMethod="average">%s</Segmentation></MiningModel></PMML>\n' % (mining_schema(names, "species"), segs)
    write("forest-iris", doc, header(names, classes), rows_for(X, est, classes))

    X, y, names = diabetes()
    est = RandomForestRegressor(n_estimators=20, max_depth=4, random_state=0).fit(X, y)
    segs = "".join('<Segment id="%d"><True/>%s</Segment>' % (i + 1, tree_model(t, names, "y", None)) for i, t in enumerate(est.estimators_))
    doc = HEAD + data_dictionary(names, "y") + '<MiningModel functionName="regression">%s<Segmentation multipleModelMethod="average">%s</Segmentation></MiningModel></PMML>\n' % (mining_schema(names, "y"), segs)
    write("forest-diabetes", doc, header(names, None), rows_for(X, est, None))


def reg_table(coefs, names, intercept, category=None):
    tc = ' targetCategory="%s"' % esc(category) if category is not None else ""
    return '<RegressionTable intercept="%s"%s>%s</RegressionTable>' % (r(intercept), tc, "".join(
        '<NumericPredictor name="%s" coefficient="%s"/>' % (n, r(c)) for n, c in zip(names, coefs)))


def export_linear():
    X, y, names = diabetes()
    est = LinearRegression().fit(X, y)
    doc = HEAD + data_dictionary(names, "y") + '<RegressionModel functionName="regression">%s%s</RegressionModel></PMML>\n' % (
        mining_schema(names, "y"), reg_table(est.coef_, names, est.intercept_))
    write("linear-diabetes", doc, header(names, None), rows_for(X, est, None))

    X, y, names, classes = iris()
    est = LogisticRegression(max_iter=1000).fit(X, y)
    tables = "".join(reg_table(est.coef_[k], names, est.intercept_[k], classes[k]) for k in range(len(classes)))
    doc = HEAD + data_dictionary(names, "species", classes) + '<RegressionModel functionName="classification" normalizationMethod="softmax">%s%s</RegressionModel></PMML>\n' % (
        mining_schema(names, "species"), tables)
    write("logistic-iris", doc, header(names, classes), rows_for(X, est, classes))

    d = datasets.load_breast_cancer()
    Xb = d.data[:, :5]
    names = ["f%d" % i for i in range(5)]
    classes = ["benign", "malignant"]
    yb = np.array([classes[1 - t] for t in d.target])
    est = LogisticRegression(max_iter=5000).fit(Xb, yb)
    # Binary: the first table gives logit(P(classes_[1])); the last takes the rest.
    tables = reg_table(est.coef_[0], names, est.intercept_[0], est.classes_[1]) + reg_table([], [], 0, est.classes_[0])
    doc = HEAD + data_dictionary(names, "diagnosis", list(est.classes_)) + '<RegressionModel functionName="classification" normalizationMethod="logit">%s%s</RegressionModel></PMML>\n' % (
        mining_schema(names, "diagnosis"), tables)
    write("logistic-cancer", doc, header(names, list(est.classes_)), rows_for(Xb, est, list(est.classes_)))


ACT = {"relu": "rectifier", "tanh": "tanh", "logistic": "logistic", "identity": "identity"}


def nn_layers(est, names):
    out = ["<NeuralInputs>"]
    for i, n in enumerate(names):
        out.append('<NeuralInput id="in%d"><DerivedField optype="continuous" dataType="double"><FieldRef field="%s"/></DerivedField></NeuralInput>' % (i, n))
    out.append("</NeuralInputs>")
    prev = ["in%d" % i for i in range(len(names))]
    for li, (W, b) in enumerate(zip(est.coefs_, est.intercepts_)):
        last = li == len(est.coefs_) - 1
        act = ACT[est.activation] if not last else ("identity" if est.out_activation_ in ("identity", "softmax") else ACT[est.out_activation_])
        norm = ' normalizationMethod="softmax"' if last and est.out_activation_ == "softmax" else ""
        out.append('<NeuralLayer activationFunction="%s"%s>' % (act, norm))
        ids = []
        for j in range(W.shape[1]):
            nid = "l%dn%d" % (li, j)
            ids.append(nid)
            out.append('<Neuron id="%s" bias="%s">%s</Neuron>' % (nid, r(b[j]), "".join(
                '<Con from="%s" weight="%s"/>' % (prev[k], r(W[k, j])) for k in range(W.shape[0]))))
        out.append("</NeuralLayer>")
        prev = ids
    return "".join(out), prev


def export_mlp():
    X, y, names, classes = iris()
    est = MLPClassifier(hidden_layer_sizes=(16, 8), activation="tanh", max_iter=3000, random_state=0).fit(X, y)
    layers, outs = nn_layers(est, names)
    no = "".join('<NeuralOutput outputNeuron="%s"><DerivedField optype="categorical" dataType="string"><NormDiscrete field="species" value="%s"/></DerivedField></NeuralOutput>' % (o, c) for o, c in zip(outs, est.classes_))
    doc = HEAD + data_dictionary(names, "species", list(est.classes_)) + '<NeuralNetwork functionName="classification" activationFunction="rectifier">%s%s<NeuralOutputs>%s</NeuralOutputs></NeuralNetwork></PMML>\n' % (
        mining_schema(names, "species"), layers, no)
    write("mlp-iris", doc, header(names, list(est.classes_)), rows_for(X, est, list(est.classes_)))

    X, y, names = diabetes()
    est = MLPRegressor(hidden_layer_sizes=(8,), activation="logistic", max_iter=3000, random_state=0, learning_rate_init=0.01).fit(X, y)
    layers, outs = nn_layers(est, names)
    no = '<NeuralOutput outputNeuron="%s"><DerivedField optype="continuous" dataType="double"><FieldRef field="y"/></DerivedField></NeuralOutput>' % outs[0]
    doc = HEAD + data_dictionary(names, "y") + '<NeuralNetwork functionName="regression" activationFunction="logistic">%s%s<NeuralOutputs>%s</NeuralOutputs></NeuralNetwork></PMML>\n' % (
        mining_schema(names, "y"), layers, no)
    write("mlp-diabetes", doc, header(names, None), rows_for(X, est, None))


def kernel_xml(est):
    g = r(est._gamma)
    if est.kernel == "linear":
        return "<LinearKernelType/>"
    if est.kernel == "poly":
        return '<PolynomialKernelType gamma="%s" coef0="%s" degree="%s"/>' % (g, r(est.coef0), r(est.degree))
    if est.kernel == "rbf":
        return '<RadialBasisKernelType gamma="%s"/>' % g
    return '<SigmoidKernelType gamma="%s" coef0="%s"/>' % (g, r(est.coef0))


def vectors_xml(est, names):
    out = ['<VectorDictionary numberOfVectors="%d"><VectorFields>' % len(est.support_vectors_)]
    out += ['<FieldRef field="%s"/>' % n for n in names]
    out.append("</VectorFields>")
    for i, sv in enumerate(est.support_vectors_):
        out.append('<VectorInstance id="%d"><Array type="real" n="%d">%s</Array></VectorInstance>' % (i, len(sv), " ".join(r(v) for v in sv)))
    out.append("</VectorDictionary>")
    return "".join(out)


def machine(target, alt, ids, coefs, b):
    a = ' alternateTargetCategory="%s"' % alt if alt is not None else ""
    t = ' targetCategory="%s"' % target if target is not None else ""
    return '<SupportVectorMachine%s%s><SupportVectors>%s</SupportVectors><Coefficients absoluteValue="%s">%s</Coefficients></SupportVectorMachine>' % (
        t, a, "".join('<SupportVector vectorId="%d"/>' % i for i in ids), r(b), "".join('<Coefficient value="%s"/>' % r(c) for c in coefs))


def export_svm():
    X, y, names, classes = iris()
    for kernel in ["linear", "poly", "rbf", "sigmoid"]:
        kw = {"gamma": 0.05, "coef0": 0.5} if kernel == "sigmoid" else {}
        est = SVC(kernel=kernel, degree=3, **kw).fit(X, y)
        starts = np.concatenate([[0], np.cumsum(est.n_support_)])
        dual, icpt = est._dual_coef_, est._intercept_
        ms, p = [], 0
        k = len(est.classes_)
        for i in range(k):
            for j in range(i + 1, k):
                ids = list(range(starts[i], starts[i + 1])) + list(range(starts[j], starts[j + 1]))
                coefs = list(dual[j - 1, starts[i]:starts[i + 1]]) + list(dual[i, starts[j]:starts[j + 1]])
                # libsvm: sum + intercept > 0 votes for class i; PMML: a
                # value below the threshold (0) votes for targetCategory.
                ms.append(machine(est.classes_[j], est.classes_[i], ids, coefs, icpt[p]))
                p += 1
        doc = HEAD + data_dictionary(names, "species", classes) + '<SupportVectorMachineModel functionName="classification" classificationMethod="OneAgainstOne">%s%s%s%s</SupportVectorMachineModel></PMML>\n' % (
            mining_schema(names, "species"), kernel_xml(est), vectors_xml(est, names), "".join(ms))
        write("svc-%s-iris" % kernel, doc, header(names, classes, proba=False), rows_for(X, est, classes))

    X, y, names = diabetes()
    est = SVR(kernel="rbf", C=100, gamma=0.5).fit(X, y)
    doc = HEAD + data_dictionary(names, "y") + '<SupportVectorMachineModel functionName="regression">%s%s%s%s</SupportVectorMachineModel></PMML>\n' % (
        mining_schema(names, "y"), kernel_xml(est), vectors_xml(est, names),
        machine(None, None, range(len(est.support_vectors_)), est.dual_coef_[0], est.intercept_[0]))
    write("svr-rbf-diabetes", doc, header(names, None), rows_for(X, est, None))


def export_categorical():
    # A string input one-hot encoded by DerivedFields (NormDiscrete) in the
    # TransformationDictionary, and a tree over them.
    rng = np.random.RandomState(0)
    colors = ["red", "green", "blue"]
    n = 200
    col = rng.randint(0, 3, n)
    x = f32(rng.normal(size=n))
    yy = np.where((col == 0) & (x > 0) | (col == 2) & (x < -0.5), "yes", "no")
    onehot = np.column_stack([(col == k).astype(float) for k in range(3)] + [x])
    est = DecisionTreeClassifier(max_depth=4, random_state=0).fit(onehot, yy)
    dnames = ["color=" + c for c in colors] + ["x"]
    td = "<TransformationDictionary>" + "".join(
        '<DerivedField name="color=%s" optype="continuous" dataType="double"><NormDiscrete field="color" value="%s"/></DerivedField>' % (c, c) for c in colors) + "</TransformationDictionary>"
    classes = list(est.classes_)
    doc = HEAD + data_dictionary(["color", "x"], "y", classes, cats={"color": colors}) + td + '<TreeModel functionName="classification">%s%s</TreeModel></PMML>\n' % (
        mining_schema(["color", "x"], "y"), tree_nodes(est, dnames, classes))
    rows = []
    pred, proba = est.predict(onehot), est.predict_proba(onehot)
    for i in range(n):
        rows.append([colors[col[i]], r(x[i]), pred[i]] + [r(p) for p in proba[i]])
    write("tree-categorical", doc, header(["color", "x"], classes), rows)


def xgb_tree(tree, names):
    # One XGBoost tree (from get_dump(dump_format="json")) as a regression
    # TreeModel: x < split goes to "yes", else "no"; a missing value takes
    # the "missing" child (defaultChild).
    out = []

    def node(n, pred):
        if "leaf" in n:
            out.append('<Node id="n%d" score="%s">%s</Node>' % (n["nodeid"], r(np.float32(n["leaf"])), pred))
            return
        f, th = names[int(n["split"][1:])], r(np.float32(n["split_condition"]))
        kids = {k["nodeid"]: k for k in n["children"]}
        out.append('<Node id="n%d" defaultChild="n%d">%s' % (n["nodeid"], n["missing"], pred))
        y, no = kids[n["yes"]], kids[n["no"]]
        node(y, '<SimplePredicate field="%s" operator="lessThan" value="%s"/>' % (f, th))
        node(no, '<SimplePredicate field="%s" operator="greaterOrEqual" value="%s"/>' % (f, th))
        out.append("</Node>")

    node(tree, "<True/>")
    return "".join(out)


def export_xgboost():
    # An XGBoost random forest (100 trees of depth 4, binary:logistic) on
    # breast cancer, written as PMML the way JPMML-XGBoost lays such a
    # model out (a model chain: the sum of the trees is the margin, then a
    # logit RegressionModel), plus the XGBoost binary model for leaves.
    import json
    import xgboost as xgb
    d = datasets.load_breast_cancer()
    X = f32(d.data)
    names = ["f%d" % i for i in range(X.shape[1])]
    est = xgb.XGBRFClassifier(n_estimators=100, max_depth=4, random_state=0, base_score=0.5).fit(X, d.target)
    bst = est.get_booster()
    bst.feature_names = None
    bst.save_model("xgbrf-cancer.model")
    trees = [json.loads(t) for t in bst.get_dump(dump_format="json")]
    segs = "".join(
        '<Segment id="%d"><True/><TreeModel functionName="regression" missingValueStrategy="defaultChild" noTrueChildStrategy="returnLastPrediction">%s%s</TreeModel></Segment>'
        % (i + 1, "<MiningSchema>" + "".join('<MiningField name="%s"/>' % n for n in names) + "</MiningSchema>", xgb_tree(t, names))
        for i, t in enumerate(trees))
    classes = ["0", "1"]
    sum_model = ('<MiningModel functionName="regression"><MiningSchema>%s</MiningSchema>'
                 '<Output><OutputField name="xgbValue" optype="continuous" dataType="double" feature="predictedValue" isFinalResult="false"/></Output>'
                 '<Segmentation multipleModelMethod="sum">%s</Segmentation></MiningModel>') % ("".join('<MiningField name="%s"/>' % n for n in names), segs)
    logit = ('<RegressionModel functionName="classification" normalizationMethod="logit"><MiningSchema><MiningField name="xgbValue"/><MiningField name="y" usageType="target"/></MiningSchema>'
             '<RegressionTable intercept="0" targetCategory="1"><NumericPredictor name="xgbValue" coefficient="1"/></RegressionTable>'
             '<RegressionTable intercept="0" targetCategory="0"/></RegressionModel>')
    doc = HEAD + data_dictionary(names, "y", classes) + '<MiningModel functionName="classification">%s<Segmentation multipleModelMethod="modelChain"><Segment id="1"><True/>%s</Segment><Segment id="2"><True/>%s</Segment></Segmentation></MiningModel></PMML>\n' % (
        mining_schema(names, "y"), sum_model, logit)
    p1 = bst.predict(xgb.DMatrix(X))
    rows = []
    for i in range(150):  # the first 150 rows keep the fixture small
        rows.append([r(v) for v in X[i]] + [classes[int(p1[i] > 0.5)], r(1 - float(p1[i])), r(p1[i])])
    write("xgbrf-cancer", doc, header(names, classes), rows)
    # The same rows with some values missing (every third row, a pattern
    # of features): XGBoost sends them down each split's default branch.
    Xm = X[:150].copy()
    for i in range(0, 150, 3):
        Xm[i, i % 7::5] = np.nan
    pm = bst.predict(xgb.DMatrix(Xm, missing=np.nan))
    rows = [[r(v) for v in Xm[i]] + [classes[int(pm[i] > 0.5)], r(1 - float(pm[i])), r(pm[i])] for i in range(150)]
    with open("xgbrf-cancer-missing.csv", "w") as f:
        f.write(",".join(header(names, classes)) + "\n")
        for row in rows:
            f.write(",".join(row) + "\n")


if __name__ == "__main__":
    import sklearn
    HEAD = HEAD % sklearn.__version__
    export_tree()
    export_forest()
    export_linear()
    export_mlp()
    export_svm()
    export_categorical()
    export_xgboost()
