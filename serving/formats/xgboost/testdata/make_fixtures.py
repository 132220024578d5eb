#!/usr/bin/python3
"""Train small XGBoost models and save each as JSON, UBJSON and legacy
binary, with inputs and XGBoost's own predictions (transformed and
output_margin) in <name>.expected.json.

Run with Debian's python3-xgboost:  /usr/bin/python3 make_fixtures.py
Every model is small (few shallow trees) so the fixtures stay small.
"""
import gzip
import json
import os
import warnings

import numpy as np
import xgboost as xgb

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(7)


def f32(a):
    # Inputs are float32 values, as XGBoost sees them.
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def dataset(n, d, missing=0.05):
    X = f32(rng.normal(size=(n, d)))
    X[rng.random(size=X.shape) < missing] = np.nan
    return X


def save(name, bst, X, formats=("json", "ubj", "bin"), feature_names=None):
    dm = xgb.DMatrix(X, feature_names=feature_names, feature_types=bst.feature_types,
                     enable_categorical=True)
    pred = bst.predict(dm)
    margin = bst.predict(dm, output_margin=True)
    # The first two boosting rounds only (a gblinear model has no rounds).
    first2 = None
    if json.loads(bst.save_config())["learner"]["gradient_booster"]["name"] != "gblinear" and bst.num_boosted_rounds() > 2:
        first2 = bst.predict(dm, iteration_range=(0, 2))
    for ext in formats:
        path = os.path.join(HERE, name + "." + ext)
        if ext == "bin":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                raw = bst.save_raw("deprecated")
            with open(path, "wb") as f:
                f.write(bytes(raw))
        else:
            bst.save_model(path)
    rows = [[None if np.isnan(v) else float(v) for v in r] for r in X]
    out = {
        "xgboost": xgb.__version__,
        "objective": json.loads(bst.save_config())["learner"]["objective"]["name"],
        "formats": list(formats),
        "inputs": rows,
        "predict": np.asarray(pred, dtype=np.float64).reshape(len(X), -1).tolist(),
        "margin": np.asarray(margin, dtype=np.float64).reshape(len(X), -1).tolist(),
    }
    if first2 is not None:
        out["predict_first2"] = np.asarray(first2, dtype=np.float64).reshape(len(X), -1).tolist()
    with open(os.path.join(HERE, name + ".expected.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


def train(params, X, y, rounds, **dm):
    p = {"max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 1}
    p.update(params)
    return xgb.train(p, xgb.DMatrix(X, label=y, **dm), num_boost_round=rounds)


def main():
    n, d = 200, 5
    X = dataset(n, d)
    Xt = dataset(40, d)
    z = np.nan_to_num(X[:, 0]) - 0.5 * np.nan_to_num(X[:, 1]) + 0.3 * np.nan_to_num(X[:, 2]) ** 2
    ybin = (z + rng.normal(scale=0.3, size=n) > 0).astype(float)
    yreg = z + rng.normal(scale=0.1, size=n)
    ycls = np.digitize(z, [-0.5, 0.5])  # 3 classes
    ycount = rng.poisson(np.exp(0.5 * np.clip(z, -2, 2)))
    ypos = np.exp(0.3 * np.clip(z, -2, 2)) * rng.gamma(2.0, 0.5, size=n)

    # The list, each in three formats.
    names = ["f0", "f1", "f2", "f3", "f4"]
    save("binary_logistic", train({"objective": "binary:logistic"}, X, ybin, 6,
                                  feature_names=names), Xt, feature_names=names)
    save("multi_softprob", train({"objective": "multi:softprob", "num_class": 3}, X, ycls, 4), Xt)
    save("reg_squarederror", train({"objective": "reg:squarederror", "base_score": 0.25}, X, yreg, 6), Xt)
    save("count_poisson", train({"objective": "count:poisson"}, X, ycount, 6), Xt)
    save("dart", train({"objective": "binary:logistic", "booster": "dart", "rate_drop": 0.3,
                        "skip_drop": 0.0, "one_drop": 1}, X, ybin, 6), Xt)
    save("random_forest", train({"objective": "reg:squarederror", "num_parallel_tree": 4,
                                 "subsample": 0.7, "colsample_bynode": 0.7, "eta": 1.0}, X, yreg, 1), Xt)
    save("rf_multi", train({"objective": "multi:softprob", "num_class": 3, "num_parallel_tree": 3,
                            "subsample": 0.7, "eta": 1.0}, X, ycls, 2), Xt)

    # Categorical features: columns 1 and 3 hold category codes.
    Xc = X.copy()
    Xc[:, 1] = rng.integers(0, 6, size=n)
    Xc[:, 3] = rng.integers(0, 3, size=n)
    Xc[rng.random(size=n) < 0.05, 1] = np.nan
    yc = z + np.where(np.isin(Xc[:, 1], [1, 4]), 1.5, -0.5) + np.where(Xc[:, 3] == 2, 1.0, 0.0)
    ft = ["q", "c", "q", "c", "q"]
    cnames = ["num_a", "cat_b", "num_c", "cat_d", "num_e"]
    cat = train({"objective": "reg:squarederror", "tree_method": "hist", "max_cat_to_onehot": 1},
                Xc, yc, 5, feature_types=ft, feature_names=cnames, enable_categorical=True)
    Xct = Xt.copy()
    Xct[:, 1] = rng.integers(0, 6, size=len(Xt))
    Xct[:, 3] = rng.integers(0, 3, size=len(Xt))
    Xct[0, 1] = np.nan
    save("categorical", cat, Xct, formats=("json", "ubj"), feature_names=cnames)

    # More objectives, JSON and UBJSON only.
    two = ("json", "ubj")
    save("binary_logitraw", train({"objective": "binary:logitraw"}, X, ybin, 4), Xt, two)
    save("binary_hinge", train({"objective": "binary:hinge"}, X, ybin, 4), Xt, two)
    save("multi_softmax", train({"objective": "multi:softmax", "num_class": 3}, X, ycls, 3), Xt, two)
    save("reg_logistic", train({"objective": "reg:logistic"}, X, (z > 0) * 0.8 + 0.1, 4), Xt, two)
    save("reg_pseudohubererror", train({"objective": "reg:pseudohubererror"}, X, yreg, 4), Xt, two)
    save("reg_absoluteerror", train({"objective": "reg:absoluteerror"}, X, yreg, 4), Xt, two)
    save("reg_gamma", train({"objective": "reg:gamma"}, X, ypos, 4), Xt, two)
    save("reg_tweedie", train({"objective": "reg:tweedie", "tweedie_variance_power": 1.3}, X, ypos, 4), Xt, two)
    groups = [20] * (n // 20)
    rank_y = np.clip(np.round(z + 1), 0, 3)
    for obj in ("rank:pairwise", "rank:ndcg", "rank:map"):
        yy = (rank_y > 1).astype(float) if obj == "rank:map" else rank_y
        dm = xgb.DMatrix(X, label=yy)
        dm.set_group(groups)
        b = xgb.train({"objective": obj, "max_depth": 3, "nthread": 1, "seed": 1}, dm, 4)
        save(obj.replace(":", "_"), b, Xt, two)
    save("gblinear", train({"objective": "reg:squarederror", "booster": "gblinear",
                            "updater": "coord_descent"}, np.nan_to_num(X), yreg, 5), Xt)
    save("gblinear_multi", train({"objective": "multi:softprob", "num_class": 3, "booster": "gblinear"},
                                 np.nan_to_num(X), ycls, 5), Xt, two)

    # The benchmark model: 50 trees of depth 5 on 20 features, as
    # gzipped JSON and legacy binary (the same model for both evaluators).
    Xb = dataset(2000, 20, missing=0.02)
    zb = Xb[:, :10] @ rng.normal(size=10)
    yb = (np.nan_to_num(zb) + rng.normal(scale=0.5, size=len(Xb)) > 0).astype(float)
    bench = train({"objective": "binary:logistic", "max_depth": 5, "eta": 0.1}, Xb, yb, 50)
    Xbt = dataset(50, 20, missing=0.02)
    save("bench", bench, Xbt, formats=("json", "bin"))
    p = os.path.join(HERE, "bench.json")
    with open(p, "rb") as f, open(p + ".gz", "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as g:
            g.write(f.read())
    os.remove(p)


if __name__ == "__main__":
    main()
