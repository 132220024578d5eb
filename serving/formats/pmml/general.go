package pmml

import (
	"math"

	"github.com/modelstream/modelstream/internal/linmodel"
)

type ppCell struct {
	slot   int
	factor bool
	val    float64 // factor: category value; covariate: exponent
}

type glmModel struct {
	mn       *modelNode
	cells    [][]ppCell  // by parameter
	betas    [][]float64 // by category (or one row for regression), by parameter
	cats     []int       // category index of each betas row
	ref      int         // reference category index (multinomial), or -1
	kind     string
	link     func(float64) float64
	offset   float64
	offSlot  int
	trials   float64
	trSlot   int
	xoff     int // scratch: one slot per parameter
	nparams  int
	binaryOf int // generalized linear classification: the other category
	shared   int // ordinal multinomial: the row of coefficients without a category, or -1
}

func glmLink(name string, d, c float64) (func(float64) float64, bool) {
	switch name {
	case "identity":
		return func(y float64) float64 { return y }, true
	case "log":
		return math.Exp, true
	case "logc":
		return func(y float64) float64 { return 1 - math.Exp(y) }, true
	case "negbin":
		return func(y float64) float64 { return 1 / (c * (math.Exp(-y) - 1)) }, true
	case "oddspower":
		if d == 0 {
			return func(y float64) float64 { return 1 / (1 + math.Exp(-y)) }, true
		}
		return func(y float64) float64 {
			t := math.Pow(1+d*y, 1/d)
			return t / (1 + t)
		}, true
	case "power":
		if d == 0 {
			return math.Exp, true
		}
		return func(y float64) float64 { return math.Pow(y, 1/d) }, true
	case "logit", "probit", "cloglog", "loglog", "cauchit":
		return invLink(name)
	}
	return nil, false
}

func (mc *modelCtx) general() (evaluator, error) {
	mc.extra = []string{"ParameterList", "FactorList", "CovariateList", "PPMatrix", "PCovMatrix", "ParamMatrix", "EventValues", "BaseCumHazardTables"}
	c, n := mc.c, mc.n
	g := &glmModel{mn: mc.mn, kind: n.str("modelType", ""), ref: -1, offSlot: -1, trSlot: -1, shared: -1}
	switch g.kind {
	case "regression", "generalLinear":
		if mc.mn.classify {
			return nil, unsupportedf("GeneralRegressionModel %s for classification", g.kind)
		}
	case "generalizedLinear":
	case "multinomialLogistic":
		if !mc.mn.classify {
			return nil, corruptf("multinomialLogistic GeneralRegressionModel for regression")
		}
	case "ordinalMultinomial":
		if !mc.mn.classify {
			return nil, corruptf("ordinalMultinomial GeneralRegressionModel for regression")
		}
		cl := n.str("cumulativeLink", "")
		f, ok := invLink(cl)
		if !ok || cl == "none" || cl == "exp" || cl == "softmax" {
			return nil, unsupportedf("GeneralRegressionModel cumulativeLink %q", cl)
		}
		g.link = f
	default:
		return nil, unsupportedf("GeneralRegressionModel modelType %q", g.kind)
	}
	if g.kind == "generalizedLinear" {
		lf, err := n.need("linkFunction")
		if err != nil {
			return nil, err
		}
		d, err := n.num("linkParameter", 1)
		if err != nil {
			return nil, err
		}
		cp, err := n.num("distParameter", 1)
		if err != nil {
			return nil, err
		}
		var ok bool
		if g.link, ok = glmLink(lf, d, cp); !ok {
			return nil, unsupportedf("GeneralRegressionModel linkFunction %q", lf)
		}
		if g.offset, err = n.num("offsetValue", 0); err != nil {
			return nil, err
		}
		if g.trials, err = n.num("trialsValue", 1); err != nil {
			return nil, err
		}
		if v, ok := n.attr("offsetVariable"); ok {
			f, err := mc.sc.lookup(v)
			if err != nil {
				return nil, err
			}
			g.offSlot = f.slot
		}
		if v, ok := n.attr("trialsVariable"); ok {
			f, err := mc.sc.lookup(v)
			if err != nil {
				return nil, err
			}
			g.trSlot = f.slot
		}
	}
	pidx := map[string]int{}
	if pl := n.one("ParameterList"); pl != nil {
		for _, p := range pl.all("Parameter") {
			name, err := p.need("name")
			if err != nil {
				return nil, err
			}
			if _, dup := pidx[name]; dup {
				return nil, corruptf("Parameter %q twice", name)
			}
			pidx[name] = len(pidx)
		}
	}
	g.nparams = len(pidx)
	if err := c.charge(g.nparams); err != nil {
		return nil, err
	}
	g.cells = make([][]ppCell, g.nparams)
	factors := map[string]bool{}
	if fl := n.one("FactorList"); fl != nil {
		for _, p := range fl.all("Predictor") {
			name, err := p.need("name")
			if err != nil {
				return nil, err
			}
			if p.one("Categories") != nil || p.one("Matrix") != nil {
				return nil, unsupportedf("factor %q with a contrast matrix", name)
			}
			factors[name] = true
		}
	}
	if pp := n.one("PPMatrix"); pp != nil {
		for _, cell := range pp.all("PPCell") {
			pn, err := cell.need("parameterName")
			if err != nil {
				return nil, err
			}
			k, ok := pidx[pn]
			if !ok {
				return nil, corruptf("PPCell of unknown parameter %q", pn)
			}
			f, err := c.fieldOf2(cell, mc.sc, "predictorName")
			if err != nil {
				return nil, err
			}
			vs, err := cell.need("value")
			if err != nil {
				return nil, err
			}
			pc := ppCell{slot: f.slot, factor: factors[f.name]}
			if pc.factor {
				pc.val, err = c.fieldValue(f, vs)
			} else {
				pc.val, err = parseNum(vs)
			}
			if err != nil {
				return nil, corruptf("PPCell %q: %q", pn, vs)
			}
			if !pc.factor && f.str {
				return nil, corruptf("covariate %q is a string field", f.name)
			}
			g.cells[k] = append(g.cells[k], pc)
		}
	}
	pm := n.one("ParamMatrix")
	if pm == nil {
		return nil, corruptf("GeneralRegressionModel without ParamMatrix")
	}
	rows := map[string]int{}
	for _, cell := range pm.all("PCell") {
		pn, err := cell.need("parameterName")
		if err != nil {
			return nil, err
		}
		k, ok := pidx[pn]
		if !ok {
			return nil, corruptf("PCell of unknown parameter %q", pn)
		}
		beta, err := cell.needNum("beta")
		if err != nil {
			return nil, err
		}
		tc := cell.str("targetCategory", "")
		if !mc.mn.classify {
			tc = ""
		}
		r, ok := rows[tc]
		if !ok {
			r = len(g.betas)
			rows[tc] = r
			if err := c.charge(g.nparams); err != nil {
				return nil, err
			}
			g.betas = append(g.betas, make([]float64, g.nparams))
			ci := 0
			if g.kind == "ordinalMultinomial" && tc == "" {
				// The coefficients shared by every cumulative logit.
				ci = -1
				g.shared = r
			} else if mc.mn.classify {
				if tc == "" {
					return nil, corruptf("classification PCell without targetCategory")
				}
				if ci, err = mc.category(tc); err != nil {
					return nil, err
				}
			}
			g.cats = append(g.cats, ci)
		}
		g.betas[r][k] += beta
	}
	if len(g.betas) == 0 {
		return nil, corruptf("ParamMatrix without PCell")
	}
	if mc.mn.classify {
		// The reference category is the one without coefficients.
		if rc, ok := n.attr("targetReferenceCategory"); ok {
			ri, err := mc.category(rc)
			if err != nil {
				return nil, err
			}
			g.ref = ri
		}
		if g.kind == "generalizedLinear" {
			if len(g.betas) != 1 || len(mc.mn.cats.vals) != 2 {
				return nil, unsupportedf("generalizedLinear classification with more than two categories")
			}
			g.binaryOf = 1 - g.cats[0]
		}
	}
	g.xoff = c.slots(g.nparams)
	return g, nil
}

func (g *glmModel) eval(s *state) result {
	x := s.v[g.xoff : g.xoff+g.nparams]
	for k, cells := range g.cells {
		v := 1.0
		for _, pc := range cells {
			y := s.v[pc.slot]
			if math.IsNaN(y) {
				return result{}
			}
			if pc.factor {
				v *= b2f(y == pc.val)
			} else if pc.val == 1 {
				v *= y
			} else {
				v *= math.Pow(y, pc.val)
			}
		}
		x[k] = v
	}
	eta := func(row []float64) float64 {
		e := 0.0
		for k, b := range row {
			e += b * x[k]
		}
		return e
	}
	mn := g.mn
	switch g.kind {
	case "regression", "generalLinear":
		return result{ok: true, val: eta(g.betas[0])}
	case "generalizedLinear":
		off, tr := g.offset, g.trials
		if g.offSlot >= 0 {
			off = s.v[g.offSlot]
		}
		if g.trSlot >= 0 {
			tr = s.v[g.trSlot]
		}
		mu := g.link(eta(g.betas[0]) + off)
		if !mn.classify {
			return result{ok: true, val: mu * tr}
		}
		// Categories beyond the two (named by the Targets' priors only)
		// have probability 0, not what the pooled scratch held.
		p := s.v[mn.probs : mn.probs+len(mn.cats.vals)]
		clear(p)
		p[g.cats[0]], p[g.binaryOf] = mu, 1-mu
		return result{ok: true, val: float64(argmax(p))}
	}
	p := s.v[mn.probs : mn.probs+len(mn.cats.vals)]
	if g.kind == "ordinalMultinomial" {
		// P(Y ≤ k) = F(θ_k + xβ) in the target's order; the last category
		// (without a θ) takes the rest.
		shared := 0.0
		if g.shared >= 0 {
			shared = eta(g.betas[g.shared])
		}
		for i := range p {
			p[i] = 1
		}
		for r, row := range g.betas {
			if r != g.shared {
				p[g.cats[r]] = g.link(eta(row) + shared)
			}
		}
		prev := 0.0
		for i := range p {
			cum := math.Max(p[i], prev)
			p[i], prev = cum-prev, cum
		}
		return result{ok: true, val: float64(argmax(p))}
	}
	// multinomial logistic: the reference category has eta 0.
	for i := range p {
		p[i] = math.Inf(-1)
	}
	for r, row := range g.betas {
		if g.cats[r] == g.ref {
			continue
		}
		p[g.cats[r]] = eta(row)
	}
	for i := range p {
		if math.IsInf(p[i], -1) {
			p[i] = 0 // reference (and any category without cells)
		}
	}
	linmodel.Softmax(p)
	return result{ok: true, val: float64(argmax(p))}
}
