package pmml

import (
	"math"
	"sort"
)

type scAttr struct {
	pred    pred
	score   float64
	complex expr // ComplexPartialScore, or nil
	code    float64
}

type scChar struct {
	attrs    []scAttr
	baseline float64
}

type scorecard struct {
	mn      *modelNode
	initial float64
	chars   []scChar
	below   bool
	// scratch: per characteristic, the reason code and its points
	codeOff, ptsOff int
}

func (mc *modelCtx) scorecard() (evaluator, error) {
	mc.extra = []string{"Characteristics"}
	c, n := mc.c, mc.n
	if mc.mn.classify {
		return nil, unsupportedf("Scorecard for classification")
	}
	sc := &scorecard{mn: mc.mn}
	var err error
	if sc.initial, err = n.num("initialScore", 0); err != nil {
		return nil, err
	}
	useRC := n.str("useReasonCodes", "true") == "true"
	switch a := n.str("reasonCodeAlgorithm", "pointsBelow"); a {
	case "pointsBelow":
		sc.below = true
	case "pointsAbove":
	default:
		return nil, corruptf("Scorecard reasonCodeAlgorithm %q", a)
	}
	chs := n.one("Characteristics")
	if chs == nil {
		return nil, corruptf("Scorecard without Characteristics")
	}
	if m := n.str("baselineMethod", "other"); m != "other" && useRC {
		// max, min, mean, neutral: the baselines are given per
		// characteristic in practice; computing them is not implemented.
		if _, ok := n.attr("baselineScore"); !ok {
			for _, ch := range chs.all("Characteristic") {
				if _, ok := ch.attr("baselineScore"); !ok {
					return nil, unsupportedf("Scorecard baselineMethod %q without baseline scores", m)
				}
			}
		}
	}
	base, err := n.num("baselineScore", math.NaN())
	if err != nil {
		return nil, err
	}
	for _, ch := range chs.all("Characteristic") {
		sch := scChar{}
		if sch.baseline, err = ch.num("baselineScore", base); err != nil {
			return nil, err
		}
		chCode := ch.str("reasonCode", "")
		for _, a := range ch.all("Attribute") {
			sa := scAttr{}
			pn, err := firstPredicate(a)
			if err != nil {
				return nil, err
			}
			if sa.pred, err = c.pred(pn, mc.sc); err != nil {
				return nil, err
			}
			if cps := a.one("ComplexPartialScore"); cps != nil {
				var ex *node
				for _, k := range cps.kids {
					if k.name != "Extension" {
						ex = k
						break
					}
				}
				if ex == nil {
					return nil, corruptf("ComplexPartialScore without expression")
				}
				e, str, err := c.expr(ex, mc.sc)
				if err != nil {
					return nil, err
				}
				if str {
					return nil, corruptf("ComplexPartialScore is a string")
				}
				sa.complex = e
			} else if sa.score, err = a.needNum("partialScore"); err != nil {
				return nil, err
			}
			sa.code = c.intern(a.str("reasonCode", chCode))
			sch.attrs = append(sch.attrs, sa)
		}
		if len(sch.attrs) == 0 {
			return nil, corruptf("Characteristic without Attribute")
		}
		sc.chars = append(sc.chars, sch)
	}
	if len(sc.chars) == 0 {
		return nil, corruptf("Scorecard without Characteristic")
	}
	sc.codeOff = c.slots(len(sc.chars))
	sc.ptsOff = c.slots(len(sc.chars))
	mc.mn.reasons = sc.reason
	return sc, nil
}

func (sc *scorecard) eval(s *state) result {
	total := sc.initial
chars:
	for i := range sc.chars {
		ch := &sc.chars[i]
		for _, a := range ch.attrs {
			if a.pred(s) != tTrue {
				continue
			}
			v := a.score
			if a.complex != nil {
				if v = a.complex(s); math.IsNaN(v) {
					return result{}
				}
			}
			total += v
			s.v[sc.codeOff+i] = a.code
			d := ch.baseline - v
			if !sc.below {
				d = -d
			}
			s.v[sc.ptsOff+i] = d
			continue chars
		}
		return result{} // no attribute matched
	}
	return result{ok: true, val: total}
}

// reason returns the reason code of the given rank (1 for the first) of
// the last evaluation, or NaN.
func (sc *scorecard) reason(s *state, rank int) float64 {
	n := len(sc.chars)
	type rc struct{ code, pts float64 }
	var buf [16]rc
	sums := buf[:0]
next:
	for i := 0; i < n; i++ {
		code, pts := s.v[sc.codeOff+i], s.v[sc.ptsOff+i]
		for j := range sums {
			if sums[j].code == code {
				sums[j].pts += pts
				continue next
			}
		}
		sums = append(sums, rc{code, pts})
	}
	sort.SliceStable(sums, func(i, j int) bool { return sums[i].pts > sums[j].pts })
	if rank < 1 || rank > len(sums) {
		return math.NaN()
	}
	return sums[rank-1].code
}
