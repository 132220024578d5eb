#!/usr/bin/python3
"""Train the categorical_wide XGBoost model and save it as JSON and
UBJSON, with inputs and XGBoost's own predictions in
categorical_wide.expected.json (the layout of make_fixtures.py).

categorical.json (make_fixtures.py, max_cat_to_onehot=1) holds
partition splits over at most 6 categories only. This model uses
XGBoost 1.7's defaults with enable_categorical=True and
tree_method=hist: a 3-category feature gets one-hot splits (under the
default max_cat_to_onehot=4) and a 70-category feature partition splits
whose sets span several 32-bit words. The inputs add categories the
training never saw, negative and fractional codes, and missing values.

Run with Debian's python3-xgboost:  /usr/bin/python3 make_categorical_fixtures.py
"""
import json
import os

import numpy as np
import xgboost as xgb

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    rng = np.random.default_rng(11)
    n = 600
    X = rng.normal(size=(n, 4)).astype(np.float32).astype(np.float64)
    X[:, 1] = rng.integers(0, 3, size=n)
    X[:, 2] = rng.integers(0, 70, size=n)
    X[rng.random(size=n) < 0.05, 1] = np.nan
    X[rng.random(size=n) < 0.05, 2] = np.nan
    y = (X[:, 0] + np.where(X[:, 1] == 1, 2.0, 0.0)
         + np.where(np.isin(X[:, 2], [3, 12, 40, 65, 66]), 1.5, -0.3))
    y = np.nan_to_num(y)
    ft = ["q", "c", "c", "q"]
    names = ["num_a", "cat3", "cat70", "num_d"]
    dtrain = xgb.DMatrix(X, label=y, feature_types=ft, feature_names=names, enable_categorical=True)
    bst = xgb.train({"tree_method": "hist", "max_depth": 4, "eta": 0.3, "nthread": 1, "seed": 1},
                    dtrain, num_boost_round=8)
    Xt = X[:40].copy()
    Xt[0, 2], Xt[1, 2], Xt[2, 2] = 69, 75, -1  # the last category, unseen ones
    Xt[3, 1], Xt[4, 1], Xt[5, 1] = 5, np.nan, 1.5
    Xt[6, 2] = 40.7  # a fractional code: XGBoost truncates it to 40
    dt = xgb.DMatrix(Xt, feature_types=ft, feature_names=names, enable_categorical=True)
    for ext in ("json", "ubj"):
        bst.save_model(os.path.join(HERE, "categorical_wide." + ext))
    out = {
        "xgboost": xgb.__version__,
        "objective": json.loads(bst.save_config())["learner"]["objective"]["name"],
        "formats": ["json", "ubj"],
        "inputs": [[None if np.isnan(v) else float(v) for v in r] for r in Xt],
        "predict": np.asarray(bst.predict(dt), dtype=np.float64).reshape(len(Xt), -1).tolist(),
        "margin": np.asarray(bst.predict(dt, output_margin=True), dtype=np.float64).reshape(len(Xt), -1).tolist(),
        "predict_first2": np.asarray(bst.predict(dt, iteration_range=(0, 2)), dtype=np.float64).reshape(len(Xt), -1).tolist(),
    }
    with open(os.path.join(HERE, "categorical_wide.expected.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
