package pmml

import (
	"math"
	"slices"
	"sort"
	"strings"
)

var nan = math.NaN()

// expr compiles an expression element. It returns the compiled
// expression and whether its values are strings.
func (c *compiler) expr(n *node, sc *scope) (expr, bool, error) {
	switch n.name {
	case "Constant":
		return c.constant(n)
	case "FieldRef":
		name, err := n.need("field")
		if err != nil {
			return nil, false, err
		}
		f, err := sc.lookup(name)
		if err != nil {
			return nil, false, err
		}
		slot := f.slot
		e := expr(func(s *state) float64 { return s.v[slot] })
		if mv, ok := n.attr("mapMissingTo"); ok {
			x, err := c.value(f.str, mv)
			if err != nil {
				return nil, false, err
			}
			e = func(s *state) float64 {
				if v := s.v[slot]; !math.IsNaN(v) {
					return v
				}
				return x
			}
		}
		return e, f.str, nil
	case "NormContinuous":
		return c.normContinuous(n, sc)
	case "NormDiscrete":
		return c.normDiscrete(n, sc)
	case "Discretize":
		return c.discretize(n, sc)
	case "MapValues":
		return c.mapValues(n, sc)
	case "Apply":
		return c.apply(n, sc)
	}
	return nil, false, unsupportedf("expression <%s>", n.name)
}

func (c *compiler) constant(n *node) (expr, bool, error) {
	if n.str("missing", "false") == "true" {
		return func(*state) float64 { return nan }, false, nil
	}
	var str bool
	if dt, ok := n.attr("dataType"); ok {
		var err error
		if str, err = isStrType(dt); err != nil {
			return nil, false, err
		}
	} else if _, err := parseNum(n.text); err != nil {
		str = true
	}
	x, err := c.value(str, n.text)
	if err != nil {
		return nil, false, corruptf("Constant: %v", err)
	}
	return func(*state) float64 { return x }, str, nil
}

// numField resolves the numeric field an element's field attribute names.
func (c *compiler) fieldOf(n *node, sc *scope) (*field, error) {
	name, err := n.need("field")
	if err != nil {
		return nil, err
	}
	return sc.lookup(name)
}

func (c *compiler) normContinuous(n *node, sc *scope) (expr, bool, error) {
	f, err := c.fieldOf(n, sc)
	if err != nil {
		return nil, false, err
	}
	if f.str {
		return nil, false, corruptf("NormContinuous of the string field %q", f.name)
	}
	var orig, norm []float64
	for _, ln := range n.all("LinearNorm") {
		o, err := ln.needNum("orig")
		if err != nil {
			return nil, false, err
		}
		m, err := ln.needNum("norm")
		if err != nil {
			return nil, false, err
		}
		if len(orig) > 0 && o <= orig[len(orig)-1] {
			return nil, false, corruptf("NormContinuous of %q: orig values not increasing", f.name)
		}
		orig, norm = append(orig, o), append(norm, m)
	}
	if len(orig) < 2 {
		return nil, false, corruptf("NormContinuous of %q needs two LinearNorm elements", f.name)
	}
	miss, err := n.num("mapMissingTo", nan)
	if err != nil {
		return nil, false, err
	}
	outl := n.str("outliers", "asIs")
	switch outl {
	case "asIs", "asMissingValues", "asExtremeValues":
	default:
		return nil, false, corruptf("NormContinuous outliers %q", outl)
	}
	slot := f.slot
	last := len(orig) - 1
	return func(s *state) float64 {
		x := s.v[slot]
		if math.IsNaN(x) {
			return miss
		}
		i := 0
		switch {
		case x < orig[0]:
			switch outl {
			case "asMissingValues":
				return nan
			case "asExtremeValues":
				return norm[0]
			}
		case x > orig[last]:
			switch outl {
			case "asMissingValues":
				return nan
			case "asExtremeValues":
				return norm[last]
			}
			i = last - 1
		default:
			i = sort.SearchFloat64s(orig, x) - 1
			if i < 0 {
				i = 0
			}
			if i > last-1 {
				i = last - 1
			}
		}
		return norm[i] + (x-orig[i])*(norm[i+1]-norm[i])/(orig[i+1]-orig[i])
	}, false, nil
}

func (c *compiler) normDiscrete(n *node, sc *scope) (expr, bool, error) {
	f, err := c.fieldOf(n, sc)
	if err != nil {
		return nil, false, err
	}
	v, err := n.need("value")
	if err != nil {
		return nil, false, err
	}
	x, err := c.fieldValue(f, v)
	if err != nil {
		return nil, false, corruptf("NormDiscrete: %v", err)
	}
	miss, err := n.num("mapMissingTo", nan)
	if err != nil {
		return nil, false, err
	}
	slot := f.slot
	return func(s *state) float64 {
		y := s.v[slot]
		switch {
		case math.IsNaN(y):
			return miss
		case y == x:
			return 1
		}
		return 0
	}, false, nil
}

// outValue reads an element's attribute as a value of an expression
// whose kind is given by the dataType attribute (numbers when absent and
// the text is a number).
func (c *compiler) outKind(n *node, samples ...string) (bool, error) {
	if dt, ok := n.attr("dataType"); ok {
		return isStrType(dt)
	}
	for _, s := range samples {
		if _, err := parseNum(s); err != nil {
			return true, nil
		}
	}
	return false, nil
}

func (c *compiler) discretize(n *node, sc *scope) (expr, bool, error) {
	f, err := c.fieldOf(n, sc)
	if err != nil {
		return nil, false, err
	}
	if f.str {
		return nil, false, corruptf("Discretize of the string field %q", f.name)
	}
	bins := n.all("DiscretizeBin")
	var labels []string
	for _, b := range bins {
		l, err := b.need("binValue")
		if err != nil {
			return nil, false, err
		}
		labels = append(labels, l)
	}
	o, err := c.mapsTo(n, labels)
	if err != nil {
		return nil, false, err
	}
	ivs := make([]interval, len(bins))
	for i, b := range bins {
		in := b.one("Interval")
		if in == nil {
			return nil, false, corruptf("DiscretizeBin without Interval")
		}
		if ivs[i], err = parseInterval(in); err != nil {
			return nil, false, err
		}
	}
	vals, miss, def, str := o.vals, o.miss, o.def, o.str
	slot := f.slot
	return func(s *state) float64 {
		x := s.v[slot]
		if math.IsNaN(x) {
			return miss
		}
		for i := range ivs {
			if ivs[i].contains(x) {
				return vals[i]
			}
		}
		return def
	}, str, nil
}

// mapped is what a Discretize or MapValues maps to: vals for its bins or
// rows, miss for a missing input and def for any other, in the kind str
// (string codes or numbers) that outKind gives them all.
type mapped struct {
	vals      []float64
	miss, def float64
	str       bool
}

// mapsTo compiles the outputs outs of n, a Discretize or a MapValues,
// with its mapMissingTo and defaultValue (NaN when absent, as missing).
func (c *compiler) mapsTo(n *node, outs []string) (mapped, error) {
	mm, hasMM := n.attr("mapMissingTo")
	dv, hasDV := n.attr("defaultValue")
	samples := slices.Clip(outs)
	if hasMM {
		samples = append(samples, mm)
	}
	if hasDV {
		samples = append(samples, dv)
	}
	str, err := c.outKind(n, samples...)
	if err != nil {
		return mapped{}, err
	}
	m := mapped{vals: make([]float64, len(outs)), miss: nan, def: nan, str: str}
	for i, o := range outs {
		if m.vals[i], err = c.value(str, o); err != nil {
			return mapped{}, err
		}
	}
	if hasMM {
		if m.miss, err = c.value(str, mm); err != nil {
			return mapped{}, err
		}
	}
	if hasDV {
		if m.def, err = c.value(str, dv); err != nil {
			return mapped{}, err
		}
	}
	return m, nil
}

func (c *compiler) mapValues(n *node, sc *scope) (expr, bool, error) {
	if n.one("TableLocator") != nil {
		return nil, false, unsupportedf("MapValues with TableLocator")
	}
	outCol, err := n.need("outputColumn")
	if err != nil {
		return nil, false, err
	}
	// Columns are matched by local name: JPMML writes column="data:input"
	// for an element <data:input> in its own namespace.
	outCol = localName(outCol)
	type col struct {
		name string
		f    *field
	}
	var cols []col
	for _, p := range n.all("FieldColumnPair") {
		f, err := c.fieldOf(p, sc)
		if err != nil {
			return nil, false, err
		}
		cn, err := p.need("column")
		if err != nil {
			return nil, false, err
		}
		cols = append(cols, col{localName(cn), f})
	}
	if len(cols) == 0 {
		return nil, false, corruptf("MapValues without FieldColumnPair")
	}
	it := n.one("InlineTable")
	if it == nil {
		return nil, false, corruptf("MapValues without InlineTable")
	}
	var keys [][]float64
	var outs []string
	for _, row := range it.all("row") {
		cell := map[string]string{}
		for _, k := range row.kids {
			cell[k.name] = k.text
		}
		o, ok := cell[outCol]
		if !ok {
			continue // a row without the output column maps to nothing
		}
		key := make([]float64, len(cols))
		skip := false
		for i, cl := range cols {
			t, ok := cell[cl.name]
			if !ok {
				return nil, false, corruptf("MapValues row lacks column %q", cl.name)
			}
			v, err := c.fieldValue(cl.f, t)
			if err != nil {
				skip = true // a numeric field never equals a non-number
				break
			}
			key[i] = v
		}
		if skip {
			continue
		}
		keys = append(keys, key)
		outs = append(outs, o)
	}
	o, err := c.mapsTo(n, outs)
	if err != nil {
		return nil, false, err
	}
	vals, miss, def, str := o.vals, o.miss, o.def, o.str
	if len(cols) == 1 {
		slot := cols[0].f.slot
		table := make(map[float64]float64, len(keys))
		for i := len(keys) - 1; i >= 0; i-- {
			table[keys[i][0]] = vals[i]
		}
		return func(s *state) float64 {
			x := s.v[slot]
			if math.IsNaN(x) {
				return miss
			}
			if v, ok := table[x]; ok {
				return v
			}
			return def
		}, str, nil
	}
	slots := make([]int, len(cols))
	for i, cl := range cols {
		slots[i] = cl.f.slot
	}
	return func(s *state) float64 {
		for _, sl := range slots {
			if math.IsNaN(s.v[sl]) {
				return miss
			}
		}
	rows:
		for r, key := range keys {
			for i, sl := range slots {
				if s.v[sl] != key[i] {
					continue rows
				}
			}
			return vals[r]
		}
		return def
	}, str, nil
}

// localName drops a namespace prefix.
func localName(s string) string {
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		return s[i+1:]
	}
	return s
}
