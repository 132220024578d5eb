package pmml

import (
	"math"
	"strconv"
)

// svmField is one element of the model's vectors: a numeric field, or a
// categorical field's indicator for one value.
type svmField struct {
	slot   int
	isCat  bool
	val    float64
	coef   float64
	target bool
}

type svmMachine struct {
	refs   []int // the machine's support vectors, as indices of svmModel.used
	coefs  []float64
	b      float64
	cat    int // targetCategory index
	alt    int // alternateTargetCategory index, or -1
	thresh float64
}

const (
	kLinear = iota
	kPoly
	kRBF
	kSigmoid
)

type svmModel struct {
	mn       *modelNode
	fields   []svmField
	machines []svmMachine
	kernel   int
	gamma    float64
	coef0    float64
	degree   float64
	ovo      bool
	maxWins  bool
	xoff     int // first scratch slot of the record's vector
	// used are the support vectors the machines refer to, each once: a
	// Predict computes the kernel of the record with each into the
	// scratch slots from koff, and the machines sum those.
	used [][]float64
	koff int
	// kern is kernelOf; the tests count its calls through it.
	kern func(x, y []float64) float64
}

func (mc *modelCtx) svm() (evaluator, error) {
	mc.extra = []string{"LinearKernelType", "PolynomialKernelType", "RadialBasisKernelType", "SigmoidKernelType", "VectorDictionary", "SupportVectorMachine"}
	c, n := mc.c, mc.n
	sm := &svmModel{mn: mc.mn, maxWins: n.str("maxWins", "false") == "true"}
	if r := n.str("svmRepresentation", "SupportVectors"); r != "SupportVectors" {
		return nil, unsupportedf("SupportVectorMachineModel svmRepresentation %q", r)
	}
	switch m := n.str("classificationMethod", "OneAgainstAll"); m {
	case "OneAgainstAll":
	case "OneAgainstOne":
		sm.ovo = true
	default:
		return nil, corruptf("SupportVectorMachineModel classificationMethod %q", m)
	}
	thresh, err := n.num("threshold", 0)
	if err != nil {
		return nil, err
	}
	var kn *node
	for _, k := range n.kids {
		switch k.name {
		case "LinearKernelType":
			sm.kernel, kn = kLinear, k
		case "PolynomialKernelType":
			sm.kernel, kn = kPoly, k
		case "RadialBasisKernelType":
			sm.kernel, kn = kRBF, k
		case "SigmoidKernelType":
			sm.kernel, kn = kSigmoid, k
		}
	}
	if kn == nil {
		return nil, corruptf("SupportVectorMachineModel without a kernel")
	}
	if sm.gamma, err = kn.num("gamma", 1); err != nil {
		return nil, err
	}
	if sm.coef0, err = kn.num("coef0", 1); err != nil {
		return nil, err
	}
	if sm.degree, err = kn.num("degree", 1); err != nil {
		return nil, err
	}
	vd := n.one("VectorDictionary")
	if vd == nil {
		return nil, corruptf("SupportVectorMachineModel without VectorDictionary")
	}
	vf := vd.one("VectorFields")
	if vf == nil {
		return nil, corruptf("VectorDictionary without VectorFields")
	}
	for _, k := range vf.kids {
		switch k.name {
		case "FieldRef":
			f, err := c.fieldOf2(k, mc.sc, "field")
			if err != nil {
				return nil, err
			}
			if f.str {
				return nil, corruptf("VectorFields FieldRef to the string field %q", f.name)
			}
			sm.fields = append(sm.fields, svmField{slot: f.slot, coef: 1})
		case "CategoricalPredictor":
			f, err := c.fieldOf2(k, mc.sc, "name")
			if err != nil {
				return nil, err
			}
			vs, err := k.need("value")
			if err != nil {
				return nil, err
			}
			v, err := c.fieldValue(f, vs)
			if err != nil {
				return nil, err
			}
			co, err := k.num("coefficient", 1)
			if err != nil {
				return nil, err
			}
			sm.fields = append(sm.fields, svmField{slot: f.slot, isCat: true, val: v, coef: co})
		case "Extension":
		default:
			return nil, unsupportedf("element <%s> in VectorFields", k.name)
		}
	}
	dim := len(sm.fields)
	vecs := map[string][]float64{}
	usedIdx := map[string]int{}
	for _, vi := range vd.all("VectorInstance") {
		id, err := vi.need("id")
		if err != nil {
			return nil, err
		}
		if err := c.charge(dim); err != nil {
			return nil, err
		}
		v := make([]float64, dim)
		if a := vi.one("REAL-SparseArray"); a != nil {
			if err := sparse(a, v); err != nil {
				return nil, err
			}
		} else if a := vi.one("Array"); a != nil {
			xs, err := parseNumArray(a)
			if err != nil {
				return nil, err
			}
			if len(xs) != dim {
				return nil, corruptf("VectorInstance %q has %d values, want %d", id, len(xs), dim)
			}
			copy(v, xs)
		} else {
			return nil, corruptf("VectorInstance %q without values", id)
		}
		vecs[id] = v
	}
	for _, sv := range n.all("SupportVectorMachine") {
		m := svmMachine{alt: -1}
		if m.thresh, err = sv.num("threshold", thresh); err != nil {
			return nil, err
		}
		if mc.mn.classify {
			tc, err := sv.need("targetCategory")
			if err != nil {
				return nil, err
			}
			if m.cat, err = mc.category(tc); err != nil {
				return nil, err
			}
			if ac, ok := sv.attr("alternateTargetCategory"); ok {
				if m.alt, err = mc.category(ac); err != nil {
					return nil, err
				}
			}
		}
		if svs := sv.one("SupportVectors"); svs != nil {
			for _, s := range svs.all("SupportVector") {
				id, err := s.need("vectorId")
				if err != nil {
					return nil, err
				}
				v, ok := vecs[id]
				if !ok {
					return nil, corruptf("SupportVector of unknown vector %q", id)
				}
				k, ok := usedIdx[id]
				if !ok {
					k = len(sm.used)
					usedIdx[id] = k
					sm.used = append(sm.used, v)
				}
				m.refs = append(m.refs, k)
			}
		}
		cs := sv.one("Coefficients")
		if cs == nil {
			return nil, corruptf("SupportVectorMachine without Coefficients")
		}
		if m.b, err = cs.num("absoluteValue", 0); err != nil {
			return nil, err
		}
		for _, co := range cs.all("Coefficient") {
			v, err := co.num("value", 0)
			if err != nil {
				return nil, err
			}
			m.coefs = append(m.coefs, v)
		}
		if len(m.coefs) != len(m.refs) {
			return nil, corruptf("SupportVectorMachine with %d coefficients for %d vectors", len(m.coefs), len(m.refs))
		}
		sm.machines = append(sm.machines, m)
	}
	if len(sm.machines) == 0 {
		return nil, corruptf("SupportVectorMachineModel without SupportVectorMachine")
	}
	if mc.mn.classify && sm.ovo {
		for i, m := range sm.machines {
			if m.alt < 0 {
				return nil, corruptf("OneAgainstOne SupportVectorMachine %d without alternateTargetCategory", i)
			}
		}
	}
	if mc.mn.classify && !sm.ovo && len(sm.machines) == 1 && sm.machines[0].alt >= 0 {
		sm.ovo = true // a binary machine: one against the alternate
	}
	sm.xoff = c.slots(dim)
	sm.koff = c.slots(len(sm.used))
	sm.kern = sm.kernelOf
	return sm, nil
}

func sparse(a *node, v []float64) error {
	var idx []float64
	var vals []float64
	var err error
	if in := a.one("Indices"); in != nil {
		if idx, err = parseNumArray(in); err != nil {
			return err
		}
	}
	if en := a.one("REAL-Entries"); en != nil {
		if vals, err = parseNumArray(en); err != nil {
			return err
		}
	}
	if len(idx) != len(vals) {
		return corruptf("REAL-SparseArray with %d indices and %d entries", len(idx), len(vals))
	}
	for i, k := range idx {
		j := int(k) - 1
		if float64(j+1) != k || j < 0 || j >= len(v) {
			return corruptf("REAL-SparseArray index %s out of range", strconv.FormatFloat(k, 'g', -1, 64))
		}
		v[j] = vals[i]
	}
	return nil
}

func (sm *svmModel) kernelOf(x, y []float64) float64 {
	dot := 0.0
	if sm.kernel == kRBF {
		for i := range x {
			d := x[i] - y[i]
			dot += d * d
		}
		return math.Exp(-sm.gamma * dot)
	}
	for i := range x {
		dot += x[i] * y[i]
	}
	switch sm.kernel {
	case kPoly:
		return math.Pow(sm.gamma*dot+sm.coef0, sm.degree)
	case kSigmoid:
		return math.Tanh(sm.gamma*dot + sm.coef0)
	}
	return dot
}

func (sm *svmModel) eval(s *state) result {
	x := s.v[sm.xoff : sm.xoff+len(sm.fields)]
	for i, f := range sm.fields {
		v := s.v[f.slot]
		if math.IsNaN(v) {
			return result{}
		}
		if f.isCat {
			x[i] = f.coef * b2f(v == f.val)
		} else {
			x[i] = v
		}
	}
	k := s.v[sm.koff : sm.koff+len(sm.used)]
	for i, v := range sm.used {
		k[i] = sm.kern(x, v)
	}
	mn := sm.mn
	if !mn.classify {
		m := &sm.machines[0]
		return result{ok: true, val: sm.decide(m, k)}
	}
	p := s.v[mn.probs : mn.probs+len(mn.cats.vals)]
	clear(p)
	// A NaN decision value (kernels overflowing to +Inf and -Inf, a NaN
	// coefficient) decides nothing: it would lose every comparison, and
	// hand its vote or the win to whichever side that favours.
	if sm.ovo {
		for i := range sm.machines {
			m := &sm.machines[i]
			f := sm.decide(m, k)
			if f != f {
				return result{}
			}
			win := m.cat
			if (f < m.thresh) == sm.maxWins {
				win = m.alt
			}
			p[win]++
		}
		for i := range p {
			p[i] /= float64(len(sm.machines))
		}
		return result{ok: true, val: float64(argmax(p))}
	}
	// One against all: the machine with the smallest (or, with maxWins,
	// the largest) value wins; Values hold the share of the win, 1.
	best, bestV := 0, 0.0
	for i := range sm.machines {
		f := sm.decide(&sm.machines[i], k)
		if f != f {
			return result{}
		}
		better := f < bestV
		if sm.maxWins {
			better = f > bestV
		}
		if i == 0 || better {
			best, bestV = i, f
		}
	}
	p[sm.machines[best].cat] = 1
	return result{ok: true, val: float64(sm.machines[best].cat)}
}

// decide returns a machine's value, given the kernels k of the record
// with the used vectors.
func (sm *svmModel) decide(m *svmMachine, k []float64) float64 {
	f := m.b
	for i, r := range m.refs {
		f += m.coefs[i] * k[r]
	}
	return f
}
