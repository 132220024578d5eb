#!/usr/bin/python3
"""Logistic models whose base_score is at or next to the ends of [0, 1],
in the layout of make_fixtures.py.

logistic_base_lo and logistic_base_hi are trained by XGBoost 1.7.4 with
base_score 1e-6 and 0.999999, with its own predictions. XGBoost 1.7 and
2.x refuse a logistic base_score of exactly 0 or 1; XGBoost 3.2 and
later accept it and clamp it to [1e-6, 1 - 1e-6] in float32 before
taking the logit (LogisticProbToMargin in src/objective/logistic_obj.h,
dmlc/xgboost#11973). So logistic_base_0 and logistic_base_1 are the lo
and hi models with base_score rewritten to "0E0" and "1E0", and their
expected outputs are 1.7.4's for the clamped values: float32(1e-6) and
float32(1) - float32(1e-6) are the same float32 numbers as 1e-6 and
0.999999.

Run with Debian's python3-xgboost:  /usr/bin/python3 make_base_score_fixtures.py
"""
import json
import os
import shutil

import numpy as np

import make_fixtures as mf

HERE = mf.HERE


def main():
    assert np.float32(1) - np.float32(1e-6) == np.float32(0.999999)
    n, d = 200, 5
    X = mf.dataset(n, d)
    Xt = mf.dataset(40, d)
    z = np.nan_to_num(X[:, 0]) - 0.5 * np.nan_to_num(X[:, 1])
    y = (z + mf.rng.normal(scale=0.3, size=n) > 0).astype(float)
    formats = ("json", "ubj", "bin")
    for name, base, edited, to in (("logistic_base_lo", 1e-6, "logistic_base_0", "0E0"),
                                   ("logistic_base_hi", 0.999999, "logistic_base_1", "1E0")):
        bst = mf.train({"objective": "binary:logistic", "base_score": base}, X, y, 4)
        mf.save(name, bst, Xt, formats)
        with open(os.path.join(HERE, name + ".json")) as f:
            model = json.load(f)
        model["learner"]["learner_model_param"]["base_score"] = to
        with open(os.path.join(HERE, edited + ".json"), "w") as f:
            json.dump(model, f, separators=(",", ":"))
        with open(os.path.join(HERE, name + ".expected.json")) as f:
            exp = json.load(f)
        exp["formats"] = ["json"]
        exp["note"] = ("%s.json with base_score %s: XGBoost >= 3.2 clamps it to %g, "
                       "so these are XGBoost %s's predictions for base_score %g" %
                       (name, to, base, exp["xgboost"], base))
        with open(os.path.join(HERE, edited + ".expected.json"), "w") as f:
            json.dump(exp, f, separators=(",", ":"))
            f.write("\n")


if __name__ == "__main__":
    main()
