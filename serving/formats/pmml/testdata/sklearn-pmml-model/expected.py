#!/usr/bin/python3
"""Extracts the per-record reference predictions that the tests of
sklearn-pmml-model (https://github.com/iamDecode/sklearn-pmml-model, BSD
2-Clause) record for the model files copied here, into <model>.expected.csv.

    /usr/bin/python3 expected.py /path/to/sklearn-pmml-model

Each output row holds the reference for one input row: the predicted value
or label, or the class probabilities in the order the source test lists
them. The inputs are categorical-test.csv (Pima) or, for the iris models,
iris.csv, written here from scikit-learn's bundled copy in the order
load_iris returns it.
"""

import ast
import glob
import os
import sys

from sklearn.datasets import load_iris

root = sys.argv[1]
wanted = {os.path.splitext(f)[0] for f in glob.glob("*.pmml")}
for f in glob.glob(os.path.join(root, "tests", "**", "*.py"), recursive=True):
    text = open(f).read()
    tree = ast.parse(text)
    for cls in [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]:
        setup = [n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "setUp"]
        if not setup:
            continue
        model = None
        for n in ast.walk(setup[0]):
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.endswith(".pmml"):
                model = os.path.splitext(os.path.basename(n.value))[0]
        for fn in cls.body:
            if not isinstance(fn, ast.FunctionDef) or not fn.name.startswith("test_"):
                continue
            fmodel = model
            for n in ast.walk(fn):
                if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.endswith(".pmml"):
                    fmodel = os.path.splitext(os.path.basename(n.value))[0]
            if fmodel not in wanted:
                continue
            for n in ast.walk(fn):
                if not (isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "ref"):
                    continue
                arg = n.value
                if isinstance(arg, ast.Call) and arg.args:
                    arg = arg.args[0]
                if not isinstance(arg, ast.List):
                    continue  # a scalar score, or computed
                try:
                    # Keep the numbers exactly as the source prints them.
                    ref = ast.literal_eval(ast.get_source_segment(text, arg))
                except ValueError:
                    continue
                kind = "proba" if isinstance(ref[0], list) else "predict"
                out = "%s.%s.csv" % (fmodel, kind)
                with open(out, "w") as w:
                    for row in ref:
                        row = row if isinstance(row, list) else [row]
                        w.write(",".join(repr(v) if not isinstance(v, str) else v for v in row) + "\n")
                print(out, len(ref))

iris = load_iris()
with open("iris.csv", "w") as w:
    w.write(",".join(iris.feature_names) + "\n")
    for row in iris.data:
        w.write(",".join(repr(float(v)) for v in row) + "\n")
