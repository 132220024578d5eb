// Package xgboost evaluates XGBoost models saved as JSON or UBJSON, the
// formats XGBoost 1.0 and later write with Booster.save_model (".json"
// and ".ubj"; UBJSON is the default from XGBoost 2.1). It is pure Go,
// with its own evaluator: the leaves library reads only the legacy
// binary format. Import it for its side effect:
//
//	import _ "github.com/modelstream/modelstream/serving/formats/xgboost"
//
// # Formats
//
// Two format names are registered, "xgboost-json" and "xgboost-ubj", for
// publishers that state the encoding they send. The "xgboost" format of
// package serving/formats/leaves reads every encoding: it tells JSON and
// UBJSON from the legacy binary format by their first bytes and hands
// them to this package, so a model message that says "xgboost" works for
// whatever save_model wrote, in a program that imports package leaves
// too: with this package alone, "xgboost" is an unknown format.
//
// # Models
//
// The gbtree, dart and gblinear boosters are read, with random forests
// (num_parallel_tree), multiclass models, and categorical splits (models
// trained with enable_categorical). A dart model applies its tree
// weights at inference, as XGBoost's predict does. The objectives are
// binary:logistic, binary:logitraw and binary:hinge; multi:softmax and
// multi:softprob; reg:squarederror (and reg:linear), reg:logistic,
// reg:squaredlogerror, reg:pseudohubererror, reg:absoluteerror,
// reg:quantileerror, count:poisson, reg:gamma, reg:tweedie, survival:cox
// and survival:aft; and rank:pairwise, rank:ndcg and rank:map, which
// give raw scores. base_score is read in its 1.x form ("5E-1") and its
// 2.x/3.x vector form ("[5E-1]", one intercept per output), and is
// turned into a margin as XGBoost does (the logit for logistic
// objectives, the log for poisson, gamma, tweedie and survival). A
// logistic base_score of 0 or 1, which XGBoost 3.2 and later write for
// a training set with one label, is clamped to [1e-6, 1-1e-6] as they
// clamp it; outside [0, 1] it fails to load. Vector
// leaves (multi_strategy="multi_output_tree") and other objectives fail
// to load with serving.ErrUnsupportedModel.
//
// # Inputs
//
// A model's feature_names become [serving.ModelInfo.Inputs], so the
// Server binds named records to it. A categorical feature is fed its
// category code (the pandas category code XGBoost was trained on) as a
// number; XGBoost 1.x models do not record category names, so such
// inputs carry no Categories. NaN means "missing" and follows each
// split's default direction; serve with
// serving.WithNonFinite(serving.AllowMissing) when inputs can be missing.
// Features are rounded to float32 before each comparison, as XGBoost
// reads them, and margins are summed in float32 in XGBoost's order, so
// that outputs match XGBoost's own to its last bits (within 1e-6 on every
// model of the tests, most of them exactly).
//
// # Predictions
//
// By default a model outputs what XGBoost's predict returns. The label
// "xgboost.output" set to "margin" gives the raw margins instead, as
// predict(output_margin=True), and "xgboost.iterations" set to N uses
// only the first N boosting rounds, as predict(iteration_range=(0, N)).
// A bad label value fails with serving.ErrInvalidDescriptor. A model with one output sets
// Prediction.Value, plus Label ("0" or "1") and Confidence for the
// logistic objectives, and Label for binary:hinge (whose Value is 0 or
// 1). A model with several outputs returns them all in Prediction.Values
// in class order; Value is the largest, Label is its index as a decimal
// string, and Confidence is that probability for multi:softprob and
// multi:softmax. multi:softmax gives probabilities as multi:softprob
// does, with the class XGBoost's predict returns in Label, the same as
// package leaves does for both.
//
// # Safety
//
// Models are checked completely at load. Corrupt, truncated or hostile
// bytes fail with serving.ErrCorruptModel and never panic: JSON and
// UBJSON documents may nest at most 64 levels; every UBJSON count and
// length is checked against the bytes left before anything is
// allocated, so decoding takes memory proportional to the input; every
// child index is checked to be in range and every node to be reached
// exactly once from its tree's root, so that prediction terminates; and
// every feature index and category set is checked. Trees are laid out
// flat, depth first, with each split's left child next to it. Models are
// immutable and safe for concurrent use.
package xgboost
