package pmml

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/modelstream/modelstream/serving"
)

// FormatName is the name under which this package registers the format.
const FormatName = "pmml"

// ErrNoResult means the document gives no prediction for a record whose
// fields are all present and valid: a tree whose noTrueChildStrategy is
// returnNullPrediction found no true child, a scorecard characteristic
// matched no attribute, a segmentation selected no segment, a
// classification's probabilities came out NaN (simplemax of scores
// summing to 0, say), a support vector machine's decision value came out
// NaN (its kernels overflowing to +Inf and -Inf), an Apply's result was invalid (not a finite number,
// as ln(-1) or x/0) under invalidValueTreatment returnInvalid, the
// default, or asIs. Predict wraps it; test with errors.Is.
var ErrNoResult = errors.New("pmml: no result for this record")

func init() {
	serving.Register(FormatName, serving.FormatFunc(load))
}

func load(_ context.Context, d serving.Descriptor) (serving.Model, error) {
	return parse(d.Bytes)
}

// Model is a compiled PMML document. It is immutable and safe for
// concurrent use.
type Model struct {
	inputs []prep // one per Predict position
	info   serving.ModelInfo
	pre    []step // TransformationDictionary, in dependency order
	top    *modelNode
	nslots int
	names  []string // input names, for errors
	// unset are the slots of DataFields that are not inputs: nothing
	// writes them, so they stay missing.
	unset []int
	strs  []string // interned strings: a string slot holds its index
	pool  sync.Pool
}

var (
	_ serving.Model     = (*Model)(nil)
	_ serving.Describer = (*Model)(nil)
)

// parse decodes and compiles a PMML document, for the registered format
// (serving.Load with FormatName). Errors wrap
// serving.ErrCorruptModel for a document that is not well-formed PMML or
// breaks a limit, and serving.ErrUnsupportedModel, naming the element or
// attribute value, for PMML this package does not evaluate.
func parse(b []byte) (m *Model, err error) {
	defer func() {
		var de *docError
		if errors.As(err, &de) {
			if de.unsupported {
				err = serving.Unsupported(FormatName, err)
			} else {
				err = serving.Corrupt(FormatName, err)
			}
		}
	}()
	root, err := parseXML(b)
	if err != nil {
		return nil, err
	}
	return compileDocument(root)
}

// Describe implements serving.Describer: Inputs lists the top-level
// model's active MiningSchema fields in the order Predict reads them.
func (m *Model) Describe() serving.ModelInfo {
	info := m.info
	info.Inputs = make([]serving.Input, len(m.info.Inputs))
	for i, in := range m.info.Inputs {
		info.Inputs[i] = serving.Input{Name: in.Name, Categories: append([]string(nil), in.Categories...)}
	}
	return info
}

// state is the scratch of one evaluation: one slot per field, derived
// field, output field and probability vector of the document.
type state struct {
	v []float64
	// invalid names the first Apply function whose result was invalid
	// under invalidValueTreatment returnInvalid or asIs, and the
	// treatment: the record fails.
	invalid string
	// alternatives counts the surrogate predicates that were decided
	// by an alternative, for a TreeModel's missingValuePenalty.
	alternatives int
}

func (m *Model) getState() *state {
	if s, ok := m.pool.Get().(*state); ok {
		return s
	}
	s := &state{v: make([]float64, m.nslots)}
	for _, slot := range m.unset {
		s.v[slot] = math.NaN()
	}
	return s
}

// Predict implements serving.Model. features[i] is the value of
// Describe().Inputs[i]: a number, or for a categorical input the index of
// the record's value in Inputs[i].Categories. NaN means missing.
//
// A missing value, a value outside the field's valid values or
// intervals, or a category code that is not an index of Categories, is
// handled as the MiningSchema says; where it says returnInvalid (the
// default for invalid values) or a missing value leaves the model without
// a result, the error is a *serving.FieldError naming the field and
// wrapping serving.ErrMissingField or serving.ErrFieldType.
func (m *Model) Predict(_ context.Context, features []float64) (serving.Prediction, error) {
	x := features
	if len(x) != len(m.inputs) {
		return serving.Prediction{}, &serving.FeatureCountError{Want: len(m.inputs), Got: len(x)}
	}
	s := m.getState()
	defer m.pool.Put(s)
	s.invalid = ""
	missing := -1
	for i := range m.inputs {
		p := &m.inputs[i]
		v, err := p.apply(x[i])
		if err != nil {
			return serving.Prediction{}, err
		}
		if missing < 0 && math.IsNaN(v) {
			missing = i
		}
		s.v[p.dst] = v
	}
	for _, st := range m.pre {
		s.v[st.slot] = st.e(s)
	}
	r := m.top.eval(s)
	if s.invalid != "" {
		return serving.Prediction{}, fmt.Errorf("%w: Apply %s gave an invalid result", ErrNoResult, s.invalid)
	}
	if !r.ok {
		if missing >= 0 {
			// The first input left missing is the reason the model has no result.
			return serving.Prediction{}, &serving.FieldError{Field: m.inputs[missing].name, Err: serving.ErrMissingField}
		}
		return serving.Prediction{}, ErrNoResult
	}
	t := m.top
	if !t.classify {
		return serving.Prediction{Value: r.val}, nil
	}
	k := int(r.val)
	p := serving.Prediction{Values: make([]float64, len(t.cats.vals)), Label: t.cats.labels[k]}
	copy(p.Values, s.v[t.probs:t.probs+len(t.cats.vals)])
	p.Value = p.Values[k]
	p.Confidence = p.Value
	if r.penalised {
		p.Confidence *= r.conf
	}
	return p, nil
}

// step computes one derived field into its slot.
type step struct {
	slot int
	e    expr
}

// expr is a compiled expression: field references are slot indices.
// Missing is NaN; a string is its interned index; a boolean is 0 or 1.
type expr func(s *state) float64

// Invalid-value treatments and outlier treatments of a MiningField.
const (
	invReturn = iota
	invAsIs
	invAsMissing
	invAsValue
)

const (
	outAsIs = iota
	outAsMissing
	outAsExtreme
)

// prep prepares one field's value for a model: checks validity and
// applies the MiningField's missing, invalid and outlier treatments.
type prep struct {
	name        string
	src, dst    int
	f           *field
	codes       []float64 // category code -> value, for a top-level string field
	labels      []string  // category code -> label
	hasRepl     bool
	repl        float64
	missInvalid bool // missingValueTreatment="returnInvalid"
	invalid     int
	invRepl     float64
	outliers    int
	low, high   float64
}

func (p *prep) apply(x float64) (float64, error) {
	code := x
	missing := math.IsNaN(x)
	valid := true
	if !missing {
		if p.codes != nil {
			k := int(x)
			if float64(k) != x || k < 0 || k >= len(p.codes) {
				valid = false
				if p.invalid != invReturn {
					// asIs: a value no category of the document equals.
					x = -1
				}
			} else {
				x = p.codes[k]
				// The categories also list the declared invalid and
				// missing values, so that a record can carry them.
				switch p.f.classify(x) {
				case valMissing:
					missing = true
				case valInvalid:
					valid = false
				}
			}
		} else if math.IsInf(x, 0) {
			valid = false
		} else {
			switch p.f.classify(x) {
			case valMissing:
				missing = true
			case valInvalid:
				valid = false
			}
		}
	}
	if !missing && !valid {
		switch p.invalid {
		case invReturn:
			if p.codes != nil {
				if k := int(code); float64(k) == code && k >= 0 && k < len(p.labels) {
					return 0, &serving.FieldError{Field: p.name, Err: fmt.Errorf("%w: category %q is declared invalid", serving.ErrFieldType, p.labels[k])}
				}
				return 0, &serving.FieldError{Field: p.name, Err: fmt.Errorf("%w: category code %v is not one of the %d categories", serving.ErrFieldType, code, len(p.codes))}
			}
			return 0, &serving.FieldError{Field: p.name, Err: fmt.Errorf("%w: value %v is not valid", serving.ErrFieldType, x)}
		case invAsMissing:
			missing = true
		case invAsValue:
			return p.invRepl, nil
		}
	}
	if missing {
		if p.hasRepl {
			return p.repl, nil
		}
		if p.missInvalid {
			return 0, &serving.FieldError{Field: p.name, Err: serving.ErrMissingField}
		}
		return math.NaN(), nil
	}
	if p.outliers != outAsIs && p.codes == nil {
		if x < p.low {
			if p.outliers == outAsMissing {
				return p.missingOrRepl(), nil
			}
			return p.low, nil
		}
		if x > p.high {
			if p.outliers == outAsMissing {
				return p.missingOrRepl(), nil
			}
			return p.high, nil
		}
	}
	return x, nil
}

func (p *prep) missingOrRepl() float64 {
	if p.hasRepl {
		return p.repl
	}
	return math.NaN()
}

// applyState is apply for a nested model's MiningField: the value comes
// from the enclosing scope's slot, and an error becomes a missing value
// (the top level already refused what it had to).
func (p *prep) applyState(s *state) float64 {
	v, err := p.apply(s.v[p.src])
	if err != nil {
		return math.NaN()
	}
	return v
}

const (
	valValid = iota
	valInvalid
	valMissing
)

// field is a DataField, DerivedField or OutputField: where its value
// lives, and what values are valid.
type field struct {
	name      string
	slot      int
	str       bool // values are interned strings
	cats      *catSet
	intervals []interval
	missing   []float64 // values that mean missing
	invalid   []float64 // values declared invalid
	// declared classifies the missing and invalid values when they are
	// too many to search (nil otherwise): valMissing or valInvalid.
	declared   map[float64]int
	validSet   map[float64]bool
	continuous bool
	f32        bool // dataType float: predicates compare float32 values
	// producer is the scope of the model that computes an OutputField,
	// at the end of its evaluation; nil for other fields.
	producer *scope
}

type interval struct {
	lo, hi         float64
	loOpen, hiOpen bool
}

func (iv interval) contains(x float64) bool {
	if x < iv.lo || (iv.loOpen && x == iv.lo) {
		return false
	}
	if x > iv.hi || (iv.hiOpen && x == iv.hi) {
		return false
	}
	return true
}

func (f *field) classify(x float64) int {
	if f.declared != nil {
		if k, ok := f.declared[x]; ok {
			return k
		}
	} else {
		for _, v := range f.missing {
			if v == x {
				return valMissing
			}
		}
		for _, v := range f.invalid {
			if v == x {
				return valInvalid
			}
		}
	}
	if f.validSet != nil && !f.continuous {
		if !f.validSet[x] {
			return valInvalid
		}
		return valValid
	}
	if len(f.intervals) > 0 {
		for _, iv := range f.intervals {
			if iv.contains(x) {
				return valValid
			}
		}
		return valInvalid
	}
	return valValid
}

// catSet is the ordered list of a categorical field's categories: their
// labels and their values as held in slots.
type catSet struct {
	labels []string
	vals   []float64
	open   bool // categories may be added as the model names them
	// idx indexes vals[:indexed] for find, built at load only.
	idx     map[float64]int
	indexed int
}

func (c *catSet) find(v float64) int {
	if len(c.vals) <= 16 {
		for i, x := range c.vals {
			if x == v {
				return i
			}
		}
		return -1
	}
	// Categories are only ever appended: index the new ones.
	if c.idx == nil {
		c.idx = make(map[float64]int, len(c.vals))
	}
	for i := c.indexed; i < len(c.vals); i++ {
		if _, dup := c.idx[c.vals[i]]; !dup {
			c.idx[c.vals[i]] = i
		}
	}
	c.indexed = len(c.vals)
	if i, ok := c.idx[v]; ok {
		return i
	}
	return -1
}

// modelNode is one compiled model: its local transformations and nested
// MiningSchema treatments, its core, its targets and its output fields.
type modelNode struct {
	name     string
	pre      []step
	preps    []prep
	core     evaluator
	classify bool
	str      bool    // category values are interned strings
	cats     *catSet // classification categories, in the target's order
	probs    int     // first slot of the probability vector
	target   *targetFix
	outs     []outStep
	// priors answer a classification without a result (Targets'
	// TargetValue priorProbability), by category; nil when not given.
	priors      []float64
	priorLabels []string
	priorProbs  []float64
	// reasons returns a scorecard's reason code of a rank.
	reasons func(s *state, rank int) float64
}

// result of a model core: a regression value, or the index of the
// predicted category in cats with the probabilities in the state's
// probability slots.
type result struct {
	ok  bool
	val float64
	// penalised says that a TreeModel's missingValuePenalty applies:
	// Confidence is the probability of the category times conf.
	penalised bool
	conf      float64
}

type evaluator interface {
	eval(s *state) result
}

func (mn *modelNode) eval(s *state) result {
	for i := range mn.preps {
		p := &mn.preps[i]
		s.v[p.dst] = p.applyState(s)
	}
	for _, st := range mn.pre {
		s.v[st.slot] = st.e(s)
	}
	r := mn.core.eval(s)
	if r.ok && !mn.classify && mn.target != nil {
		r.val = mn.target.apply(r.val)
	}
	if r.ok && mn.classify {
		// NaN probabilities (0/0, Inf-Inf) are no answer.
		for _, v := range s.v[mn.probs : mn.probs+len(mn.cats.vals)] {
			if v != v {
				r = result{}
				break
			}
		}
	}
	if !r.ok || r.val != r.val {
		switch {
		case !mn.classify && mn.target != nil && mn.target.def == mn.target.def:
			r = result{ok: true, val: mn.target.def}
		case mn.priors != nil:
			p := s.v[mn.probs : mn.probs+len(mn.priors)]
			copy(p, mn.priors)
			r = result{ok: true, val: float64(argmax(p))}
		}
	}
	if r.ok && math.IsNaN(r.val) {
		r.ok = false
	}
	for _, o := range mn.outs {
		s.v[o.slot] = o.fn(s, r)
	}
	return r
}

// predictedValue returns r as a slot value: the regression value or the
// value of the predicted category.
func (mn *modelNode) predictedValue(r result) float64 {
	if !r.ok {
		return math.NaN()
	}
	if mn.classify {
		return mn.cats.vals[int(r.val)]
	}
	return r.val
}

// targetFix is a Target element's treatment of a regression value.
type targetFix struct {
	min, max     float64
	factor, cons float64
	cast         string
	def          float64 // TargetValue defaultValue: the value when there is no result; NaN if none
}

func (t *targetFix) apply(v float64) float64 {
	v = math.Max(t.min, math.Min(t.max, v))
	v = v*t.factor + t.cons
	switch t.cast {
	case "round":
		v = math.Floor(v + 0.5)
	case "ceiling":
		v = math.Ceil(v)
	case "floor":
		v = math.Floor(v)
	}
	return v
}

type outStep struct {
	slot int
	fn   func(s *state, r result) float64
}

// labelsOf returns the categories of a field as Input categories.
func labelsOf(f *field) []string {
	if f.cats == nil {
		return nil
	}
	return append([]string(nil), f.cats.labels...)
}

func joinNames(ns []string) string { return strings.Join(ns, ", ") }

// Classes returns the categories of a classification model in the order
// of Prediction.Values, or nil for a regression model.
func (m *Model) Classes() []string {
	if !m.top.classify {
		return nil
	}
	return append([]string(nil), m.top.cats.labels...)
}
