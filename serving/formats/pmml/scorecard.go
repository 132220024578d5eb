package pmml

import (
	"cmp"
	"math"
	"slices"
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
	// scratch for ranking the reason codes (see rank): ranked holds 0
	// until they are ranked for this evaluation, then 1 + their number;
	// -1 when the evaluation had no result.
	rankOff, ranked int
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
				ex := cps.expression()
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
	sc.rankOff = c.slots(4 * len(sc.chars))
	sc.ranked = c.slot()
	mc.mn.reasons = sc.reason
	return sc, nil
}

func (sc *scorecard) eval(s *state) result {
	s.v[sc.ranked] = 0
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
					s.v[sc.ranked] = -1 // no result, no reasons
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
		s.v[sc.ranked] = -1 // no attribute matched: no result, no reasons
		return result{}
	}
	return result{ok: true, val: total}
}

// reason returns the reason code of the given rank (1 for the first) of
// the last evaluation, or NaN.
func (sc *scorecard) reason(s *state, rank int) float64 {
	switch {
	case s.v[sc.ranked] < 0:
		// The scorecard had no result (a TargetValue default answered).
		return math.NaN()
	case s.v[sc.ranked] == 0:
		s.v[sc.ranked] = float64(1 + sc.rank(s))
	}
	n := len(sc.chars)
	if rank < 1 || rank >= int(s.v[sc.ranked]) {
		return math.NaN()
	}
	order := s.v[sc.rankOff : sc.rankOff+n]
	return s.v[sc.rankOff+n+int(order[rank-1])]
}

// rank sums the points of each reason code over the characteristics and
// orders the codes, most points first and ties in the order the codes
// first appear, in O(n log n) and scratch slots: from rankOff, n slots of
// order (indices into the codes), then the codes, their points and their
// first characteristic. It returns the number of codes.
func (sc *scorecard) rank(s *state) int {
	n := len(sc.chars)
	order := s.v[sc.rankOff : sc.rankOff+n]
	codes := s.v[sc.rankOff+n : sc.rankOff+2*n]
	pts := s.v[sc.rankOff+2*n : sc.rankOff+3*n]
	first := s.v[sc.rankOff+3*n : sc.rankOff+4*n]
	code := s.v[sc.codeOff : sc.codeOff+n]
	chPts := s.v[sc.ptsOff : sc.ptsOff+n]
	// Group the characteristics by code, each group in document order.
	for i := range order {
		order[i] = float64(i)
	}
	slices.SortFunc(order, func(a, b float64) int {
		if c := cmp.Compare(code[int(a)], code[int(b)]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	k := 0
	for j := 0; j < n; k++ {
		i := int(order[j])
		codes[k], pts[k], first[k] = code[i], chPts[i], float64(i)
		for j++; j < n && code[int(order[j])] == codes[k]; j++ {
			pts[k] += chPts[int(order[j])]
		}
	}
	order = order[:k]
	for i := range order {
		order[i] = float64(i)
	}
	slices.SortFunc(order, func(a, b float64) int {
		if c := cmp.Compare(pts[int(b)], pts[int(a)]); c != 0 {
			return c
		}
		return cmp.Compare(first[int(a)], first[int(b)])
	})
	return k
}
