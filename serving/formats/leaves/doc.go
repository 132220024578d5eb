// Package leaves registers the tree-ensemble model formats with serving,
// reading them with the pure-Go inference library
// github.com/dmitryikh/leaves. Import it for its side effect:
//
//	import _ "github.com/modelstream/modelstream/serving/formats/leaves"
//
// # Formats
//
// Four format names are registered. The bytes of a [serving.Descriptor]
// are exactly what the training library writes:
//
//   - "lightgbm": a LightGBM text model (Booster.save_model), with the
//     gbdt, dart and rf boosting types and categorical splits, as
//     LightGBM 2.x to 4.x write it (version=v2, v3 and v4). Linear trees
//     (linear_tree=true) fail with serving.ErrUnsupportedModel, since
//     leaves would ignore their leaf models and answer wrong scores.
//   - "lightgbm-json": a LightGBM JSON dump (Booster.dump_model), of
//     version v2 to v4 (linear trees refused as above). It is a
//     separate name rather than sniffed from "lightgbm", so that a
//     publisher states what it sends; JSON bytes published as
//     "lightgbm" fail with a hint to use "lightgbm-json".
//   - "xgboost": an XGBoost model as save_model writes it, in any of its
//     encodings, told apart by content. The legacy binary format is read
//     by leaves, with the gbtree, dart and gblinear boosters: as written
//     before XGBoost 1.0, and as XGBoost 1.x writes it (with a "binf"
//     header, base_score as a probability or mean, which is turned into
//     a margin here, and num_parallel_tree; a multiclass random forest in
//     this format is refused, save it as JSON). JSON and UBJSON models
//     are handed to package serving/formats/xgboost, an evaluator of
//     this module's own, which this package imports; for them the label
//     "leaves.transform" may only be "auto" or "raw" (margins), and
//     "leaves.estimators" keeps its meaning (as label
//     "xgboost.iterations").
//   - "sklearn": a scikit-learn GradientBoostingClassifier pickled with
//     pickle protocol 0, which is what leaves reads.
//
// # Outputs
//
// By default a model outputs what its training objective predicts, read
// from the model bytes: the LightGBM "objective" (text header or JSON
// field) or the XGBoost objective name. Binary objectives give
// probabilities through the logistic function, multiclass objectives
// give class probabilities through softmax, and poisson, gamma and
// tweedie objectives give exp of the raw score. Regression and ranking
// objectives, and JSON dumps that do not record their objective, give
// raw scores. A LightGBM random forest (v3 or v4) gives its objective's
// transform of the mean of its trees, as LightGBM predicts it; a v2
// forest, whose leaves early LightGBM 2.x wrote already transformed,
// gives the mean as it is (set "leaves.transform" for a v2 forest of a
// later 2.x release). sklearn pickles carry no objective
// leaves can read, so they give raw decision_function scores.
//
// Two optional Descriptor labels change this:
//
//   - "leaves.transform": "auto" (the default described above), "raw",
//     "logistic" (applied to each output), "softmax" (needs two or more
//     outputs) or "exp". Use "raw" for margins, or "logistic"/"softmax"
//     to get predict_proba from an sklearn model.
//   - "leaves.estimators": use only the first N boosting rounds, like
//     XGBoost's iteration_range=(0, N) or LightGBM's num_iteration (a
//     round of an XGBoost random forest is num_parallel_tree trees;
//     XGBoost's older ntree_limit counted those trees). "0" or absent
//     means all of them.
//
// An objective this package does not know fails to load with
// serving.ErrUnsupportedModel; set "leaves.transform" to serve it anyway.
// So does a LightGBM model trained with reg_sqrt=true (objective
// "regression sqrt"), whose prediction is the signed square of its raw
// score.
// A bad label value fails with serving.ErrInvalidDescriptor.
//
// # Predictions
//
// A model with one output (regression, binary classification) sets only
// Prediction.Value, plus Label ("0" or "1") and Confidence when the output
// is a probability from the logistic function. It allocates nothing per
// call. A model with several outputs (multiclass) returns all of them in
// Prediction.Values, in class order; Value is the largest, Label is its
// index as a decimal string, and Confidence is that largest probability
// when the outputs are probabilities (0 for raw scores).
//
// The feature vector must have exactly the model's feature count (see
// [Model.Describe]); any other length is a *serving.FeatureCountError.
//
// # Inputs
//
// A LightGBM model (text or JSON dump) declares its inputs by name from
// its feature_names, in [serving.ModelInfo.Inputs], so that the Server
// binds named records to it. A model trained on pandas categorical
// columns lists their categories (pandas_categorical) on the features
// that hold them, in the order of the codes LightGBM was trained on: a
// record's text value reaches the trees as its code. Models without
// names (LightGBM files written without them, the legacy XGBoost binary
// format, which does not store names, and sklearn pickles) are fed
// positionally. XGBoost JSON and UBJSON models name their inputs through
// package xgboost.
// NaN means "missing" to the trees, and a legacy XGBoost gblinear model
// leaves a missing feature out of its sum, as XGBoost does, so serve
// these models with serving.WithNonFinite(serving.AllowMissing) when
// inputs can be missing.
//
// # Evaluation
//
// leaves parses the models; this package evaluates the trees itself.
// At load, each decoded tree ensemble (LightGBM, sklearn, and the
// legacy XGBoost gbtree and dart models) is compiled into a flat form
// of this package, in which each node's missing-value rule (NaN, and
// LightGBM's "zero" range of ±1e-35) is resolved to a single comparison
// wherever one expresses it, instead of being derived again from the
// node's flags at every visit, as leaves does. Predict walks that form;
// PredictBatch takes blocks of 64 rows through each tree in turn, so
// that a tree's nodes are read from cache for the whole block
// (BenchmarkTreeMajor: 0.85 to 0.88 of the CPU time of row by row
// Predict calls for a 100-tree model, about 74 KB of nodes; 0.99 to
// 1.02 for a 39-tree model, about 21 KB). The
// scores are bit for bit leaves' own (a NaN score is math.NaN() in
// both, whatever NaNs met in the sum): each output sums the same terms
// (leaf value times leaves' tree weight, from leaves' start value) in
// the same tree order, which the package's tests check against leaves
// on every test model and on random models and rows of edge values.
// Measured with BenchmarkPairedOverhead (the 39-tree LightGBM
// breast-cancer model, 30 features, each way timed by the CPU clock of
// its thread), the compiled form costs 0.57 to 0.62 of the CPU time per
// record of leaves' PredictSingle at batch sizes 1, 8 and 64, where
// Predict and PredictBatch through leaves cost 0.99 to 1.03 (test
// binaries of both alternated, 5 runs each, load 12 to 13 on 2 cores).
// XGBoost gblinear models are not compiled: leaves evaluates them. Once
// compiled, leaves' decoded trees are dropped, so a model keeps one copy
// of its trees (24 bytes per node and 8 per leaf).
//
// # Safety
//
// Model bytes are checked before and after leaves decodes them, so that
// corrupt or hostile bytes fail with serving.ErrCorruptModel instead of
// crashing the process: length fields are checked against the input size
// before leaves allocates for them, a panic inside leaves is recovered,
// and every decoded tree is verified (child links point forward, every
// node has one parent, leaf and feature indexes are in range) so that
// prediction always terminates, never indexes out of range, and follows
// the model's own tree (leaves builds a subtree shared by two nodes once,
// and links one of them elsewhere: such models, which LightGBM, XGBoost
// and scikit-learn do not write, are refused). leaves reads a JSON dump in time that
// grows with the square of its trees' depth and allocates a bitset up to
// the largest category of a categorical split, so a dump whose trees are
// nested deeper than about 64 levels on average (by bytes) fails with
// serving.ErrUnsupportedModel (the text model, which leaves reads in one
// pass, has no such limit), and one whose category bitsets would take
// more words than it has bytes with serving.ErrCorruptModel. Models are
// immutable and safe for concurrent use.
package leaves
