package pmml

import (
	"math"
)

// regTable is one compiled RegressionTable: y = intercept + Σ terms.
type regTable struct {
	intercept float64
	num       []numTerm
	cat       []catTerm
	inter     []interTerm
	category  int
}

type numTerm struct {
	slot      int
	exp, coef float64
}

type catTerm struct {
	slot      int
	val, coef float64
}

type interTerm struct {
	slots []int
	coef  float64
}

func (t *regTable) eval(s *state) float64 {
	y := t.intercept
	for _, p := range t.num {
		x := s.v[p.slot]
		if p.exp == 1 {
			y += p.coef * x
		} else {
			y += p.coef * math.Pow(x, p.exp)
		}
	}
	for _, p := range t.cat {
		x := s.v[p.slot]
		if math.IsNaN(x) {
			return nan
		}
		if x == p.val {
			y += p.coef
		}
	}
	for _, p := range t.inter {
		v := p.coef
		for _, sl := range p.slots {
			v *= s.v[sl]
		}
		y += v
	}
	return y
}

func (mc *modelCtx) regTable(t *node) (*regTable, error) {
	c, sc := mc.c, mc.sc
	rt := &regTable{}
	var err error
	if rt.intercept, err = t.needNum("intercept"); err != nil {
		return nil, err
	}
	for _, k := range t.kids {
		switch k.name {
		case "NumericPredictor":
			f, err := c.fieldOf2(k, sc, "name")
			if err != nil {
				return nil, err
			}
			if f.str {
				return nil, corruptf("NumericPredictor of the string field %q", f.name)
			}
			e, err := k.num("exponent", 1)
			if err != nil {
				return nil, err
			}
			co, err := k.needNum("coefficient")
			if err != nil {
				return nil, err
			}
			rt.num = append(rt.num, numTerm{f.slot, e, co})
		case "CategoricalPredictor":
			f, err := c.fieldOf2(k, sc, "name")
			if err != nil {
				return nil, err
			}
			vs, err := k.need("value")
			if err != nil {
				return nil, err
			}
			v, err := c.fieldValue(f, vs)
			if err != nil {
				return nil, corruptf("CategoricalPredictor %q: %v", f.name, err)
			}
			co, err := k.needNum("coefficient")
			if err != nil {
				return nil, err
			}
			rt.cat = append(rt.cat, catTerm{f.slot, v, co})
		case "PredictorTerm":
			co, err := k.needNum("coefficient")
			if err != nil {
				return nil, err
			}
			it := interTerm{coef: co}
			for _, fr := range k.all("FieldRef") {
				f, err := c.fieldOf2(fr, sc, "field")
				if err != nil {
					return nil, err
				}
				if f.str {
					return nil, corruptf("PredictorTerm of the string field %q", f.name)
				}
				it.slots = append(it.slots, f.slot)
			}
			if len(it.slots) == 0 {
				return nil, corruptf("PredictorTerm without FieldRef")
			}
			rt.inter = append(rt.inter, it)
		case "Extension":
		default:
			return nil, unsupportedf("element <%s> in RegressionTable", k.name)
		}
	}
	return rt, nil
}

// fieldOf2 resolves the field named by the attribute attr of n.
func (c *compiler) fieldOf2(n *node, sc *scope, attr string) (*field, error) {
	name, err := n.need(attr)
	if err != nil {
		return nil, err
	}
	return sc.lookup(name)
}

// regression value normalizations (and generalized linear inverse links).
func invLink(method string) (func(float64) float64, bool) {
	switch method {
	case "none":
		return func(y float64) float64 { return y }, true
	case "logit", "softmax":
		return func(y float64) float64 { return 1 / (1 + math.Exp(-y)) }, true
	case "exp":
		return math.Exp, true
	case "probit":
		return func(y float64) float64 { return 0.5 * math.Erfc(-y/math.Sqrt2) }, true
	case "cloglog":
		return func(y float64) float64 { return 1 - math.Exp(-math.Exp(y)) }, true
	case "loglog":
		return func(y float64) float64 { return math.Exp(-math.Exp(-y)) }, true
	case "cauchit":
		return func(y float64) float64 { return 0.5 + math.Atan(y)/math.Pi }, true
	}
	return nil, false
}

type regressionModel struct {
	mn     *modelNode
	tables []*regTable
	method string
	link   func(float64) float64
}

func (mc *modelCtx) regression() (evaluator, error) {
	mc.extra = []string{"RegressionTable"}
	n := mc.n
	rm := &regressionModel{mn: mc.mn, method: n.str("normalizationMethod", "none")}
	// The categories that have a table: a set, not a search of the
	// tables so far per table, which made the load quadratic in them.
	hasTable := map[int]bool{}
	for _, t := range n.all("RegressionTable") {
		rt, err := mc.regTable(t)
		if err != nil {
			return nil, err
		}
		if mc.mn.classify {
			tc, err := t.need("targetCategory")
			if err != nil {
				return nil, err
			}
			if rt.category, err = mc.category(tc); err != nil {
				return nil, err
			}
			if hasTable[rt.category] {
				return nil, corruptf("two RegressionTables for targetCategory %q", tc)
			}
			hasTable[rt.category] = true
		}
		rm.tables = append(rm.tables, rt)
	}
	if len(rm.tables) == 0 {
		return nil, corruptf("RegressionModel without RegressionTable")
	}
	if !mc.mn.classify {
		if len(rm.tables) != 1 {
			return nil, corruptf("regression RegressionModel with %d tables", len(rm.tables))
		}
		f, ok := invLink(rm.method)
		if !ok {
			return nil, unsupportedf("RegressionModel normalizationMethod %q for regression", rm.method)
		}
		rm.link = f
		return rm, nil
	}
	if len(rm.tables) < 2 {
		return nil, corruptf("classification RegressionModel with %d table", len(rm.tables))
	}
	switch rm.method {
	case "softmax", "simplemax", "none", "exp":
	default:
		f, ok := invLink(rm.method)
		if !ok {
			return nil, unsupportedf("RegressionModel normalizationMethod %q", rm.method)
		}
		rm.link = f
	}
	return rm, nil
}

func (rm *regressionModel) eval(s *state) result {
	if !rm.mn.classify {
		y := rm.tables[0].eval(s)
		if math.IsNaN(y) {
			return result{}
		}
		return result{ok: true, val: rm.link(y)}
	}
	p := s.v[rm.mn.probs : rm.mn.probs+len(rm.mn.cats.vals)]
	clear(p)
	k := len(rm.tables)
	for _, t := range rm.tables {
		y := t.eval(s)
		if math.IsNaN(y) {
			return result{}
		}
		p[t.category] = y
	}
	// A category without a table has no score: it keeps probability 0.
	ys := p
	switch rm.method {
	case "softmax":
		max := math.Inf(-1)
		for _, t := range rm.tables {
			max = math.Max(max, ys[t.category])
		}
		sum := 0.0
		for _, t := range rm.tables {
			ys[t.category] = softexp(ys[t.category], max)
			sum += ys[t.category]
		}
		for _, t := range rm.tables {
			ys[t.category] /= sum
		}
	case "simplemax":
		sum := 0.0
		for _, y := range ys {
			sum += y
		}
		for i := range ys {
			ys[i] /= sum
		}
	case "exp":
		for _, t := range rm.tables {
			ys[t.category] = math.Exp(ys[t.category])
		}
	default: // none and the binary links: the last category takes the rest
		sum := 0.0
		for i, t := range rm.tables {
			if i == k-1 {
				break
			}
			if rm.link != nil {
				ys[t.category] = rm.link(ys[t.category])
			}
			sum += ys[t.category]
		}
		ys[rm.tables[k-1].category] = 1 - sum
	}
	return result{ok: true, val: float64(argmax(ys))}
}

// softexp is a softmax term: e^(y-max), where max is the largest score;
// when that is infinite, the scores equal to it share the probability
// (the limit) instead of making Inf-Inf = NaN, as linmodel.Softmax does
// for a contiguous slice. It serves the softmax over scattered slots.
func softexp(y, max float64) float64 {
	if math.IsInf(max, 0) {
		return b2f(y == max)
	}
	return math.Exp(y - max)
}

// argmax returns the index of the first largest value.
func argmax(ys []float64) int {
	best := 0
	for i, y := range ys {
		if y > ys[best] {
			best = i
		}
	}
	return best
}
