package xgboost

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/modelstream/modelstream/internal/linmodel"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/internal/xgblink"
)

// The format names this package registers.
const (
	// FormatJSON is an XGBoost model saved as JSON (save_model("m.json")).
	FormatJSON = "xgboost-json"
	// FormatUBJSON is an XGBoost model saved as UBJSON (save_model("m.ubj")).
	FormatUBJSON = "xgboost-ubj"
)

// The Descriptor labels this package reads.
const (
	// LabelOutput chooses what a model outputs: "auto" (the default:
	// what XGBoost's predict returns) or "margin" (the raw sums, as
	// predict(output_margin=True)).
	LabelOutput = "xgboost.output"
	// LabelIterations uses only the first N boosting rounds of a tree
	// model, as predict(iteration_range=(0, N)); "0" or absent means all
	// of them.
	LabelIterations = "xgboost.iterations"
)

func init() {
	xgblink.IsModel = isModel
	xgblink.Decode = decode
	serving.Register(FormatJSON, serving.FormatFunc(func(ctx context.Context, d serving.Descriptor) (serving.Model, error) {
		return load(FormatJSON, d)
	}))
	serving.Register(FormatUBJSON, serving.FormatFunc(func(ctx context.Context, d serving.Descriptor) (serving.Model, error) {
		return load(FormatUBJSON, d)
	}))
}

// encoding is how a model's bytes are written.
type encoding int

const (
	encUnknown encoding = iota
	encJSON
	encUBJSON
)

// sniff tells JSON from UBJSON by the first bytes: both start with '{',
// but JSON then has white space, a quote or '}', and UBJSON has a type
// or length marker.
func sniff(b []byte) encoding {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	if i >= len(b) || b[i] != '{' {
		return encUnknown
	}
	if i > 0 {
		return encJSON
	}
	if len(b) < 2 {
		return encUnknown
	}
	switch b[1] {
	case '"', '}', ' ', '\t', '\n', '\r':
		return encJSON
	case 'i', 'U', 'I', 'l', 'L', '$', '#', 'N':
		return encUBJSON
	}
	return encUnknown
}

// isModel reports whether b looks like an XGBoost JSON or UBJSON model
// (it checks the first bytes only). The "xgboost" format of package
// leaves uses it, through package xgblink, to route such models to
// decode.
func isModel(b []byte) bool { return sniff(b) != encUnknown }

// decode decodes an XGBoost JSON or UBJSON model, telling the two apart
// by content, and reads d.Labels as the registered formats do. It is
// what the "xgboost" format of package leaves calls, through package
// xgblink, for models that are not in the legacy binary format; format
// is the name its errors report. Errors wrap serving.ErrCorruptModel,
// serving.ErrUnsupportedModel or serving.ErrInvalidDescriptor.
func decode(format string, d serving.Descriptor) (serving.Model, error) {
	enc := sniff(d.Bytes)
	if enc != encJSON && enc != encUBJSON {
		return nil, serving.Corrupt(format, errors.New("neither an XGBoost JSON nor a UBJSON model"))
	}
	m, err := loadEncoded(format, enc, d)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return m, nil
}

func load(format string, d serving.Descriptor) (serving.Model, error) {
	want := encJSON
	if format == FormatUBJSON {
		want = encUBJSON
	}
	names := map[encoding]string{encJSON: "JSON", encUBJSON: "UBJSON"}
	formats := map[encoding]string{encJSON: FormatJSON, encUBJSON: FormatUBJSON}
	switch got := sniff(d.Bytes); {
	case got == encUnknown:
		return nil, serving.Corrupt(format, fmt.Errorf("not an XGBoost %s model", names[want]))
	case got != want:
		return nil, serving.Corrupt(format, fmt.Errorf("these bytes are %s: publish them as format %q (or \"xgboost\", which reads every encoding)", names[got], formats[got]))
	}
	m, err := loadEncoded(format, want, d)
	if err != nil {
		return nil, err
	}
	return m, nil
}

type options struct {
	margin     bool
	iterations int // 0: all
}

func parseOptions(labels map[string]string) (options, error) {
	var o options
	switch v := labels[LabelOutput]; v {
	case "", "auto":
	case "margin":
		o.margin = true
	default:
		return o, fmt.Errorf("%w: label %s=%q: want auto or margin", serving.ErrInvalidDescriptor, LabelOutput, v)
	}
	if v, ok := labels[LabelIterations]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return o, fmt.Errorf("%w: label %s=%q: want a count >= 0", serving.ErrInvalidDescriptor, LabelIterations, v)
		}
		o.iterations = n
	}
	return o, nil
}

func loadEncoded(format string, enc encoding, d serving.Descriptor) (*model, error) {
	o, err := parseOptions(d.Labels)
	if err != nil {
		return nil, err
	}
	return loadWith(format, enc, d.Bytes, o)
}

func loadWith(format string, enc encoding, b []byte, o options) (*model, error) {
	var doc any
	var err error
	if enc == encJSON {
		doc, err = decodeJSON(b)
	} else {
		doc, err = decodeUBJ(b)
	}
	if err != nil {
		return nil, serving.Corrupt(format, err)
	}
	m, err := build(doc, o)
	if err != nil {
		var ue *unsupportedError
		if errors.As(err, &ue) {
			return nil, serving.Unsupported(format, err)
		}
		if errors.Is(err, serving.ErrInvalidDescriptor) {
			return nil, err
		}
		return nil, serving.Corrupt(format, err)
	}
	m.format = format
	return m, nil
}

// transform is what XGBoost applies to the margins of an objective.
type transform int

const (
	identity transform = iota
	sigmoid
	exponential
	hinge
	softmax
)

// model is a loaded XGBoost model, a serving.Model and
// serving.BatchPredictor. It is immutable and safe for concurrent use.
type model struct {
	format    string
	objective string
	booster   string
	features  int
	groups    int
	margin    bool
	transform transform
	logitBase bool      // base_score is a probability (logistic objectives)
	logBase   bool      // base_score is a mean (log-link objectives)
	base      []float32 // margin added to each output, in float32 as XGBoost keeps it
	inputs    []serving.Input
	labels    []string

	categorical bool

	// Trees, laid out flat: tree t starts at nodes[roots[t]].
	nodes   []node
	roots   []int32
	groupOf []int32
	weights []float32 // dart weights, nil for gbtree
	catSets [][]uint32

	linear []float32 // gblinear weights, feature-major, biases last
}

var (
	_ serving.Model          = (*model)(nil)
	_ serving.BatchPredictor = (*model)(nil)
	_ serving.Describer      = (*model)(nil)
)

// setObjective chooses the transform and the base_score link.
func (m *model) setObjective() error {
	switch m.objective {
	case "binary:logistic", "reg:logistic":
		m.transform, m.logitBase = sigmoid, true
	case "binary:logitraw":
		// XGBoost 1.7 adds base_score to the margin as it is.
		m.transform = identity
	case "binary:hinge":
		m.transform = hinge
	case "multi:softprob", "multi:softmax":
		m.transform = softmax
	case "count:poisson", "reg:gamma", "reg:tweedie", "survival:cox", "survival:aft":
		m.transform, m.logBase = exponential, true
	case "reg:squarederror", "reg:linear", "reg:squaredlogerror", "reg:pseudohubererror",
		"reg:absoluteerror", "reg:quantileerror", "rank:pairwise", "rank:ndcg", "rank:map":
		m.transform = identity
	default:
		return unsupported("objective %q", m.objective)
	}
	if m.transform == softmax && m.groups < 2 {
		return schemaErr("objective %s with %d classes", m.objective, m.groups)
	}
	if m.margin {
		m.transform = identity
	}
	return nil
}

// toMargin maps a base_score to the margin XGBoost adds to every output.
func (m *model) toMargin(b float64) (float64, error) {
	switch {
	case math.IsNaN(b) || math.IsInf(b, 0):
		return 0, schemaErr("base_score %v", b)
	case m.logitBase:
		// XGBoost 1.x, 2.x and 3.0/3.1 refuse 0 and 1; 3.2 and later
		// accept them and clamp to [1e-6, 1-1e-6] (its
		// LogisticProbToMargin), which changes nothing inside. The
		// logit is taken in float32 arithmetic as XGBoost takes it:
		// near 1, 1/b-1 in float64 differs from it in the margin's
		// second decimal.
		if !(b >= 0 && b <= 1) {
			return 0, schemaErr("base_score %v of a logistic objective is not in [0, 1]", b)
		}
		const eps = float32(1e-6)
		p := min(max(float32(b), eps), 1-eps)
		odds := 1/p - 1
		return -float64(float32(math.Log(float64(odds)))), nil
	case m.logBase:
		if !(b > 0) {
			return 0, schemaErr("base_score %v of a log-link objective is not positive", b)
		}
		return float64(float32(math.Log(b))), nil
	}
	return b, nil
}

// Describe implements serving.Describer. Inputs holds the model's
// feature_names when it was trained with them.
func (m *model) Describe() serving.ModelInfo {
	desc := fmt.Sprintf("%d float64 features, NaN for missing", m.features)
	if m.categorical {
		desc += "; categorical features take their category codes"
	}
	return serving.ModelInfo{
		Features: m.features,
		Inputs:   slices.Clone(m.inputs),
		Outputs:  m.groups,
		Input:    desc,
	}
}

// Objective returns the model's training objective, such as
// "binary:logistic".
func (m *model) Objective() string { return m.objective }

// Predict implements serving.Model. A model with one output allocates
// nothing; a model with several allocates Prediction.Values.
func (m *model) Predict(_ context.Context, x []float64) (serving.Prediction, error) {
	if len(x) != m.features {
		return serving.Prediction{}, &serving.FeatureCountError{Want: m.features, Got: len(x)}
	}
	if m.groups == 1 {
		return m.single(m.margin1(x)), nil
	}
	vals := make([]float64, m.groups)
	m.margins(x, vals)
	return m.multi(vals), nil
}

// PredictBatch implements serving.BatchPredictor. Every row must have
// the model's feature count; the first that does not fails the batch
// with a *serving.FeatureCountError. The Values of multi-output rows
// share one allocation. PredictBatch checks ctx between blocks of rows.
func (m *model) PredictBatch(ctx context.Context, rows [][]float64, out []serving.Prediction) error {
	if len(out) != len(rows) {
		return fmt.Errorf("xgboost: PredictBatch with %d rows and %d outputs", len(rows), len(out))
	}
	for _, r := range rows {
		if len(r) != m.features {
			return &serving.FeatureCountError{Want: m.features, Got: len(r)}
		}
	}
	var backing []float64
	if m.groups > 1 {
		backing = make([]float64, m.groups*len(rows))
	}
	for i, r := range rows {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if m.groups == 1 {
			out[i] = m.single(m.margin1(r))
			continue
		}
		vals := backing[i*m.groups : (i+1)*m.groups : (i+1)*m.groups]
		m.margins(r, vals)
		out[i] = m.multi(vals)
	}
	return nil
}

// leaf walks the tree starting at root and returns its leaf value.
func (m *model) leaf(root int32, x []float64) float32 {
	nodes := m.nodes
	i := uint32(root)
	for {
		n := &nodes[i]
		f := n.feature
		if f&flagLeaf != 0 {
			return n.value
		}
		v := x[f&featureMask]
		var left bool
		switch {
		case v != v:
			left = f&flagDefaultLeft != 0
		case f&flagCategorical != 0:
			left = !m.inCategories(n.cats, v)
		default:
			left = float32(v) < n.value
		}
		if left {
			i++
		} else {
			i = n.right
		}
	}
}

// inCategories reports whether v is one of the categories that a
// categorical split sends right. As in XGBoost, a value that is not a
// valid category (negative, too large, infinite) goes left, and a
// fractional value is truncated to its category.
func (m *model) inCategories(set uint32, v float64) bool {
	c := float32(v)
	if !(c >= 0 && c < 1<<24) {
		return false
	}
	_, found := slices.BinarySearch(m.catSets[set], uint32(c))
	return found
}

// The margins are summed in float32, tree by tree in the model's order
// and starting from the base margin, as XGBoost's CPU predictor sums
// them, so that they match XGBoost's own to the last bits rather than to
// float32 rounding.

// margin1 returns the margin of a one-output model.
func (m *model) margin1(x []float64) float64 {
	z := m.base[0]
	switch {
	case m.linear != nil:
		z = m.linearSum(x, 0, z)
	case m.weights == nil:
		for _, r := range m.roots {
			z += m.leaf(r, x)
		}
	default:
		for t, r := range m.roots {
			z += float32(m.weights[t] * m.leaf(r, x))
		}
	}
	return float64(z)
}

// margins writes the margins of a multi-output model into out.
func (m *model) margins(x []float64, out []float64) {
	var stack [16]float32
	z := stack[:0]
	if m.groups <= len(stack) {
		z = stack[:m.groups]
	} else {
		z = make([]float32, m.groups)
	}
	copy(z, m.base)
	switch {
	case m.linear != nil:
		for g := range z {
			z[g] = m.linearSum(x, g, z[g])
		}
	default:
		for t, r := range m.roots {
			v := m.leaf(r, x)
			if m.weights != nil {
				v = float32(m.weights[t] * v)
			}
			z[m.groupOf[t]] += v
		}
	}
	for g, v := range z {
		out[g] = float64(v)
	}
}

// linearSum adds the gblinear sum for output g to base, bias first, as
// XGBoost does. Missing (NaN) features count as absent, as in XGBoost.
// Each multiply-add is rounded once, as a fused multiply-add: XGBoost's
// release builds fuse it (the models of testdata/xgboost3 match only
// so), and the product of two float32 values is exact in float64.
func (m *model) linearSum(x []float64, g int, base float32) float32 {
	s := base + m.linear[m.features*m.groups+g]
	for i, v := range x {
		if v == v {
			s = float32(float64(float32(v))*float64(m.linear[i*m.groups+g]) + float64(s))
		}
	}
	return s
}

func (m *model) single(z float64) serving.Prediction {
	switch m.transform {
	case sigmoid:
		return linmodel.Binary(1/(1+math.Exp(-z)), m.labels[0], m.labels[1])
	case exponential:
		return serving.Prediction{Value: math.Exp(z)}
	case hinge:
		if z > 0 {
			return serving.Prediction{Value: 1, Label: m.labels[1]}
		}
		return serving.Prediction{Value: 0, Label: m.labels[0]}
	}
	return serving.Prediction{Value: z}
}

func (m *model) multi(vals []float64) serving.Prediction {
	prob := false
	switch m.transform {
	case softmax:
		linmodel.Softmax(vals)
		prob = true
	case sigmoid:
		for k, z := range vals {
			vals[k] = 1 / (1 + math.Exp(-z))
		}
		prob = true
	case exponential:
		for k, z := range vals {
			vals[k] = math.Exp(z)
		}
	}
	return linmodel.Classes(vals, linmodel.Argmax(vals), m.labels, prob)
}
