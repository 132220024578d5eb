// Package pmml is the "pmml" model format: an evaluator of PMML 4.0 to
// 4.4 documents (the Predictive Model Markup Language of the Data Mining
// Group), in pure Go. Importing the package registers the format with
// serving:
//
//	import _ "github.com/modelstream/modelstream/serving/formats/pmml"
//
// A model message carries the document exactly as the exporter wrote it
// (JPMML-SparkML, JPMML-SkLearn, R's pmml package, KNIME, SAS, ...).
//
// # Inputs
//
// The inputs are the active fields of the top-level model's
// MiningSchema, in the order they are listed there; [Model.Describe]
// names them. A field whose DataDictionary dataType is string (or
// boolean) is categorical for the Server: its Input lists the field's
// valid Values (or, when the DataDictionary lists none, the values the
// model itself tests) followed by the values declared invalid or missing,
// and Predict receives the index of the record's value in that list. Every other field is numeric, including integer
// fields of optype categorical, and Predict receives its number. NaN
// means missing.
//
// Each value is then checked and treated as the MiningField says:
// values the DataDictionary declares missing become missing; a value
// outside the declared valid Values or Intervals (or a category index out
// of range, or an infinity) is invalid, and invalidValueTreatment
// decides (returnInvalid, the default, fails the record with a
// *serving.FieldError wrapping serving.ErrFieldType; asIs, asMissing and
// asValue are honoured); outliers are treated as asIs, asMissingValues or
// asExtremeValues say; a missing value takes missingValueReplacement when
// there is one, fails the record with serving.ErrMissingField when
// missingValueTreatment is returnInvalid, and otherwise reaches the model,
// whose own rules (a tree's missingValueStrategy, say) decide. When the
// model then has no result, the error names the first missing input; with
// every input present it wraps [ErrNoResult].
//
// # Outputs
//
// A regression model's prediction is its Value, after the Targets
// element's clamping, rescaling and integer cast (or its TargetValue
// defaultValue when the model has no result; a classification falls back
// on its TargetValue prior probabilities likewise). A classification
// model's prediction has Label, the predicted category; Values, the
// probability of every category in the order of the target's
// DataDictionary Values (or the order the model names them when the
// DataDictionary lists none); Confidence and Value, the probability of
// Label; [Model.Classes] lists the categories in that order. A TreeModel's
// missingValuePenalty multiplies Confidence alone, once for each
// defaultChild taken and each surrogate predicate decided by an
// alternative (ScoreDistribution confidence attributes are not read).
//
// OutputFields (predictedValue, predictedDisplayValue, probability,
// transformedValue, and a Scorecard's reasonCode) are computed so that
// later segments of a model chain and transformedValue expressions can
// read them; they are not part of the Prediction. A residual is always
// missing, as the target is not an input.
//
// # Models
//
// RegressionModel (regression, and classification with every
// normalizationMethod), GeneralRegressionModel (regression, general
// linear, generalized linear with every link function, multinomial
// logistic, ordinal multinomial with every cumulative link; not Cox
// regression or contrast matrices), TreeModel (every
// predicate, missingValueStrategy and noTrueChildStrategy,
// ScoreDistribution probabilities or record counts), MiningModel with a
// Segmentation (sum, weightedSum, average, weightedAverage, median, max,
// majorityVote, weightedMajorityVote, selectFirst, modelChain),
// NeuralNetwork, SupportVectorMachineModel and Scorecard. The
// TransformationDictionary and LocalTransformations may hold DerivedFields
// built from Constant, FieldRef, NormContinuous, NormDiscrete,
// Discretize, MapValues (InlineTable) and Apply of the built-in
// arithmetic, comparison, boolean, if and isMissing functions. A function
// whose arguments are present but whose result is not a finite number
// (0/0, x/0, ln(-1), an overflow) gives an invalid result: the Apply's
// invalidValueTreatment of returnInvalid, the default, fails the record
// with [ErrNoResult], and so does asIs, which passes the invalid result
// on (JPMML re-throws it; no value here is NaN or infinite); asMissing
// makes it missing (and defaultValue then applies). A DerivedField that nothing reads is never computed, so its
// invalid result fails no record; one that is read anywhere in the model
// is computed for every record before the model runs, so its invalid
// result fails the record even when the record's path through a tree
// never reaches the predicate that reads it (JPMML, which computes a
// field when it is first read, scores such a record; guard the Apply
// with if, or give it invalidValueTreatment="asMissing"). isIn of a
// missing value is false and isNotIn true, unless the list holds a
// missing Constant.
//
// A Segmentation's missingPredictionTreatment of skipSegment leaves out
// segments without a result; otherwise (continue, returnMissing) a
// segment without a result leaves the whole model without one.
// Arithmetic is in float64. Predicates on a field of dataType float
// compare float32 values (the value and the threshold rounded to
// float32), as that dataType declares and as XGBoost and LightGBM split,
// so a JPMML export of their trees takes the same branches.
//
// Anything else (another model element, a string function, a
// DefineFunction, a TableLocator, ...) is refused at load with an error
// wrapping serving.ErrUnsupportedModel that names the element or value.
//
// # Compilation
//
// Loading compiles the document once: every field reference becomes the
// index of a slot in a scratch vector, every number and category is
// parsed and interned, predicates and expressions become closures. A
// prediction then runs the plan over a pooled scratch vector, with no map
// lookup or string handling; only a classification's Values is
// allocated.
//
// # Hostile documents
//
// The XML is read token by token: a DOCTYPE or any other directive is
// refused, so no entity can be declared or expanded. Documents over
// 256 MiB, elements nested more than 2000 deep, attribute values over
// 64 KiB, text over 64 MiB in one element, more than 20 million
// elements, and more elements kept than 1024 plus one per 12 bytes of
// the document are refused, and so is a document whose compiled plan would
// need more than 4 Mi values (scratch slots of one evaluation plus the
// tables the document's size does not bound by itself: category maps,
// support vectors, parameter rows, tree nodes' probabilities of the
// categories their ScoreDistributions leave out) or whose derived fields chain
// through more than 2000 others. So is a document another reader could
// take otherwise: an element that gives one attribute twice (or in two
// namespaces, as attributes are read by local name), or a second child
// where PMML allows one (a second DataDictionary, MiningSchema, Output,
// Targets, Segmentation or root Node, a Node's second predicate, ...).
// All of these fail with
// serving.ErrCorruptModel, before the memory they would take is
// allocated. The content of Header, Extension, MiningBuildTask,
// ModelStats, ModelExplanation and ModelVerification is read past
// without being kept, so the tree the parser keeps stays within about
// 10 times the document's size (6.5 times for the densest documents
// measured); the garbage the XML decoder makes on the way is collected
// as usual.
package pmml
