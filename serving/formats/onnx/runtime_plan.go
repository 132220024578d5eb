package onnx

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/modelstream/modelstream/serving"
)

// This file holds what the ONNX Runtime engine decides without calling
// ONNX Runtime: how a feature vector fills the graph's inputs, and how the
// graph's outputs become a Prediction.

// ONNX TensorProto.DataType values the ONNX Runtime engine feeds.
const (
	elemUint8    = 2
	elemInt8     = 3
	elemUint16   = 4
	elemInt16    = 5
	elemInt32    = 6
	elemInt64    = 7
	elemString   = 8
	elemBool     = 9
	elemFloat16  = 10
	elemUint32   = 12
	elemUint64   = 13
	elemBfloat16 = 16
)

// rtInput is one graph input as a record fills it.
type rtInput struct {
	name   string
	elem   int64
	shape  []int64 // dims; shape[0] is -1 for a batch dimension
	perRow int     // elements one record fills
	// categories are the values of a string input: a feature is an index
	// into them.
	categories []string
	// names are the names of the perRow elements in ModelInfo.Inputs.
	names []string
}

// rtPlan is how a model is fed.
type rtPlan struct {
	inputs   []rtInput
	features int
	batch    bool // every input has a leading batch dimension
	desc     string
}

// planInputs works out how a feature vector fills gi's inputs. It refuses,
// with the reason, an input a record cannot fill: one of an element type
// records cannot carry, one without a declared shape, one with a symbolic
// dimension other than a leading batch dimension, or a string input whose
// categories the graph does not list.
func planInputs(gi *graphInfo, maxElems int64) (*rtPlan, error) {
	unsupported := func(format string, args ...any) (*rtPlan, error) {
		return nil, serving.Unsupported(FormatName, fmt.Errorf(format, args...))
	}
	p := &rtPlan{batch: true}
	var desc []string
	for _, vi := range gi.inputs {
		if gi.initializers[vi.name] {
			continue // an initializer listed as an input (IR version < 4)
		}
		if !vi.hasType {
			return unsupported("input %q is not a tensor (a sequence, map or optional value): a record cannot fill it", vi.name)
		}
		if !feedable(vi.elem) {
			return unsupported("input %q is %s: a record's numbers cannot fill it", vi.name, elemName(vi.elem))
		}
		if !vi.hasShape {
			return unsupported("input %q declares no shape: a record cannot say how many values it holds", vi.name)
		}
		in := rtInput{name: vi.name, elem: vi.elem, shape: make([]int64, len(vi.dims)), perRow: 1}
		for i, d := range vi.dims {
			switch {
			case i == 0 && (d.param != "" || !d.known):
				in.shape[0] = -1
			case d.param != "" || !d.known:
				return unsupported("input %q has the symbolic dimension %q at axis %d of %s: only a leading batch dimension may be symbolic, since a record cannot say the size of another", vi.name, d.param, i, dimString(vi.dims))
			case d.value < 0:
				return unsupported("input %q has a negative dimension in %s", vi.name, dimString(vi.dims))
			default:
				// A dimension of 0 makes an empty input (the axes of a
				// ReduceSum that reduces all, say): fed as such, it takes
				// no value of the record.
				in.shape[i] = d.value
				if in.perRow > 0 && d.value > maxElems/int64(in.perRow) { // perRow*d.value > maxElems, without overflow
					return unsupported("input %q of shape %s holds more than %d elements", vi.name, dimString(vi.dims), maxElems)
				}
				in.perRow *= int(d.value)
			}
		}
		if len(in.shape) == 0 || in.shape[0] != -1 {
			p.batch = false
		}
		if vi.elem == elemString {
			cats, err := stringCategories(gi, vi.name)
			if err != nil {
				return nil, serving.Unsupported(FormatName, err)
			}
			in.categories = cats
		}
		p.inputs = append(p.inputs, in)
		p.features += in.perRow
		if int64(p.features) > maxElems {
			return unsupported("the inputs hold more than %d elements together", maxElems)
		}
		desc = append(desc, fmt.Sprintf("%q %s %s", vi.name, elemName(vi.elem), dimString(vi.dims)))
	}
	if p.features == 0 {
		return unsupported("the graph has no input a record can fill")
	}
	p.desc = strings.Join(desc, ", then ")
	if p.batch {
		p.desc += " (leading symbolic dimension: the batch)"
	}
	nameInputs(p.inputs)
	return p, nil
}

// feedable reports whether a record's float64 features can fill an input
// of element type t.
func feedable(t int64) bool {
	switch t {
	case elemFloat, elemDouble, elemInt64, elemInt32, elemInt16, elemInt8,
		elemUint8, elemUint16, elemUint32, elemUint64, elemBool, elemString,
		elemFloat16, elemBfloat16:
		return true
	}
	return false
}

// stringCategories finds the values a string input takes: the list of
// the first ai.onnx.ml node that reads it and lists them (LabelEncoder's
// keys_strings, OneHotEncoder's or CategoryMapper's cats_strings).
func stringCategories(gi *graphInfo, input string) ([]string, error) {
	for _, n := range gi.nodes {
		if !slices.Contains(n.inputs, input) {
			continue
		}
		for _, attr := range []string{"keys_strings", "cats_strings"} {
			if c := n.strs[attr]; len(c) > 0 {
				return c, nil
			}
		}
	}
	return nil, fmt.Errorf("string input %q: no LabelEncoder, OneHotEncoder or CategoryMapper reading it lists its values, so a record's text cannot be coded for it", input)
}

// maxNamedInputs bounds the features a model names: one of more is fed
// by position (two inputs of 2^23 elements each, in a model of a few
// hundred bytes, took 16 Mi names and gigabytes).
const maxNamedInputs = 1 << 16

// nameInputs sets each input's element names, as ModelInfo.Inputs lists
// them: an input of one element per record is named as in the graph; an
// input of several is named name[i] for its i-th element in row-major
// order. A model with one input of several elements, or of more than
// maxNamedInputs elements in all, gets no names (nil): it is fed
// positionally.
func nameInputs(ins []rtInput) {
	if len(ins) == 1 && ins[0].perRow > 1 {
		return
	}
	total := 0
	for _, in := range ins {
		total += in.perRow
	}
	if total > maxNamedInputs {
		return // fed by position
	}
	for i := range ins {
		in := &ins[i]
		if in.perRow == 1 {
			in.names = []string{in.name}
			continue
		}
		in.names = make([]string, in.perRow)
		for k := range in.names {
			in.names[k] = in.name + "[" + strconv.Itoa(k) + "]"
		}
	}
}

// servingInputs is ModelInfo.Inputs, or nil.
func (p *rtPlan) servingInputs() []serving.Input {
	if len(p.inputs) == 0 || p.inputs[0].names == nil {
		return nil
	}
	var out []serving.Input
	for _, in := range p.inputs {
		for _, n := range in.names {
			out = append(out, serving.Input{Name: n, Categories: in.categories})
		}
	}
	return out
}

// elemNameAt names feature k of in, for errors.
func (in *rtInput) elemNameAt(k int) string {
	if in.names != nil {
		return in.names[k]
	}
	if in.perRow == 1 {
		return in.name
	}
	return in.name + "[" + strconv.Itoa(k) + "]"
}

// badValue is the error for a feature that in cannot take.
func (in *rtInput) badValue(k int, v float64, want string) error {
	return &serving.FieldError{Field: in.elemNameAt(k), Err: fmt.Errorf("%w: %v is not %s", serving.ErrFieldType, v, want)}
}

// integral converts v to an integer in [lo, hi], or fails.
func integral(v float64, lo, hi float64) (int64, bool) {
	if v != math.Trunc(v) || v < lo || v > hi {
		return 0, false
	}
	return int64(v), true
}

// outKind is what one graph output holds.
type outKind int

const (
	outNumeric outKind = iota // a numeric or bool tensor
	outStrings                // a string tensor
	outMaps                   // a sequence of maps, as ZipMap writes
)

// rtOut is one output of one run, decoded.
type rtOut struct {
	kind outKind
	rows int // batch rows, or 1 without a batch dimension
	nums []float64
	strs []string
	// maps: one per row, keys in the order the map holds them, as text.
	mapKeys [][]string
	mapVals [][]float64
}

// perRow is the number of elements one row holds.
func (o *rtOut) perRow() int {
	switch o.kind {
	case outStrings:
		return len(o.strs) / max(o.rows, 1)
	case outMaps:
		if len(o.mapKeys) == 0 {
			return 0
		}
		return len(o.mapKeys[0])
	}
	return len(o.nums) / max(o.rows, 1)
}

// rtOutPlan is how a model's outputs become a Prediction, fixed at load
// from a dry run.
type rtOutPlan struct {
	// classifier: output label holds the predicted class of each row, and
	// output prob the probabilities of the classes.
	classifier  bool
	label, prob int
	classes     []string       // class of each probability, in order
	classIndex  map[string]int // position of each class in classes
	outputs     int            // ModelInfo.Outputs (at the dry run)
}

// planOutputs decides, from the outputs of a dry run and the graph, how
// outputs become a Prediction. names are the output names.
func planOutputs(gi *graphInfo, names []string, outs []rtOut) (*rtOutPlan, error) {
	unsupported := func(format string, args ...any) (*rtOutPlan, error) {
		return nil, serving.Unsupported(FormatName, fmt.Errorf(format, args...))
	}
	p := &rtOutPlan{label: -1, prob: -1}
	// A classifier: one label per row, and probabilities (a ZipMap, or a
	// tensor beside an ai.onnx.ml classifier that names the classes).
	for i, o := range outs {
		if (o.kind == outStrings || o.kind == outNumeric && isIntegerOutput(gi, names[i])) && o.perRow() == 1 && p.label < 0 {
			p.label = i
		}
		if o.kind == outMaps && p.prob < 0 {
			p.prob = i
		}
	}
	if p.label >= 0 && p.prob < 0 {
		if classes := classLabels(gi); len(classes) > 1 {
			for i, o := range outs {
				if i != p.label && o.kind == outNumeric && o.perRow() == len(classes) {
					p.prob, p.classes = i, classes
					break
				}
			}
		}
	}
	if p.label >= 0 && p.prob >= 0 {
		if outs[p.prob].kind == outMaps {
			p.classes = outs[p.prob].mapKeys[0]
		}
		if len(p.classes) < 2 {
			return unsupported("output %q holds %d class probabilities; a classifier has at least 2", names[p.prob], len(p.classes))
		}
		p.classifier = true
		p.outputs = len(p.classes)
		p.classIndex = make(map[string]int, len(p.classes))
		for i, c := range p.classes {
			p.classIndex[c] = i
		}
		return p, nil
	}
	p.label, p.prob = -1, -1
	for i, o := range outs {
		if o.kind != outNumeric {
			return unsupported("output %q is a %s, which a Prediction cannot hold outside a classifier's label and probabilities", names[i], map[outKind]string{outStrings: "string tensor", outMaps: "sequence of maps"}[o.kind])
		}
		k := o.perRow()
		if k == 0 {
			return nil, fmt.Errorf("output %q: %w", names[i], errEmptyOutput)
		}
		p.outputs += k
	}
	return p, nil
}

// isIntegerOutput reports whether output name is declared with an integer
// element type, as a classifier's label is.
func isIntegerOutput(gi *graphInfo, name string) bool {
	for _, vi := range gi.outputs {
		if vi.name == name {
			return vi.hasType && (vi.elem == elemInt64 || vi.elem == elemInt32)
		}
	}
	return false
}

// classLabels returns the class labels an ai.onnx.ml classifier of the
// graph declares, as text (classlabels_strings, classlabels_int64s or
// classlabels_ints).
func classLabels(gi *graphInfo) []string {
	for _, n := range gi.nodes {
		if s := n.strs["classlabels_strings"]; len(s) > 0 {
			return s
		}
		v := n.ints["classlabels_int64s"]
		if len(v) == 0 {
			v = n.ints["classlabels_ints"] // LinearClassifier's name for them
		}
		if len(v) > 0 {
			out := make([]string, len(v))
			for i, x := range v {
				out[i] = strconv.FormatInt(x, 10)
			}
			return out
		}
	}
	return nil
}

// errOutputShape means a run's outputs did not have the shape of the
// load-time dry run.
var errOutputShape = errors.New("outputs differ in shape from the load-time dry run")

// errEmptyOutput means a numeric output held no element, which no
// Prediction can be made of.
var errEmptyOutput = errors.New("the output is empty")

// predictions turns the outputs of one run over rows rows into out.
func (p *rtOutPlan) predictions(outs []rtOut, rows int, out []serving.Prediction) error {
	for _, o := range outs {
		if o.rows != rows {
			return errOutputShape
		}
	}
	if p.classifier {
		return p.classify(outs, rows, out)
	}
	// Elements per row of each output: the dry run's count, unless the
	// model computes output sizes from input values (TopK, NonZero, Resize
	// to given sizes), so they are taken from each run.
	perK := make([]int, len(outs))
	total := 0
	for i, o := range outs {
		if o.kind == outNumeric && len(o.nums) == 0 {
			return fmt.Errorf("output %d: %w", i, errEmptyOutput)
		}
		if o.kind != outNumeric || len(o.nums)%rows != 0 {
			return errOutputShape
		}
		perK[i] = len(o.nums) / rows
		total += perK[i]
	}
	for r := range rows {
		first := outs[0].nums[r*perK[0] : (r+1)*perK[0]]
		var pr serving.Prediction
		if total == 1 {
			pr.Value = first[0]
		} else {
			pr.Values = make([]float64, 0, total)
			for i, o := range outs {
				pr.Values = append(pr.Values, o.nums[r*perK[i]:(r+1)*perK[i]]...)
			}
			if len(first) == 1 {
				pr.Value = first[0]
			} else {
				best := 0
				for i, v := range first {
					if v > first[best] {
						best = i
					}
				}
				pr.Value, pr.Label = first[best], strconv.Itoa(best)
			}
		}
		out[r] = pr
	}
	return nil
}

func (p *rtOutPlan) classify(outs []rtOut, rows int, out []serving.Prediction) error {
	lo, po := &outs[p.label], &outs[p.prob]
	n := len(p.classes)
	// One label per row, as at the dry run: a model may compute an
	// output's length from the input, and a record could make it hold
	// none (or several).
	if lo.kind == outStrings && len(lo.strs) != rows || lo.kind != outStrings && len(lo.nums) != rows {
		return fmt.Errorf("%w: %d labels for %d rows", errOutputShape, max(len(lo.strs), len(lo.nums)), rows)
	}
	for r := range rows {
		var label string
		if lo.kind == outStrings {
			label = lo.strs[r]
		} else {
			label = strconv.FormatInt(int64(lo.nums[r]), 10)
		}
		vals := make([]float64, n)
		if po.kind == outMaps {
			keys, pv := po.mapKeys[r], po.mapVals[r]
			if len(keys) != n || len(pv) != n {
				return errOutputShape
			}
			for i, k := range keys {
				j := i
				if k != p.classes[i] {
					var ok bool
					if j, ok = p.classIndex[k]; !ok {
						return fmt.Errorf("%w: class %q", errOutputShape, k)
					}
				}
				vals[j] = pv[i]
			}
		} else {
			if len(po.nums) != rows*n {
				return errOutputShape
			}
			copy(vals, po.nums[r*n:(r+1)*n])
		}
		pr := serving.Prediction{Values: vals, Label: label}
		if j, ok := p.classIndex[label]; ok {
			pr.Confidence = vals[j]
		}
		if n == 2 {
			pr.Value = vals[1]
		} else {
			pr.Value = pr.Confidence
		}
		out[r] = pr
	}
	return nil
}

// planDeclaredOutputs plans the outputs of a model whose dry run failed
// from what the graph declares: it needs every output to be a numeric
// tensor, which becomes Value or Values as after a dry run. Outputs is
// the declared element count per record, or 0 where a dimension is
// symbolic.
func planDeclaredOutputs(gi *graphInfo) (*rtOutPlan, error) {
	p := &rtOutPlan{label: -1, prob: -1}
	count := 0
	for _, vi := range gi.outputs {
		if !vi.hasType || vi.elem == elemString || !feedable(vi.elem) {
			return nil, fmt.Errorf("output %q is not declared as a numeric tensor", vi.name)
		}
		n := 1
		for i, d := range vi.dims {
			if d.param != "" || !d.known {
				if i == 0 {
					continue
				}
				n = -1
				break
			}
			n *= int(d.value)
		}
		if !vi.hasShape || n < 0 {
			count = -1
		} else if count >= 0 {
			count += n
		}
	}
	p.outputs = max(count, 0)
	return p, nil
}

// toFloat16 rounds v to the nearest IEEE 754 half-precision number, ties
// to even.
func toFloat16(v float64) uint16 {
	f := float32(v)
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case math.IsNaN(v):
		return 0x7e00
	case exp >= 0x1f: // overflow, or ±Inf
		return sign | 0x7c00
	case exp <= 0: // subnormal or zero
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - exp)
		h := mant >> shift
		rem := mant & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || rem == half && h&1 == 1 {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(exp)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || rem == 0x1000 && h&1 == 1 {
		h++ // may carry into the exponent, up to Inf: correct
	}
	return sign | uint16(h)
}

// toBfloat16 rounds v to the nearest bfloat16, ties to even.
func toBfloat16(v float64) uint16 {
	if math.IsNaN(v) {
		return 0x7fc0
	}
	b := math.Float32bits(float32(v))
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// checkMLAttributes checks what ONNX Runtime's ai.onnx.ml tree ensembles
// and linear models take on trust: parallel attribute lists of one
// length, and as many intercepts as classes. A list shorter than its
// siblings makes ONNX Runtime read past its end, which aborts or crashes
// the process. It checks every such node of the model (graphInfo.every):
// a LinearClassifier without intercepts in a branch of an If, or in a
// local function, crashed ONNX Runtime as at the top level.
func checkMLAttributes(gi *graphInfo) error {
	groups := [][]string{
		{"nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_modes", "nodes_values", "nodes_values_as_tensor",
			"nodes_truenodeids", "nodes_falsenodeids", "nodes_hitrates", "nodes_hitrates_as_tensor", "nodes_missing_value_tracks_true"},
		{"class_treeids", "class_nodeids", "class_ids", "class_weights", "class_weights_as_tensor"},
		{"target_treeids", "target_nodeids", "target_ids", "target_weights", "target_weights_as_tensor"},
	}
	for _, n := range gi.every {
		if n.domain != "ai.onnx.ml" {
			continue
		}
		if err := checkLinear(n); err != nil {
			return err
		}
		if !strings.HasPrefix(n.op, "TreeEnsemble") {
			continue
		}
		required := []string{"nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_modes", "nodes_truenodeids", "nodes_falsenodeids"}
		if n.op == "TreeEnsembleClassifier" {
			required = append(required, "class_treeids", "class_nodeids", "class_ids")
		} else {
			required = append(required, "target_treeids", "target_nodeids", "target_ids")
		}
		for _, a := range required {
			if n.lens[a] == 0 {
				return fmt.Errorf("%s: attribute %s is missing or empty", n.op, a)
			}
		}
		for _, g := range groups {
			want, first := -1, ""
			for _, a := range g {
				l, ok := n.lens[a]
				if !ok || strings.HasSuffix(a, "_as_tensor") {
					continue
				}
				if want < 0 {
					want, first = l, a
				} else if l != want {
					return fmt.Errorf("%s: attribute %s has %d values, %s has %d", n.op, a, l, first, want)
				}
			}
		}
		if err := checkTrees(gi, n); err != nil {
			return err
		}
	}
	return nil
}

// checkPositiveAttrs refuses a node of the default domain, anywhere in
// the model (see graphInfo.every), whose strides, dilations,
// kernel_shape, group or num_groups hold a value below 1, which ONNX
// forbids: ONNX Runtime divides by a stride of MaxPool, AveragePool, Conv
// or ConvTranspose, by the group of ConvTranspose and by the num_groups of
// GroupNormalization, without checking them, and a 0 kills the process
// (SIGFPE) when the session is created or the model runs.
// A node of a local function that takes one of them from its caller
// (ref_attr_name) is refused too: the caller may give 0.
func checkPositiveAttrs(gi *graphInfo) error {
	for _, n := range gi.every {
		if n.notPositive != "" && (n.domain == "" || n.domain == "ai.onnx") {
			return fmt.Errorf("%s: attribute %s", n.op, n.notPositive)
		}
	}
	return nil
}

// checkDomains refuses a node, anywhere in the model, of a domain other
// than ONNX's own (ai.onnx, ai.onnx.ml), unless it calls one of the
// model's local functions of a domain ONNX Runtime keeps no ops in. ONNX
// Runtime also runs its own contrib ops (com.microsoft and others),
// hundreds of them, whose attributes and inputs this package does not
// check: a com.microsoft FusedConv or QLinearAveragePool with strides of
// 0 killed the process (SIGFPE). A local function whose domain and name
// are those of such an op is refused too, since ONNX Runtime would run
// its op instead.
func checkDomains(gi *graphInfo) error {
	for _, n := range gi.every {
		switch {
		case n.domain == "" || n.domain == "ai.onnx" || n.domain == "ai.onnx.ml":
		case gi.functions[n.domain+":"+n.op] && !runtimeDomain(n.domain):
		case gi.functions[n.domain+":"+n.op]:
			return fmt.Errorf("the local function %s of domain %s: that domain holds ONNX Runtime's own ops, which this package does not run", n.op, n.domain)
		default:
			return fmt.Errorf("op %s of domain %s is not an ONNX op: this package runs the ops of ai.onnx and ai.onnx.ml, whose attributes and inputs it checks before ONNX Runtime sees them, and the model's local functions", n.op, n.domain)
		}
	}
	return nil
}

// checkMaxUnpool refuses a MaxUnpool anywhere in the model. ONNX Runtime
// aborts the process (std::terminate) when one of its indices falls
// outside its output: a record that fed the index 100 to a 3x3 output
// killed it. The indices are a record's values, or MaxPool's indices
// of them, which no check at load can bound against an output_shape
// the model may make smaller.
func checkMaxUnpool(gi *graphInfo) error {
	for _, n := range gi.every {
		if n.op == "MaxUnpool" && (n.domain == "" || n.domain == "ai.onnx") {
			return errors.New("MaxUnpool: ONNX Runtime aborts the process when one of its indices falls outside its output, which a record can make happen")
		}
	}
	return nil
}

// runtimeDomain reports whether ONNX Runtime keeps ops in domain, or in a
// domain ONNX reserves: com.microsoft and its subdomains, com.ms.*,
// ai.onnx.* (the training domains) and org.pytorch.*.
func runtimeDomain(domain string) bool {
	for _, p := range []string{"com.microsoft", "com.ms.", "ai.onnx", "org.pytorch"} {
		if strings.HasPrefix(domain, p) {
			return true
		}
	}
	return false
}

// checkLinear checks the lists of LinearClassifier and LinearRegressor.
func checkLinear(n nodeInfo) error {
	coef, inter := n.lens["coefficients"], n.lens["intercepts"]
	switch n.op {
	case "LinearClassifier":
		classes := max(n.lens["classlabels_strings"], n.lens["classlabels_ints"])
		switch {
		case coef == 0 || classes == 0:
			return fmt.Errorf("LinearClassifier: %d coefficients for %d classes", coef, classes)
		case inter != classes && !(classes == 2 && inter == 1):
			return fmt.Errorf("LinearClassifier: %d intercepts for %d classes", inter, classes)
		case coef%inter != 0:
			return fmt.Errorf("LinearClassifier: %d coefficients are not %d rows", coef, inter)
		}
	case "LinearRegressor":
		if coef == 0 {
			return errors.New("LinearRegressor: no coefficients")
		}
	}
	return nil
}

// checkTrees checks the structure of a tree ensemble whose parallel lists
// have one length: node ids unique within their tree, every branch's
// children present in its tree, no cycle (so every walk ends), features
// within the input's width, and every weight on an existing node and,
// for a classifier, a class that exists. ONNX Runtime checks less, and
// walks or indexes past the end on the rest.
func checkTrees(gi *graphInfo, n nodeInfo) error {
	tids, nids := n.ints["nodes_treeids"], n.ints["nodes_nodeids"]
	fids, tn, fn := n.ints["nodes_featureids"], n.ints["nodes_truenodeids"], n.ints["nodes_falsenodeids"]
	modes := n.strs["nodes_modes"]
	if len(nids) != len(tids) || len(fids) != len(tids) || len(tn) != len(tids) || len(fn) != len(tids) || len(modes) != len(tids) {
		return fmt.Errorf("%s: the nodes_ lists differ in length", n.op)
	}
	width := int64(-1)
	if len(n.inputs) > 0 && !n.nested { // a subgraph's names may hide the graph's inputs
		for _, vi := range gi.inputs {
			if vi.name == n.inputs[0] && vi.hasShape && len(vi.dims) > 0 {
				width = 1
				for _, d := range vi.dims[1:] {
					if d.param != "" || !d.known {
						width = -1
						break
					}
					width *= d.value
				}
				if len(vi.dims) == 1 {
					width = -1
				}
			}
		}
	}
	type key struct{ tree, node int64 }
	pos := make(map[key]int, len(tids))
	for i := range tids {
		k := key{tids[i], nids[i]}
		if _, dup := pos[k]; dup {
			return fmt.Errorf("%s: node %d of tree %d appears twice", n.op, nids[i], tids[i])
		}
		pos[k] = i
	}
	children := func(i int) (int, int, error) {
		t, ok1 := pos[key{tids[i], tn[i]}]
		f, ok2 := pos[key{tids[i], fn[i]}]
		if !ok1 || !ok2 {
			return 0, 0, fmt.Errorf("%s: node %d of tree %d has a child that does not exist (%d, %d)", n.op, nids[i], tids[i], tn[i], fn[i])
		}
		return t, f, nil
	}
	for i := range tids {
		if modes[i] == "LEAF" {
			continue
		}
		if fids[i] < 0 || width >= 0 && fids[i] >= width {
			return fmt.Errorf("%s: node %d of tree %d reads feature %d of an input of %d", n.op, nids[i], tids[i], fids[i], width)
		}
		if _, _, err := children(i); err != nil {
			return err
		}
	}
	// No cycle: depth-first from every node, marking nodes on the path.
	const (
		unseen = iota
		onPath
		done
	)
	state := make([]uint8, len(tids))
	type frame struct{ i, next int }
	for root := range tids {
		if state[root] != unseen {
			continue
		}
		stack := []frame{{root, 0}}
		state[root] = onPath
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if modes[top.i] == "LEAF" || top.next == 2 {
				state[top.i] = done
				stack = stack[:len(stack)-1]
				continue
			}
			t, f, _ := children(top.i)
			c := t
			if top.next == 1 {
				c = f
			}
			top.next++
			switch state[c] {
			case onPath:
				return fmt.Errorf("%s: tree %d has a cycle through node %d", n.op, tids[c], nids[c])
			case unseen:
				state[c] = onPath
				stack = append(stack, frame{c, 0})
			}
		}
	}
	prefix := "target_"
	classes := -1
	if n.op == "TreeEnsembleClassifier" {
		prefix = "class_"
		classes = max(len(n.strs["classlabels_strings"]), len(n.ints["classlabels_int64s"]))
	}
	wt, wn, wid := n.ints[prefix+"treeids"], n.ints[prefix+"nodeids"], n.ints[prefix+"ids"]
	if len(wn) != len(wt) || len(wid) != len(wt) {
		return fmt.Errorf("%s: the %s lists differ in length", n.op, prefix)
	}
	for j := range wt {
		if _, ok := pos[key{wt[j], wn[j]}]; !ok {
			return fmt.Errorf("%s: a weight is on node %d of tree %d, which does not exist", n.op, wn[j], wt[j])
		}
		if wid[j] < 0 || classes >= 0 && wid[j] >= int64(classes) {
			return fmt.Errorf("%s: a weight is for class or target %d", n.op, wid[j])
		}
	}
	return nil
}
