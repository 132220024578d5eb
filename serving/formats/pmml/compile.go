package pmml

import (
	"math"
	"slices"
	"strconv"

	"github.com/modelstream/modelstream/serving"
)

// compiler turns the node tree into slots, steps and evaluators.
type compiler struct {
	strs   []string
	sid    map[string]int
	nslots int
	used   int // values charged besides slots
	chain  int // depth of derived fields being resolved
	dict   *scope
	// nums is the number each string of strs spells (NaN for none), for
	// conversions from strings to numbers; built at the end of
	// compilation, when needNums.
	nums     []float64
	needNums bool
	// transforms are the scopes with derived fields, in the order their
	// transformations were read, for checkUnused.
	transforms []*scope
	// deriving are the scopes of the derived fields being compiled, the
	// innermost last (see lookup).
	deriving []*scope
	// unused is set while checkUnused compiles the derived fields that
	// are never computed.
	unused bool
}

// scope resolves field names. A model's scope holds its local derived
// fields and shadows of fields its MiningSchema treats; the document's
// scope holds the DataDictionary and the TransformationDictionary.
type scope struct {
	parent *scope
	fields map[string]*field
	// lazy derived fields not compiled yet, and the list to append their
	// steps to once they are.
	pending map[string]*node
	order   []string // the derived fields in document order
	busy    map[string]bool
	steps   *[]step
	c       *compiler
}

func (c *compiler) newScope(parent *scope) *scope {
	return &scope{parent: parent, fields: map[string]*field{}, pending: map[string]*node{}, busy: map[string]bool{}, c: c}
}

func (sc *scope) lookup(name string) (*field, error) {
	for s := sc; s != nil; s = s.parent {
		if f, ok := s.fields[name]; ok {
			if err := sc.c.inOrder(f); err != nil {
				return nil, err
			}
			return f, nil
		}
		if n, ok := s.pending[name]; ok {
			if s.busy[name] {
				return nil, corruptf("derived field %q is defined in terms of itself", name)
			}
			s.busy[name] = true
			// A chain of derived fields each defined by the next recurses
			// here: bound it as the XML nesting is bounded.
			if s.c.chain++; s.c.chain > maxDepth {
				return nil, corruptf("derived fields defined through more than %d others", maxDepth)
			}
			s.c.deriving = append(s.c.deriving, s)
			f, err := s.c.derived(n, s)
			s.c.deriving = s.c.deriving[:len(s.c.deriving)-1]
			s.c.chain--
			if err != nil {
				return nil, err
			}
			delete(s.pending, name)
			return f, nil
		}
	}
	return nil, corruptf("field %q is not defined", name)
}

// inOrder refuses an OutputField read by a derived field that is computed
// before the field's model runs: the derived fields of a scope are
// computed when the scope's model starts, and an OutputField when its
// model ends, so a derived field of the producing model's own scope, or
// of a scope around it (a model chain's LocalTransformations reading a
// segment's output), would read the value the previous record left in
// the pooled scratch. A derived field of a later segment reads it after
// it is computed. Derived fields nothing reads are never computed, and
// are not refused.
func (c *compiler) inOrder(f *field) error {
	if f.producer == nil || len(c.deriving) == 0 || c.unused {
		return nil
	}
	d := c.deriving[len(c.deriving)-1]
	for s := f.producer; s != nil; s = s.parent {
		if s == d {
			return unsupportedf("a DerivedField computed before the model whose OutputField %q it reads", f.name)
		}
	}
	return nil
}

func (c *compiler) slot() int {
	c.nslots++
	return c.nslots - 1
}

// maxPlanValues bounds the compiled plan: the scratch slots of one
// evaluation plus the tables that the document's size does not bound by
// itself (category maps of segments, support vectors, parameter rows).
// A document needing more is refused as corrupt before the memory is
// allocated.
const maxPlanValues = 1 << 22

// charge adds n values to the plan and fails when the plan is over
// maxPlanValues.
func (c *compiler) charge(n int) error {
	c.used += n
	if c.used+c.nslots > maxPlanValues || c.used < 0 {
		return corruptf("the compiled model would need more than %d values", maxPlanValues)
	}
	return nil
}

func (c *compiler) slots(n int) int {
	first := c.nslots
	c.nslots += n
	return first
}

// intern returns the slot value of a string.
func (c *compiler) intern(s string) float64 {
	if i, ok := c.sid[s]; ok {
		return float64(i)
	}
	c.sid[s] = len(c.strs)
	c.strs = append(c.strs, s)
	return float64(len(c.strs) - 1)
}

// value converts a label to the slot value of a field of the given kind.
func (c *compiler) value(str bool, s string) (float64, error) {
	if str {
		return c.intern(s), nil
	}
	f, err := parseNum(s)
	if err != nil {
		return 0, corruptf("%q is not a number", s)
	}
	return f, nil
}

// fieldValue converts a label to the slot value of field f, adding it to
// f's categories when they are gathered from the model.
func (c *compiler) fieldValue(f *field, s string) (float64, error) {
	x, err := c.value(f.str, s)
	if err != nil {
		return 0, err
	}
	if f.cats != nil && f.cats.open && f.cats.find(x) < 0 {
		f.cats.labels = append(f.cats.labels, s)
		f.cats.vals = append(f.cats.vals, x)
	}
	return x, nil
}

// isStrType says whether a dataType holds strings.
func isStrType(dt string) (bool, error) {
	switch dt {
	case "string", "boolean":
		return true, nil
	case "double", "float", "integer", "":
		return false, nil
	}
	return false, unsupportedf("dataType %q", dt)
}

// ignorable elements carry no semantics for scoring.
var ignorable = map[string]bool{
	"Extension": true, "Header": true, "MiningBuildTask": true, "ModelStats": true,
	"ModelExplanation": true, "ModelVerification": true, "Annotation": true, "Timestamp": true,
}

func compileDocument(root *node) (*Model, error) {
	if err := checkOnce(root); err != nil {
		return nil, err
	}
	c := &compiler{sid: map[string]int{}}
	c.dict = c.newScope(nil)
	var models []*node
	var dd, td *node
	for _, k := range root.kids {
		switch {
		case ignorable[k.name]:
		case k.name == "DataDictionary":
			dd = k
		case k.name == "TransformationDictionary":
			td = k
		case modelElements[k.name]:
			models = append(models, k)
		default:
			return nil, unsupportedf("element <%s>", k.name)
		}
	}
	if dd == nil {
		return nil, corruptf("no DataDictionary")
	}
	if len(models) == 0 {
		return nil, corruptf("no model element")
	}
	var mod *node
	for _, mn := range models {
		if mn.str("isScorable", "true") != "false" {
			mod = mn
			break
		}
	}
	if mod == nil {
		return nil, unsupportedf("no scorable model (every model has isScorable=\"false\")")
	}
	if err := c.dataDictionary(dd); err != nil {
		return nil, err
	}
	m := &Model{}
	// The top-level MiningSchema decides the inputs.
	ms := mod.one("MiningSchema")
	if ms == nil {
		return nil, corruptf("<%s> has no MiningSchema", mod.name)
	}
	listed := map[string]bool{}
	for _, mf := range ms.all("MiningField") {
		name, err := mf.need("name")
		if err != nil {
			return nil, err
		}
		usage := mf.str("usageType", "active")
		if usage != "active" {
			continue
		}
		f, ok := c.dict.fields[name]
		if !ok {
			return nil, corruptf("MiningField %q is not in the DataDictionary", name)
		}
		if listed[name] {
			return nil, corruptf("MiningField %q is listed twice", name)
		}
		listed[name] = true
		p, err := c.prepFor(mf, f)
		if err != nil {
			return nil, err
		}
		p.dst = f.slot
		m.inputs = append(m.inputs, p)
		m.names = append(m.names, name)
		m.info.Inputs = append(m.info.Inputs, serving.Input{Name: name})
	}
	if len(m.inputs) == 0 {
		return nil, corruptf("the MiningSchema has no active field")
	}
	top := c.newScope(c.dict)
	if td != nil {
		if err := c.transformations(td, top, &m.pre); err != nil {
			return nil, err
		}
	}
	mn, err := c.model(mod, top)
	if err != nil {
		return nil, err
	}
	if err := c.checkUnused(); err != nil {
		return nil, err
	}
	m.top = mn
	for i := range m.inputs {
		p := &m.inputs[i]
		if !p.f.str {
			continue
		}
		p.f.cats.open = false
		if len(p.f.cats.vals) == 0 {
			return nil, unsupportedf("categorical field %q lists no Value and the model names none", p.name)
		}
		// Categories: the valid values, then those declared invalid or
		// missing, which a record may carry too.
		labels := labelsOf(p.f)
		codes := append([]float64(nil), p.f.cats.vals...)
		// A set, not a search of codes per value: a field may list
		// hundreds of thousands of invalid values.
		have := make(map[float64]bool, len(codes))
		for _, v := range codes {
			have[v] = true
		}
		for _, extra := range [][]float64{p.f.invalid, p.f.missing} {
			for _, v := range extra {
				if !have[v] {
					have[v] = true
					codes = append(codes, v)
					labels = append(labels, c.strs[int(v)])
				}
			}
		}
		p.codes, p.labels = codes, labels
		m.info.Inputs[i].Categories = slices.Clone(labels)
	}
	isInput := make(map[*field]bool, len(m.inputs))
	for i := range m.inputs {
		isInput[m.inputs[i].f] = true
	}
	for _, f := range c.dict.fields {
		if !isInput[f] {
			m.unset = append(m.unset, f.slot)
		}
	}
	if err := c.numbers(); err != nil {
		return nil, err
	}
	m.nslots = c.nslots
	m.strs = c.strs
	m.info.Features = len(m.inputs)
	m.info.Outputs = 1
	if mn.classify {
		m.info.Outputs = len(mn.cats.vals)
	}
	m.info.Input = strconv.Itoa(len(m.inputs)) + " fields: " + joinNames(m.names)
	return m, nil
}

func (c *compiler) dataDictionary(dd *node) error {
	for _, k := range dd.kids {
		if ignorable[k.name] || k.name == "Taxonomy" {
			continue
		}
		if k.name != "DataField" {
			return unsupportedf("element <%s> in DataDictionary", k.name)
		}
		name, err := k.need("name")
		if err != nil {
			return err
		}
		if _, dup := c.dict.fields[name]; dup {
			return corruptf("DataField %q is defined twice", name)
		}
		optype := k.str("optype", "")
		str, err := isStrType(k.str("dataType", ""))
		if err != nil {
			return err
		}
		f := &field{name: name, slot: c.slot(), str: str, continuous: optype == "continuous", f32: k.str("dataType", "") == "float"}
		if optype == "continuous" && str {
			return corruptf("DataField %q is continuous with dataType %s", name, k.str("dataType", ""))
		}
		var valid []string
		for _, v := range k.kids {
			switch v.name {
			case "Value":
				val, err := v.need("value")
				if err != nil {
					return err
				}
				x, err := c.value(str, val)
				if err != nil {
					return corruptf("DataField %q: %v", name, err)
				}
				switch v.str("property", "valid") {
				case "valid":
					valid = append(valid, val)
				case "invalid":
					f.invalid = append(f.invalid, x)
				case "missing":
					f.missing = append(f.missing, x)
				default:
					return corruptf("DataField %q: Value property %q", name, v.str("property", ""))
				}
			case "Interval":
				iv, err := parseInterval(v)
				if err != nil {
					return err
				}
				f.intervals = append(f.intervals, iv)
			case "Extension":
			default:
				return unsupportedf("element <%s> in DataField", v.name)
			}
		}
		if len(f.missing)+len(f.invalid) > 16 {
			// Missing wins over invalid, as classify checks it first.
			f.declared = make(map[float64]int, len(f.missing)+len(f.invalid))
			for _, v := range f.invalid {
				f.declared[v] = valInvalid
			}
			for _, v := range f.missing {
				f.declared[v] = valMissing
			}
		}
		if len(valid) == 0 && str {
			// Categories are gathered from the values the model names.
			f.cats = &catSet{open: true}
		}
		if len(valid) > 0 {
			f.cats = &catSet{}
			f.validSet = map[float64]bool{}
			for _, l := range valid {
				x, _ := c.value(str, l)
				if f.validSet[x] {
					continue
				}
				f.validSet[x] = true
				f.cats.labels = append(f.cats.labels, l)
				f.cats.vals = append(f.cats.vals, x)
			}
		}
		c.dict.fields[name] = f
	}
	return nil
}

func parseInterval(v *node) (interval, error) {
	iv := interval{lo: math.Inf(-1), hi: math.Inf(1)}
	var err error
	if iv.lo, err = v.num("leftMargin", math.Inf(-1)); err != nil {
		return iv, err
	}
	if iv.hi, err = v.num("rightMargin", math.Inf(1)); err != nil {
		return iv, err
	}
	switch v.str("closure", "") {
	case "openOpen":
		iv.loOpen, iv.hiOpen = true, true
	case "openClosed":
		iv.loOpen = true
	case "closedOpen":
		iv.hiOpen = true
	case "closedClosed":
	default:
		return iv, corruptf("Interval closure %q", v.str("closure", ""))
	}
	return iv, nil
}

// prepFor compiles a MiningField's treatments of field f.
func (c *compiler) prepFor(mf *node, f *field) (prep, error) {
	p := prep{name: f.name, src: f.slot, f: f}
	if v, ok := mf.attr("missingValueReplacement"); ok {
		x, err := c.value(f.str, v)
		if err != nil {
			return p, corruptf("MiningField %q missingValueReplacement: %v", f.name, err)
		}
		p.hasRepl, p.repl = true, x
	}
	switch mf.str("missingValueTreatment", "asIs") {
	case "returnInvalid":
		p.missInvalid = true
	case "asIs", "asMean", "asMode", "asMedian", "asValue":
	default:
		return p, corruptf("MiningField %q missingValueTreatment %q", f.name, mf.str("missingValueTreatment", ""))
	}
	switch t := mf.str("invalidValueTreatment", "returnInvalid"); t {
	case "returnInvalid":
		p.invalid = invReturn
	case "asIs":
		p.invalid = invAsIs
	case "asMissing":
		p.invalid = invAsMissing
	case "asValue":
		p.invalid = invAsValue
		v, err := mf.need("invalidValueReplacement")
		if err != nil {
			return p, err
		}
		if p.invRepl, err = c.value(f.str, v); err != nil {
			return p, corruptf("MiningField %q invalidValueReplacement: %v", f.name, err)
		}
	default:
		return p, corruptf("MiningField %q invalidValueTreatment %q", f.name, t)
	}
	switch t := mf.str("outliers", "asIs"); t {
	case "asIs":
	case "asMissingValues", "asExtremeValues":
		p.outliers = outAsMissing
		if t == "asExtremeValues" {
			p.outliers = outAsExtreme
		}
		var err error
		if p.low, err = mf.num("lowValue", math.Inf(-1)); err != nil {
			return p, err
		}
		if p.high, err = mf.num("highValue", math.Inf(1)); err != nil {
			return p, err
		}
	default:
		return p, corruptf("MiningField %q outliers %q", f.name, t)
	}
	return p, nil
}

// treats says whether a nested MiningField changes its field's value.
func treats(mf *node) bool {
	for _, a := range []string{"missingValueReplacement", "invalidValueTreatment", "outliers", "missingValueTreatment"} {
		if _, ok := mf.attr(a); ok {
			return true
		}
	}
	return false
}

// transformations registers the DerivedFields of a
// TransformationDictionary or LocalTransformations in sc, compiled in
// dependency order into *steps.
func (c *compiler) transformations(n *node, sc *scope, steps *[]step) error {
	sc.steps = steps
	var order []string
	for _, k := range n.kids {
		switch k.name {
		case "DerivedField":
			name, err := k.need("name")
			if err != nil {
				return err
			}
			if _, dup := sc.pending[name]; dup {
				return corruptf("DerivedField %q is defined twice", name)
			}
			sc.pending[name] = k
			order = append(order, name)
		case "Extension":
		case "DefineFunction":
			return unsupportedf("element <DefineFunction>")
		default:
			return unsupportedf("element <%s> in <%s>", k.name, n.name)
		}
	}
	// Compiled when first looked up, so that a field nothing reads is
	// never computed: JPMML computes a field when the model first asks
	// for it, and an unused field whose Apply gives an invalid result
	// must not fail the record. checkUnused compiles the rest once the
	// model is compiled, only to refuse them if they are corrupt.
	sc.order = order
	c.transforms = append(c.transforms, sc)
	return nil
}

// checkUnused compiles the derived fields that no model, predicate or
// output read, after the whole document is compiled, so that a corrupt
// one is refused as before, and throws away their steps: they are never
// computed. Every scope's steps are redirected first, so that an unused
// field reading another scope's unused field adds no step there either.
func (c *compiler) checkUnused() error {
	var discard []step
	c.unused = true
	for _, sc := range c.transforms {
		sc.steps = &discard
	}
	for _, sc := range c.transforms {
		for _, name := range sc.order {
			if _, ok := sc.pending[name]; ok {
				if _, err := sc.lookup(name); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// derived compiles the DerivedField n defined in sc.
func (c *compiler) derived(n *node, sc *scope) (*field, error) {
	name, _ := n.attr("name")
	ex := n.expression()
	if ex == nil {
		return nil, corruptf("DerivedField %q has no expression", name)
	}
	e, str, err := c.expr(ex, sc)
	if err != nil {
		return nil, err
	}
	if dt, ok := n.attr("dataType"); ok {
		s, err := isStrType(dt)
		if err != nil {
			return nil, err
		}
		if s != str {
			e, err = c.convert(e, str, s, dt == "boolean")
			if err != nil {
				return nil, corruptf("DerivedField %q: %v", name, err)
			}
			str = s
		}
	}
	f := &field{name: name, slot: c.slot(), str: str}
	sc.fields[name] = f
	*sc.steps = append(*sc.steps, step{slot: f.slot, e: e})
	return f, nil
}

// convert changes the kind of an expression's values between numbers and
// strings, as a DerivedField's dataType asks: a number becomes its
// shortest decimal text, or for the boolean dataType "false" (0) or
// "true"; a string becomes the number it spells, or missing.
func (c *compiler) convert(e expr, from, to, boolean bool) (expr, error) {
	if from == to {
		return e, nil
	}
	if !from && to && boolean {
		t, f := c.intern("true"), c.intern("false")
		return func(s *state) float64 {
			switch v := e(s); {
			case math.IsNaN(v):
				return v
			case v == 0:
				return f
			}
			return t
		}, nil
	}
	if !from && to {
		return func(s *state) float64 {
			v := e(s)
			if math.IsNaN(v) {
				return v
			}
			return c.lookupString(strconv.FormatFloat(v, 'g', -1, 64))
		}, nil
	}
	// string to number: through the number of every string of the
	// document, which numbers builds once compilation has interned them
	// all.
	c.needNums = true
	return func(s *state) float64 {
		v := e(s)
		// -1 is a string the document never names (see lookupString).
		if !(v >= 0 && v < float64(len(c.nums))) {
			return math.NaN()
		}
		return c.nums[int(v)]
	}, nil
}

// numbers sets c.nums to the number each interned string spells, or NaN,
// when a conversion needs them.
func (c *compiler) numbers() error {
	if !c.needNums {
		return nil
	}
	if err := c.charge(len(c.strs)); err != nil {
		return err
	}
	c.nums = make([]float64, len(c.strs))
	for i, s := range c.strs {
		if f, err := parseNum(s); err == nil {
			c.nums[i] = f
		} else {
			c.nums[i] = math.NaN()
		}
	}
	return nil
}

// lookupString is intern for evaluation time: a string the document never
// names cannot equal any of its strings, so it maps to a value no
// comparison matches. It never adds to the table (which is read-only
// once compiled).
func (c *compiler) lookupString(s string) float64 {
	if i, ok := c.sid[s]; ok {
		return float64(i)
	}
	return -1
}

// modelElements are the model elements of PMML 4.4; those this package
// does not evaluate are refused by name.
var modelElements = map[string]bool{
	"AnomalyDetectionModel": true, "AssociationModel": true, "BayesianNetworkModel": true,
	"BaselineModel": true, "ClusteringModel": true, "GaussianProcessModel": true,
	"GeneralRegressionModel": true, "MiningModel": true, "NaiveBayesModel": true,
	"NearestNeighborModel": true, "NeuralNetwork": true, "RegressionModel": true,
	"RuleSetModel": true, "SequenceModel": true, "Scorecard": true,
	"SupportVectorMachineModel": true, "TextModel": true, "TimeSeriesModel": true,
	"TreeModel": true,
}

// model compiles a model element within the enclosing scope.
func (c *compiler) model(n *node, outer *scope) (*modelNode, error) {
	mn := &modelNode{name: n.name}
	sc := c.newScope(outer)
	fn, err := n.need("functionName")
	if err != nil {
		return nil, err
	}
	switch fn {
	case "regression":
	case "classification":
		mn.classify = true
	default:
		return nil, unsupportedf("<%s functionName=%q>", n.name, fn)
	}
	ms := n.one("MiningSchema")
	if ms == nil {
		return nil, corruptf("<%s> has no MiningSchema", n.name)
	}
	var targetField *field
	for _, mf := range ms.all("MiningField") {
		name, err := mf.need("name")
		if err != nil {
			return nil, err
		}
		f, err := outer.lookup(name)
		if err != nil {
			return nil, within(err, "<%s> MiningSchema", n.name)
		}
		switch mf.str("usageType", "active") {
		case "target", "predicted":
			targetField = f
			continue
		case "active":
		default:
			continue
		}
		if treats(mf) && outer != c.dict && outer.parent != c.dict {
			// A nested model's own treatment: a shadow slot.
			p, err := c.prepFor(mf, f)
			if err != nil {
				return nil, err
			}
			p.dst = c.slot()
			mn.preps = append(mn.preps, p)
			sc.fields[name] = &field{name: name, slot: p.dst, str: f.str, cats: f.cats, f32: f.f32}
		}
	}
	if mn.classify {
		mn.cats = &catSet{open: true}
		if targetField != nil && targetField.cats != nil && len(targetField.cats.vals) > 0 {
			mn.cats = &catSet{labels: targetField.cats.labels, vals: targetField.cats.vals}
		}
	}
	str := targetField != nil && targetField.str
	if targetField == nil && mn.classify {
		str = true
	}
	if lt := n.one("LocalTransformations"); lt != nil {
		if err := c.transformations(lt, sc, &mn.pre); err != nil {
			return nil, err
		}
	}
	if err := c.targets(n, mn, str); err != nil {
		return nil, err
	}
	mn.str = str
	mc := &modelCtx{c: c, n: n, sc: sc, mn: mn, str: str}
	switch n.name {
	case "RegressionModel":
		mn.core, err = mc.regression()
	case "TreeModel":
		mn.core, err = mc.tree()
	case "MiningModel":
		mn.core, err = mc.mining()
	case "GeneralRegressionModel":
		mn.core, err = mc.general()
	case "NeuralNetwork":
		mn.core, err = mc.neural()
	case "SupportVectorMachineModel":
		mn.core, err = mc.svm()
	case "Scorecard":
		mn.core, err = mc.scorecard()
	default:
		return nil, unsupportedf("model element <%s>", n.name)
	}
	if err != nil {
		return nil, err
	}
	for _, k := range n.kids {
		if !mc.known(k.name) {
			return nil, unsupportedf("element <%s> in <%s>", k.name, n.name)
		}
	}
	if mn.classify {
		for _, l := range mn.priorLabels {
			if _, err := mc.category(l); err != nil {
				return nil, err
			}
		}
		if len(mn.cats.vals) == 0 {
			return nil, corruptf("<%s> classifies into no category", n.name)
		}
		mn.cats.open = false
		if cc, ok := mn.core.(categoryCloser); ok {
			if err := cc.closeCategories(c, len(mn.cats.vals)); err != nil {
				return nil, err
			}
		}
		mn.probs = c.slots(len(mn.cats.vals))
		if len(mn.priorProbs) > 0 {
			mn.priors = make([]float64, len(mn.cats.vals))
			for i, l := range mn.priorLabels {
				k, _ := mc.category(l)
				mn.priors[k] = mn.priorProbs[i]
			}
		}
	}
	if err := c.charge(0); err != nil {
		return nil, err
	}
	if o := n.one("Output"); o != nil {
		if err := c.outputs(o, mn, sc); err != nil {
			return nil, err
		}
	}
	return mn, nil
}

// categoryCloser is a classification core that sizes tables by the
// model's categories: closeCategories is called once they are all known
// (k of them), which may be after the core compiled.
type categoryCloser interface {
	closeCategories(c *compiler, k int) error
}

// modelCtx is what a model's compiler needs: the element, its scope and
// the node being built.
type modelCtx struct {
	c     *compiler
	n     *node
	sc    *scope
	mn    *modelNode
	str   bool // the target's values are strings
	extra []string
}

// known says whether an element may appear in the model element: the
// common ones plus those the model's compiler declared in extra.
func (mc *modelCtx) known(name string) bool {
	switch name {
	case "MiningSchema", "Output", "ModelStats", "ModelExplanation", "Targets", "LocalTransformations", "ModelVerification", "Extension":
		return true
	}
	return slices.Contains(mc.extra, name)
}

// category returns the index of a category label in the model's
// categories, adding it when the set is open.
func (mc *modelCtx) category(label string) (int, error) {
	v, err := mc.c.value(mc.str, label)
	if err != nil {
		return 0, corruptf("<%s>: category %v", mc.n.name, err)
	}
	cs := mc.mn.cats
	if i := cs.find(v); i >= 0 {
		return i, nil
	}
	if !cs.open {
		return 0, corruptf("<%s>: %q is not a category of the target", mc.n.name, label)
	}
	cs.labels = append(cs.labels, label)
	cs.vals = append(cs.vals, v)
	return len(cs.vals) - 1, nil
}

// targets compiles the Targets element of a regression model.
func (c *compiler) targets(n *node, mn *modelNode, str bool) error {
	ts := n.one("Targets")
	if ts == nil {
		return nil
	}
	tt := ts.all("Target")
	if len(tt) > 1 {
		return unsupportedf("<Targets> with %d Target elements", len(tt))
	}
	if len(tt) == 0 {
		return nil
	}
	t := tt[0]
	if mn.classify {
		// Prior probabilities answer when the model has no result.
		for _, tv := range t.all("TargetValue") {
			v, err := tv.need("value")
			if err != nil {
				return err
			}
			pp, err := tv.num("priorProbability", math.NaN())
			if err != nil {
				return err
			}
			if !math.IsNaN(pp) {
				mn.priorLabels = append(mn.priorLabels, v)
				mn.priorProbs = append(mn.priorProbs, pp)
			}
		}
		return nil
	}
	fix := &targetFix{cast: t.str("castInteger", ""), def: math.NaN()}
	for _, tv := range t.all("TargetValue") {
		var err error
		if fix.def, err = tv.num("defaultValue", math.NaN()); err != nil {
			return err
		}
	}
	var err error
	if fix.min, err = t.num("min", math.Inf(-1)); err != nil {
		return err
	}
	if fix.max, err = t.num("max", math.Inf(1)); err != nil {
		return err
	}
	if fix.factor, err = t.num("rescaleFactor", 1); err != nil {
		return err
	}
	if fix.cons, err = t.num("rescaleConstant", 0); err != nil {
		return err
	}
	switch fix.cast {
	case "", "round", "ceiling", "floor":
	default:
		return corruptf("Target castInteger %q", fix.cast)
	}
	mn.target = fix
	return nil
}

// outputs compiles the OutputFields of a model into steps run after it,
// and declares them in sc's parent scope so that later segments of a
// model chain and the enclosing model can read them.
func (c *compiler) outputs(o *node, mn *modelNode, sc *scope) error {
	for _, of := range o.all("OutputField") {
		name, err := of.need("name")
		if err != nil {
			return err
		}
		feature := of.str("feature", "predictedValue")
		f := &field{name: name, slot: c.slot(), producer: sc}
		var fn func(s *state, r result) float64
		switch feature {
		case "predictedValue", "predictedDisplayValue":
			f.str = mn.classify && mn.str
			fn = func(_ *state, r result) float64 { return mn.predictedValue(r) }
		case "probability":
			if !mn.classify {
				return unsupportedf("OutputField %q: probability of a regression model", name)
			}
			if v, ok := of.attr("value"); ok {
				k := -1
				if x, err := c.value(mn.str, v); err == nil {
					k = mn.cats.find(x)
				}
				if k < 0 {
					return corruptf("OutputField %q: %q is not a category", name, v)
				}
				slot := mn.probs + k
				fn = func(s *state, r result) float64 {
					if !r.ok {
						return math.NaN()
					}
					return s.v[slot]
				}
			} else {
				fn = func(s *state, r result) float64 {
					if !r.ok {
						return math.NaN()
					}
					return s.v[mn.probs+int(r.val)]
				}
			}
		case "reasonCode":
			if mn.reasons == nil {
				return unsupportedf("OutputField %q: reasonCode of a <%s>", name, mn.name)
			}
			rank, err := of.num("rank", 1)
			if err != nil {
				return err
			}
			f.str = true
			fn = func(s *state, r result) float64 {
				if !r.ok {
					return nan
				}
				return mn.reasons(s, int(rank))
			}
		case "residual":
			// The target is never an input when scoring, so there is no
			// residual to compute.
			fn = func(*state, result) float64 { return nan }
		case "transformedValue":
			var ex *node
			for _, k := range of.kids {
				if k.name != "Extension" && k.name != "Decisions" && k.name != "Value" {
					ex = k
					break
				}
			}
			if ex == nil {
				return corruptf("OutputField %q: transformedValue without an expression", name)
			}
			e, str, err := c.expr(ex, sc)
			if err != nil {
				return err
			}
			f.str = str
			fn = func(s *state, r result) float64 { return e(s) }
		default:
			return unsupportedf("OutputField %q feature %q", name, feature)
		}
		if _, ok := of.attr("segmentId"); ok {
			return unsupportedf("OutputField %q with segmentId", name)
		}
		mn.outs = append(mn.outs, outStep{slot: f.slot, fn: fn})
		sc.fields[name] = f
		if sc.parent != nil {
			sc.parent.fields[name] = f
		}
	}
	return nil
}

// once lists, per element, the children that PMML allows at most once
// and that the compiler reads (with node.one or firstPredicate, which take
// the first): a second would be ignored here and may be read, or refused,
// by another evaluator, so checkOnce refuses it. Every model element
// also takes the children of modelOnce.
var once = map[string][]string{
	"PMML":                      {"DataDictionary", "TransformationDictionary"},
	"MiningModel":               {"Segmentation"},
	"TreeModel":                 {"Node"},
	"NeuralNetwork":             {"NeuralInputs", "NeuralOutputs"},
	"Scorecard":                 {"Characteristics"},
	"SupportVectorMachineModel": {"VectorDictionary"},
	"GeneralRegressionModel":    {"ParameterList", "FactorList", "CovariateList", "PPMatrix", "PCovMatrix", "ParamMatrix"},
	"DiscretizeBin":             {"Interval"},
	"MapValues":                 {"InlineTable", "TableLocator"},
	"SimpleSetPredicate":        {"Array"},
	"NeuralInput":               {"DerivedField"},
	"NeuralOutput":              {"DerivedField"},
	"Attribute":                 {"ComplexPartialScore"},
	"VectorDictionary":          {"VectorFields"},
	"VectorInstance":            {"Array", "REAL-SparseArray"},
	"SupportVectorMachine":      {"SupportVectors", "Coefficients"},
	"REAL-SparseArray":          {"Indices", "REAL-Entries"},
	"Predictor":                 {"Categories", "Matrix"},
}

var modelOnce = []string{"MiningSchema", "Output", "Targets", "LocalTransformations"}

// onePredicate are the elements that hold exactly one predicate, of which
// the compiler reads the first.
var onePredicate = map[string]bool{"Node": true, "Segment": true, "Attribute": true}

// checkOnce refuses a document in which an element has a second child
// that PMML allows once (see once), or a second predicate where it allows
// one.
func checkOnce(root *node) error {
	stack := []*node{root}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		names := once[n.name]
		if modelElements[n.name] {
			names = append(slices.Clip(names), modelOnce...)
		}
		preds := 0
		for i, k := range n.kids {
			if onePredicate[n.name] && isPredicate(k.name) {
				if preds++; preds > 1 {
					return corruptf("<%s> has a second predicate <%s>", n.name, k.name)
				}
			}
			if slices.Contains(names, k.name) {
				for _, e := range n.kids[:i] {
					if e.name == k.name {
						return corruptf("<%s> has a second <%s>", n.name, k.name)
					}
				}
			}
			stack = append(stack, k)
		}
	}
	return nil
}
