package pmml

import (
	"math"
	"slices"
)

// tri is a predicate's value in PMML's three-valued logic.
type tri uint8

const (
	tFalse tri = iota
	tTrue
	tUnknown
)

type pred func(s *state) tri

// isPredicate says whether an element name is a predicate.
func isPredicate(name string) bool {
	switch name {
	case "SimplePredicate", "CompoundPredicate", "SimpleSetPredicate", "True", "False":
		return true
	}
	return false
}

// firstPredicate returns the first predicate child of n, or an error.
func firstPredicate(n *node) (*node, error) {
	for _, k := range n.kids {
		if isPredicate(k.name) {
			return k, nil
		}
	}
	return nil, corruptf("<%s> has no predicate", n.name)
}

func (c *compiler) pred(n *node, sc *scope) (pred, error) {
	switch n.name {
	case "True":
		return func(*state) tri { return tTrue }, nil
	case "False":
		return func(*state) tri { return tFalse }, nil
	case "SimplePredicate":
		return c.simplePred(n, sc)
	case "SimpleSetPredicate":
		return c.setPred(n, sc)
	case "CompoundPredicate":
		return c.compoundPred(n, sc)
	}
	return nil, unsupportedf("predicate <%s>", n.name)
}

func (c *compiler) simplePred(n *node, sc *scope) (pred, error) {
	f, err := c.fieldOf(n, sc)
	if err != nil {
		return nil, err
	}
	op, err := n.need("operator")
	if err != nil {
		return nil, err
	}
	slot := f.slot
	switch op {
	case "isMissing":
		return func(s *state) tri {
			if math.IsNaN(s.v[slot]) {
				return tTrue
			}
			return tFalse
		}, nil
	case "isNotMissing":
		return func(s *state) tri {
			if math.IsNaN(s.v[slot]) {
				return tFalse
			}
			return tTrue
		}, nil
	}
	vs, err := n.need("value")
	if err != nil {
		return nil, err
	}
	x, err := c.fieldValue(f, vs)
	if err != nil {
		return nil, corruptf("SimplePredicate on %q: %v", f.name, err)
	}
	if f.str && op != "equal" && op != "notEqual" {
		return nil, unsupportedf("SimplePredicate %s on the string field %q", op, f.name)
	}
	if f.f32 {
		return f32Pred(slot, op, float64(float32(x)))
	}
	// One closure per operator: a comparison, not a call, per node.
	switch op {
	case "equal":
		return func(s *state) tri {
			v := s.v[slot]
			if v != v {
				return tUnknown
			}
			return tri(b2u(v == x))
		}, nil
	case "notEqual":
		return func(s *state) tri {
			v := s.v[slot]
			if v != v {
				return tUnknown
			}
			return tri(b2u(v != x))
		}, nil
	case "lessThan":
		return func(s *state) tri {
			v := s.v[slot]
			if v != v {
				return tUnknown
			}
			return tri(b2u(v < x))
		}, nil
	case "lessOrEqual":
		return func(s *state) tri {
			v := s.v[slot]
			if v != v {
				return tUnknown
			}
			return tri(b2u(v <= x))
		}, nil
	case "greaterThan":
		return func(s *state) tri {
			v := s.v[slot]
			if v != v {
				return tUnknown
			}
			return tri(b2u(v > x))
		}, nil
	case "greaterOrEqual":
		return func(s *state) tri {
			v := s.v[slot]
			if v != v {
				return tUnknown
			}
			return tri(b2u(v >= x))
		}, nil
	}
	return nil, corruptf("SimplePredicate operator %q", op)
}

// f32Pred compares a float field as float32, the precision its dataType
// declares (and the one XGBoost and LightGBM split on): both the value and
// the threshold are rounded to float32 first.
func f32Pred(slot int, op string, x float64) (pred, error) {
	cmp, ok := compare[op]
	if !ok {
		return nil, corruptf("SimplePredicate operator %q", op)
	}
	return func(s *state) tri {
		v := s.v[slot]
		if v != v {
			return tUnknown
		}
		return tri(b2u(cmp(float64(float32(v)), x)))
	}, nil
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func (c *compiler) setPred(n *node, sc *scope) (pred, error) {
	f, err := c.fieldOf(n, sc)
	if err != nil {
		return nil, err
	}
	op, err := n.need("booleanOperator")
	if err != nil {
		return nil, err
	}
	if op != "isIn" && op != "isNotIn" {
		return nil, corruptf("SimpleSetPredicate booleanOperator %q", op)
	}
	arr := n.one("Array")
	if arr == nil {
		return nil, corruptf("SimpleSetPredicate without Array")
	}
	ss, err := parseArray(arr)
	if err != nil {
		return nil, err
	}
	set := make([]float64, 0, len(ss))
	for _, v := range ss {
		x, err := c.fieldValue(f, v)
		if err != nil {
			return nil, corruptf("SimpleSetPredicate on %q: %v", f.name, err)
		}
		set = append(set, x)
	}
	in := op == "isIn"
	slot := f.slot
	var m map[float64]bool
	if len(set) > 16 {
		m = make(map[float64]bool, len(set))
		for _, x := range set {
			m[x] = true
		}
	}
	return func(s *state) tri {
		v := s.v[slot]
		if math.IsNaN(v) {
			return tUnknown
		}
		var found bool
		if m != nil {
			found = m[v]
		} else {
			found = slices.Contains(set, v)
		}
		if found == in {
			return tTrue
		}
		return tFalse
	}, nil
}

func (c *compiler) compoundPred(n *node, sc *scope) (pred, error) {
	op, err := n.need("booleanOperator")
	if err != nil {
		return nil, err
	}
	var ps []pred
	for _, k := range n.kids {
		if !isPredicate(k.name) {
			if k.name == "Extension" {
				continue
			}
			return nil, unsupportedf("element <%s> in CompoundPredicate", k.name)
		}
		p, err := c.pred(k, sc)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	if len(ps) < 2 {
		return nil, corruptf("CompoundPredicate with %d predicates", len(ps))
	}
	switch op {
	case "and":
		return func(s *state) tri {
			r := tTrue
			for _, p := range ps {
				switch p(s) {
				case tFalse:
					return tFalse
				case tUnknown:
					r = tUnknown
				}
			}
			return r
		}, nil
	case "or":
		return func(s *state) tri {
			r := tFalse
			for _, p := range ps {
				switch p(s) {
				case tTrue:
					return tTrue
				case tUnknown:
					r = tUnknown
				}
			}
			return r
		}, nil
	case "xor":
		return func(s *state) tri {
			r := tFalse
			for _, p := range ps {
				switch p(s) {
				case tUnknown:
					return tUnknown
				case tTrue:
					r ^= 1
				}
			}
			return r
		}, nil
	case "surrogate":
		return func(s *state) tri {
			for i, p := range ps {
				if r := p(s); r != tUnknown {
					if i > 0 {
						s.alternatives++
					}
					return r
				}
			}
			return tUnknown
		}, nil
	}
	return nil, corruptf("CompoundPredicate booleanOperator %q", op)
}

// median returns the median of vs, reordering vs.
func median(vs []float64) float64 {
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}
