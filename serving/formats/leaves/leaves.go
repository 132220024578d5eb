package leaves

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	lv "github.com/dmitryikh/leaves"

	"github.com/modelstream/modelstream/internal/linmodel"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/internal/xgblink"
	"github.com/modelstream/modelstream/serving/formats/xgboost"
)

// The format names this package registers.
const (
	FormatLightGBM     = "lightgbm"
	FormatLightGBMJSON = "lightgbm-json"
	FormatXGBoost      = "xgboost"
	FormatSklearn      = "sklearn"
)

// The Descriptor labels this package reads; see the package documentation.
const (
	LabelTransform  = "leaves.transform"
	LabelEstimators = "leaves.estimators"
)

// maxFeatures bounds the feature count a model may declare (16 Mi).
const maxFeatures = 1 << 24

func init() {
	serving.Register(FormatLightGBM, serving.FormatFunc(loadLightGBM))
	serving.Register(FormatLightGBMJSON, serving.FormatFunc(loadLightGBMJSON))
	serving.Register(FormatXGBoost, serving.FormatFunc(loadXGBoost))
	serving.Register(FormatSklearn, serving.FormatFunc(loadSklearn))
}

// Transform is the function applied to a model's raw scores.
type Transform string

// The transforms.
const (
	// Raw leaves the scores as the trees sum them.
	Raw Transform = "raw"
	// Logistic applies 1/(1+e^-kz) to each output (k is 1 unless the
	// LightGBM objective says "sigmoid:k").
	Logistic Transform = "logistic"
	// Softmax turns the outputs into class probabilities.
	Softmax Transform = "softmax"
	// Exp applies e^z to each output.
	Exp Transform = "exp"
)

// Model is a loaded tree ensemble. It is immutable and safe for
// concurrent use.
type Model struct {
	// ens is leaves' decoded model, loaded without transformation (raw
	// scores); it is dropped once compiled into flat, which takes as
	// much memory again. flat nil: leaves evaluates ens.
	ens        *lv.Ensemble
	flat       *forest
	format     string
	name       string
	features   int
	outputs    int
	estimators int // rounds used; 0 means all
	rounds     int // rounds in the model
	perRound   int // trees per output in a round: num_parallel_tree of a legacy XGBoost forest, else 1
	trees      int // estimators·perRound, the count leaves is given; 0 means all
	transform  Transform
	scale      float64  // sigmoid scale k
	labels     []string // "0", "1", ... one per output (two for one output)
	inputs     []serving.Input
	linear     bool // an XGBoost gblinear model: see present
}

var (
	_ serving.Model          = (*Model)(nil)
	_ serving.BatchPredictor = (*Model)(nil)
	_ serving.Describer      = (*Model)(nil)
)

// Describe implements serving.Describer.
func (m *Model) Describe() serving.ModelInfo {
	return serving.ModelInfo{
		Features: m.features,
		Inputs:   slices.Clone(m.inputs),
		Outputs:  m.outputs,
		Input:    fmt.Sprintf("%d float64 features, NaN for missing", m.features),
	}
}

// Transform returns the transform applied to the raw scores.
func (m *Model) Transform() Transform { return m.transform }

// Name returns the kind of ensemble as leaves names it, such as
// "lightgbm.gbdt", "xgboost.dart" or "xgboost.gblinear".
func (m *Model) Name() string { return m.name }

// Estimators returns the number of boosting rounds used per output.
func (m *Model) Estimators() int {
	if m.estimators > 0 {
		return m.estimators
	}
	return m.rounds
}

// Predict implements serving.Model. A model with one output allocates
// nothing (but a gblinear model's copy of a row with missing features);
// a model with several allocates Prediction.Values.
func (m *Model) Predict(_ context.Context, x []float64) (p serving.Prediction, err error) {
	if len(x) != m.features {
		return p, &serving.FeatureCountError{Want: m.features, Got: len(x)}
	}
	defer m.recoverPredict(&err)
	if m.flat != nil {
		if m.outputs == 1 {
			return m.single(m.flat.predict1(x)), nil
		}
		vals := make([]float64, m.outputs)
		m.flat.predict(x, vals)
		return m.multi(vals), nil
	}
	x = m.present(x)
	if m.outputs == 1 {
		return m.single(m.ens.PredictSingle(x, m.trees)), nil
	}
	vals := make([]float64, m.outputs)
	if err := m.ens.Predict(x, m.trees, vals); err != nil {
		return p, fmt.Errorf("leaves: %w", err)
	}
	return m.multi(vals), nil
}

// recoverPredict turns a panic inside leaves or the compiled forest into
// an error. The checks made at load time should make it unreachable; it
// is the last line of defence for a process that serves many models.
func (m *Model) recoverPredict(err *error) {
	if r := recover(); r != nil {
		*err = serving.Corrupt(m.format, fmt.Errorf("leaves: panic while predicting: %v", r))
	}
}

// PredictBatch implements serving.BatchPredictor. Every row must have the
// model's feature count; the first row that does not fails the batch
// with a *serving.FeatureCountError. The Values of multi-output rows share
// one allocation. PredictBatch checks ctx between blocks of rows.
func (m *Model) PredictBatch(ctx context.Context, rows [][]float64, out []serving.Prediction) (err error) {
	if len(out) != len(rows) {
		return fmt.Errorf("leaves: PredictBatch with %d rows and %d outputs", len(rows), len(out))
	}
	for _, r := range rows {
		if len(r) != m.features {
			return &serving.FeatureCountError{Want: m.features, Got: len(r)}
		}
	}
	defer m.recoverPredict(&err)
	var backing []float64
	if m.outputs > 1 {
		backing = make([]float64, m.outputs*len(rows))
	}
	if m.flat != nil {
		return m.predictFlat(ctx, rows, out, backing)
	}
	for i, r := range rows {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		r = m.present(r)
		if m.outputs == 1 {
			out[i] = m.single(m.ens.PredictSingle(r, m.trees))
			continue
		}
		vals := backing[i*m.outputs : (i+1)*m.outputs : (i+1)*m.outputs]
		if err := m.ens.Predict(r, m.trees, vals); err != nil {
			return fmt.Errorf("leaves: %w", err)
		}
		out[i] = m.multi(vals)
	}
	return nil
}

// predictFlat is PredictBatch with the compiled forest, over blocks of
// flatBlock rows; backing holds the outputs of a multi-output model.
func (m *Model) predictFlat(ctx context.Context, rows [][]float64, out []serving.Prediction, backing []float64) error {
	var buf [flatBlock]float64
	for lo := 0; lo < len(rows); lo += flatBlock {
		if lo%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		block := rows[lo:min(lo+flatBlock, len(rows))]
		if m.outputs == 1 {
			m.flat.predictBlock(block, buf[:])
			for i, z := range buf[:len(block)] {
				out[lo+i] = m.single(z)
			}
			continue
		}
		m.flat.predictBlock(block, backing[lo*m.outputs:])
		for i := range block {
			j := (lo + i) * m.outputs
			out[lo+i] = m.multi(backing[j : j+m.outputs : j+m.outputs])
		}
	}
	return nil
}

// present returns x, or, for an XGBoost gblinear model given missing
// (NaN) features, a copy of x with 0 for them: XGBoost leaves a missing
// feature out of a linear model's sum, where leaves would multiply the
// NaN into every output. Only a row with missing features is copied.
func (m *Model) present(x []float64) []float64 {
	if !m.linear {
		return x
	}
	for i, v := range x {
		if v != v {
			c := slices.Clone(x)
			for j := i; j < len(c); j++ {
				if c[j] != c[j] {
					c[j] = 0
				}
			}
			return c
		}
	}
	return x
}

// single and multi turn raw scores into a Prediction. A NaN raw score
// becomes math.NaN() first: when two NaNs of different bits (leaf values
// of a model, say) meet in a sum, amd64 keeps the first operand's, and
// the compiler orders an addition's operands as it likes, so leaves and
// the compiled forest's one-row and block loops could each answer a
// different NaN for the same row.
func (m *Model) single(z float64) serving.Prediction {
	if z != z {
		z = math.NaN()
	}
	switch m.transform {
	case Logistic:
		return linmodel.Binary(sigmoid(m.scale*z), m.labels[0], m.labels[1])
	case Exp:
		return serving.Prediction{Value: math.Exp(z)}
	}
	return serving.Prediction{Value: z}
}

func (m *Model) multi(vals []float64) serving.Prediction {
	for k, z := range vals {
		if z != z {
			vals[k] = math.NaN()
		}
	}
	prob := true
	switch m.transform {
	case Softmax:
		linmodel.Softmax(vals)
	case Logistic:
		for k, z := range vals {
			vals[k] = sigmoid(m.scale * z)
		}
	case Exp:
		for k, z := range vals {
			vals[k] = math.Exp(z)
		}
		prob = false
	default:
		prob = false
	}
	return linmodel.Classes(vals, linmodel.Argmax(vals), m.labels, prob)
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// keepLeaves, while above 0, keeps leaves' decoded trees beside the
// compiled forest of the models loaded, for the tests that compare the
// two.
var keepLeaves atomic.Int32

// options are the label-driven choices of one load.
type options struct {
	transform  Transform // "" means auto
	estimators int
}

func parseOptions(labels map[string]string) (options, error) {
	var o options
	switch t := labels[LabelTransform]; t {
	case "", "auto":
	case string(Raw), string(Logistic), string(Softmax), string(Exp):
		o.transform = Transform(t)
	default:
		return o, fmt.Errorf("%w: label %s=%q: want auto, raw, logistic, softmax or exp", serving.ErrInvalidDescriptor, LabelTransform, t)
	}
	if s, ok := labels[LabelEstimators]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return o, fmt.Errorf("%w: label %s=%q: want a count >= 0", serving.ErrInvalidDescriptor, LabelEstimators, s)
		}
		o.estimators = n
	}
	return o, nil
}

// decoded is what a format-specific loader hands to finish.
type decoded struct {
	ens       *lv.Ensemble
	transform Transform // from the model's objective
	scale     float64
	// unknown is set when the objective's transform is unknown; the load
	// fails unless a label chooses the transform.
	unknown error
	// inputs names the model's inputs, given its feature count; nil
	// when the model has no names.
	inputs func(features int) ([]serving.Input, error)
	// perRound is the number of trees per output in one boosting round
	// (num_parallel_tree of a legacy XGBoost forest); 0 means 1.
	perRound int
}

// load runs decode with panics recovered, then validates the ensemble
// and builds the Model.
func load(format string, d serving.Descriptor, decode func([]byte) (decoded, error)) (m serving.Model, err error) {
	o, err := parseOptions(d.Labels)
	if err != nil {
		return nil, err
	}
	var dec decoded
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = serving.Corrupt(format, fmt.Errorf("leaves panicked while decoding: %v", r))
			}
		}()
		dec, err = decode(d.Bytes)
	}()
	if err != nil {
		var fe *serving.FormatError
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, serving.Corrupt(format, err)
	}
	info, err := inspect(dec.ens)
	if err != nil {
		return nil, serving.Corrupt(format, err)
	}
	mod := &Model{
		ens:        dec.ens,
		format:     format,
		name:       dec.ens.Name(),
		features:   info.features,
		outputs:    info.outputs,
		estimators: o.estimators,
		perRound:   max(dec.perRound, 1),
		transform:  dec.transform,
		scale:      dec.scale,
		linear:     info.linear,
	}
	if mod.scale == 0 {
		mod.scale = 1
	}
	if dec.inputs != nil {
		if mod.inputs, err = dec.inputs(info.features); err != nil {
			return nil, err
		}
	}
	if o.transform != "" {
		mod.transform, mod.scale = o.transform, 1
	} else if dec.unknown != nil {
		return nil, serving.Unsupported(format, dec.unknown)
	}
	if mod.transform == Softmax && mod.outputs < 2 {
		return nil, fmt.Errorf("%w: softmax needs 2 or more outputs, the model has %d", serving.ErrInvalidDescriptor, mod.outputs)
	}
	mod.rounds = dec.ens.NEstimators() / mod.perRound
	if o.estimators > mod.rounds {
		return nil, fmt.Errorf("%w: label %s=%d but the model has %d rounds", serving.ErrInvalidDescriptor, LabelEstimators, o.estimators, mod.rounds)
	}
	mod.trees = o.estimators * mod.perRound
	if mod.flat, err = compile(dec.ens, mod.trees); err != nil {
		return nil, serving.Corrupt(format, err)
	}
	if mod.flat != nil && keepLeaves.Load() == 0 {
		mod.ens = nil
	}
	nl := max(mod.outputs, 2)
	mod.labels = make([]string, nl)
	for i := range mod.labels {
		mod.labels[i] = strconv.Itoa(i)
	}
	return mod, nil
}

func loadLightGBM(_ context.Context, d serving.Descriptor) (serving.Model, error) {
	return load(FormatLightGBM, d, func(b []byte) (decoded, error) {
		if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
			return decoded{}, serving.Corrupt(FormatLightGBM, errors.New("this is JSON: publish LightGBM JSON dumps as format "+FormatLightGBMJSON))
		}
		h, err := scanLightGBMText(b)
		if err != nil {
			return decoded{}, err
		}
		tr, scale, unknown := lightGBMTransform(h.objective, h.averageOutput && h.version == "v2")
		e, err := lv.LGEnsembleFromReader(bufio.NewReader(bytes.NewReader(h.forLeaves(b))), false)
		if err != nil {
			return decoded{}, err
		}
		inputs := func(n int) ([]serving.Input, error) { return h.inputs(n, FormatLightGBM) }
		return decoded{ens: e, transform: tr, scale: scale, unknown: unknown, inputs: inputs}, nil
	})
}

func loadLightGBMJSON(_ context.Context, d serving.Descriptor) (serving.Model, error) {
	return load(FormatLightGBMJSON, d, func(b []byte) (decoded, error) {
		h, err := scanLightGBMJSON(b)
		if err != nil {
			return decoded{}, err
		}
		tr, scale, unknown := lightGBMTransform(h.objective, false) // forests refused by the scan
		lb, err := jsonForLeaves(b, h.version)
		if err != nil {
			return decoded{}, err
		}
		e, err := lv.LGEnsembleFromJSON(bytes.NewReader(lb), false)
		if err != nil {
			return decoded{}, err
		}
		inputs := func(n int) ([]serving.Input, error) { return h.inputs(n, FormatLightGBMJSON) }
		return decoded{ens: e, transform: tr, scale: scale, unknown: unknown, inputs: inputs}, nil
	})
}

func loadXGBoost(ctx context.Context, d serving.Descriptor) (serving.Model, error) {
	if xgblink.IsModel(d.Bytes) {
		return loadXGBoostDocument(d)
	}
	return load(FormatXGBoost, d, func(b []byte) (decoded, error) {
		b, perRound, err := upgradeXGBoost(b)
		if err != nil {
			return decoded{}, err
		}
		h, err := scanXGBoost(b)
		if err != nil {
			return decoded{}, err
		}
		tr, unknown := xgboostTransform(h.objective)
		r := bufio.NewReader(bytes.NewReader(b))
		var e *lv.Ensemble
		switch h.booster {
		case "gbtree", "dart":
			e, err = lv.XGEnsembleFromReader(r, false)
		case "gblinear":
			e, err = lv.XGBLinearFromReader(r, false)
		default:
			return decoded{}, serving.Unsupported(FormatXGBoost, fmt.Errorf("booster %q (want gbtree, dart or gblinear)", h.booster))
		}
		if err != nil {
			return decoded{}, err
		}
		return decoded{ens: e, transform: tr, unknown: unknown, perRound: perRound}, nil
	})
}

// loadXGBoostDocument loads an XGBoost JSON or UBJSON model with package
// xgboost's evaluator. The leaves labels keep their meaning there:
// "leaves.transform" "raw" asks for margins ("auto" for what predict
// returns), and "leaves.estimators" for the first rounds only.
func loadXGBoostDocument(d serving.Descriptor) (serving.Model, error) {
	o, err := parseOptions(d.Labels)
	if err != nil {
		return nil, err
	}
	labels := maps.Clone(d.Labels)
	set := func(key, value, from string) error {
		if v, ok := labels[key]; ok && v != value {
			return fmt.Errorf("%w: labels %s and %s=%q disagree", serving.ErrInvalidDescriptor, from, key, v)
		}
		labels[key] = value
		return nil
	}
	if o.estimators != 0 {
		if err := set(xgboost.LabelIterations, strconv.Itoa(o.estimators), LabelEstimators); err != nil {
			return nil, err
		}
	}
	switch o.transform {
	case "":
	case Raw:
		if err := set(xgboost.LabelOutput, "margin", LabelTransform+"=raw"); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: label %s=%s is not read for XGBoost JSON and UBJSON models (they apply their objective; use raw or %s=margin for margins)", serving.ErrInvalidDescriptor, LabelTransform, o.transform, xgboost.LabelOutput)
	}
	d.Labels = labels
	m, err := xgblink.Decode(FormatXGBoost, d)
	if err != nil {
		return nil, err
	}
	return m, nil
}

func loadSklearn(_ context.Context, d serving.Descriptor) (serving.Model, error) {
	return load(FormatSklearn, d, func(b []byte) (decoded, error) {
		if err := scanPickle(b); err != nil {
			return decoded{}, err
		}
		e, err := lv.SKEnsembleFromReader(bufio.NewReader(bytes.NewReader(b)), false)
		if err != nil {
			return decoded{}, err
		}
		return decoded{ens: e, transform: Raw}, nil
	})
}

// lightGBMTransform maps a LightGBM objective, as written in the model
// ("binary sigmoid:1", "multiclass num_class:5", "regression", ...), to
// the transform LightGBM applies at prediction time. A random forest
// (average_output) gets its objective's transform of the averaged tree
// outputs, as LightGBM 3.x and 4.x predict it; transformedLeaves says
// that the leaves already hold transformed outputs, to be averaged as
// they are, which is how early LightGBM 2.x wrote forests (changed
// within 2.x after LightGBM issue #1843, so a v2 forest is read the old
// way, as leaves' own v2 test forest shows).
func lightGBMTransform(objective string, transformedLeaves bool) (Transform, float64, error) {
	if transformedLeaves {
		return Raw, 1, nil
	}
	f := strings.Fields(objective)
	if len(f) == 0 {
		return Raw, 1, nil
	}
	scale := 1.0
	for _, p := range f[1:] {
		if p == "sqrt" {
			// reg_sqrt=true: LightGBM squares the raw score (keeping its
			// sign) at prediction, which no Transform does.
			return "", 0, fmt.Errorf("LightGBM objective %q (reg_sqrt): its output is the signed square of the raw score, which this package does not compute; set label %s=raw for the raw scores", objective, LabelTransform)
		}
		if v, ok := strings.CutPrefix(p, "sigmoid:"); ok {
			s, err := strconv.ParseFloat(v, 64)
			if err != nil || !(s > 0) || math.IsInf(s, 0) {
				return "", 0, fmt.Errorf("objective %q: bad sigmoid parameter", objective)
			}
			scale = s
		}
	}
	switch f[0] {
	case "binary", "multiclassova", "multiclass_ova", "ova", "ovr", "cross_entropy", "xentropy":
		return Logistic, scale, nil
	case "multiclass", "softmax":
		return Softmax, 1, nil
	case "poisson", "gamma", "tweedie":
		return Exp, 1, nil
	case "regression", "regression_l2", "l2", "mean_squared_error", "mse", "l2_root", "root_mean_squared_error", "rmse",
		"regression_l1", "l1", "mean_absolute_error", "mae", "huber", "fair", "quantile", "mape", "mean_absolute_percentage_error",
		"lambdarank", "rank_xendcg", "xendcg", "xe_ndcg", "xe_ndcg_mart", "xendcg_mart":
		return Raw, 1, nil
	}
	return "", 0, fmt.Errorf("LightGBM objective %q has an output transform this package does not know; set label %s", objective, LabelTransform)
}

// xgboostTransform maps an XGBoost objective name to the transform
// XGBoost applies at prediction time.
func xgboostTransform(objective string) (Transform, error) {
	switch objective {
	case "binary:logistic", "reg:logistic":
		return Logistic, nil
	case "multi:softprob", "multi:softmax":
		return Softmax, nil
	case "count:poisson", "reg:gamma", "reg:tweedie", "survival:cox":
		return Exp, nil
	case "reg:linear", "reg:squarederror", "reg:squaredlogerror", "reg:pseudohubererror", "reg:absoluteerror",
		"reg:quantileerror", "binary:logitraw", "rank:pairwise", "rank:ndcg", "rank:map":
		return Raw, nil
	}
	return "", fmt.Errorf("XGBoost objective %q has an output transform this package does not know; set label %s", objective, LabelTransform)
}
