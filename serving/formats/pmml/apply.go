package pmml

import (
	"math"
	"strings"
)

// apply compiles an Apply of a PMML built-in function.
func (c *compiler) apply(n *node, sc *scope) (expr, bool, error) {
	fn, err := n.need("function")
	if err != nil {
		return nil, false, err
	}
	var args []expr
	var strs []bool
	for _, k := range n.kids {
		if k.name == "Extension" {
			continue
		}
		e, s, err := c.expr(k, sc)
		if err != nil {
			return nil, false, err
		}
		args, strs = append(args, e), append(strs, s)
	}
	// An invalid result is one that is not a finite number although
	// every argument is present (0/0, x/0, ln(-1), an overflow).
	// returnInvalid fails the record, as JPMML fails the evaluation;
	// asIs passes the invalid value on, which JPMML does by re-throwing
	// it, so the record fails too (the evaluator holds no non-finite
	// value to pass on); asMissing makes the result missing (then
	// defaultValue applies).
	var invalid expr
	switch t := n.str("invalidValueTreatment", "returnInvalid"); t {
	case "returnInvalid", "asIs":
		why := fn + " (invalidValueTreatment " + t + ")"
		invalid = func(s *state) float64 {
			if s.invalid == "" {
				s.invalid = why
			}
			return nan
		}
	case "asMissing":
		invalid = func(*state) float64 { return nan }
	default:
		return nil, false, corruptf("Apply invalidValueTreatment %q", t)
	}
	mm, hasMM := n.attr("mapMissingTo")
	dv, hasDV := n.attr("defaultValue")
	// With mapMissingTo, the arguments are evaluated once into scratch
	// slots, checked, and read from there by the function: evaluating
	// them again would double the work at each nested Apply.
	eval := args
	var argSlots []int
	if hasMM {
		argSlots = make([]int, len(args))
		eval = make([]expr, len(args))
		for i := range args {
			slot := c.slot()
			argSlots[i] = slot
			eval[i] = func(s *state) float64 { return s.v[slot] }
		}
	}
	e, str, err := c.builtin(strings.TrimPrefix(fn, "x-"), eval, strs, invalid)
	if err != nil {
		return nil, false, err
	}
	if !hasMM && !hasDV {
		return e, str, nil
	}
	miss, def := nan, nan
	if hasMM {
		if miss, err = c.value(str, mm); err != nil {
			return nil, false, corruptf("Apply mapMissingTo: %v", err)
		}
	}
	if hasDV {
		if def, err = c.value(str, dv); err != nil {
			return nil, false, corruptf("Apply defaultValue: %v", err)
		}
	}
	inner := e
	return func(s *state) float64 {
		for i, a := range argSlots {
			v := args[i](s)
			if math.IsNaN(v) {
				return miss
			}
			s.v[a] = v
		}
		v := inner(s)
		if math.IsNaN(v) && hasDV {
			return def
		}
		return v
	}, str, nil
}

func arity(fn string, args []expr, want int) error {
	if len(args) != want {
		return corruptf("Apply %s takes %d arguments, has %d", fn, want, len(args))
	}
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

var unary = map[string]func(float64) float64{
	"log10": math.Log10, "ln": math.Log, "sqrt": math.Sqrt, "abs": math.Abs,
	"exp": math.Exp, "floor": math.Floor, "ceil": math.Ceil, "expm1": math.Expm1,
	"ln1p": math.Log1p, "rint": math.RoundToEven, "sin": math.Sin, "cos": math.Cos,
	"tan": math.Tan, "asin": math.Asin, "acos": math.Acos, "atan": math.Atan,
	"sinh": math.Sinh, "cosh": math.Cosh, "tanh": math.Tanh,
	"round":   func(x float64) float64 { return math.Floor(x + 0.5) },
	"sigmoid": func(x float64) float64 { return 1 / (1 + math.Exp(-x)) },
}

var binary = map[string]func(a, b float64) float64{
	"+": func(a, b float64) float64 { return a + b },
	"-": func(a, b float64) float64 { return a - b },
	"*": func(a, b float64) float64 { return a * b },
	"/": func(a, b float64) float64 {
		if b == 0 {
			return nan
		}
		return a / b
	},
	"pow":    math.Pow,
	"hypot":  math.Hypot,
	"atan2":  math.Atan2,
	"modulo": func(a, b float64) float64 { return a - b*math.Floor(a/b) },
	"threshold": func(a, b float64) float64 {
		return b2f(a > b)
	},
}

var compare = map[string]func(a, b float64) bool{
	"equal":          func(a, b float64) bool { return a == b },
	"notEqual":       func(a, b float64) bool { return a != b },
	"lessThan":       func(a, b float64) bool { return a < b },
	"lessOrEqual":    func(a, b float64) bool { return a <= b },
	"greaterThan":    func(a, b float64) bool { return a > b },
	"greaterOrEqual": func(a, b float64) bool { return a >= b },
}

// builtin compiles a call of a built-in function on compiled arguments.
// A function whose result is not a finite number although its arguments
// are present returns invalid(s), the Apply's invalidValueTreatment.
func (c *compiler) builtin(fn string, args []expr, strs []bool, invalid expr) (expr, bool, error) {
	anyStr := false
	for _, s := range strs {
		anyStr = anyStr || s
	}
	numeric := func() error {
		if anyStr {
			return corruptf("Apply %s of a string", fn)
		}
		return nil
	}
	if f, ok := unary[fn]; ok {
		if err := arity(fn, args, 1); err != nil {
			return nil, false, err
		}
		if err := numeric(); err != nil {
			return nil, false, err
		}
		a := args[0]
		return func(s *state) float64 {
			x := a(s)
			if x != x {
				return nan
			}
			v := f(x)
			if v != v || math.IsInf(v, 0) {
				return invalid(s)
			}
			return v
		}, false, nil
	}
	if f, ok := binary[fn]; ok {
		if err := arity(fn, args, 2); err != nil {
			return nil, false, err
		}
		if err := numeric(); err != nil {
			return nil, false, err
		}
		a, b := args[0], args[1]
		return func(s *state) float64 {
			x, y := a(s), b(s)
			if x != x || y != y {
				return nan
			}
			v := f(x, y)
			if v != v || math.IsInf(v, 0) {
				return invalid(s)
			}
			return v
		}, false, nil
	}
	if f, ok := compare[fn]; ok {
		if err := arity(fn, args, 2); err != nil {
			return nil, false, err
		}
		if strs[0] != strs[1] || (anyStr && fn != "equal" && fn != "notEqual") {
			return nil, false, unsupportedf("Apply %s of a string and a number, or ordering of strings", fn)
		}
		a, b := args[0], args[1]
		return func(s *state) float64 {
			x, y := a(s), b(s)
			if math.IsNaN(x) || math.IsNaN(y) {
				return nan
			}
			return b2f(f(x, y))
		}, false, nil
	}
	switch fn {
	case "min", "max", "sum", "avg", "product", "median":
		if len(args) == 0 {
			return nil, false, corruptf("Apply %s without arguments", fn)
		}
		if err := numeric(); err != nil {
			return nil, false, err
		}
		off := 0
		if fn == "median" {
			off = c.slots(len(args)) // scratch to sort the values in
		}
		return nary(fn, args, off, invalid), false, nil
	case "and", "or":
		if len(args) < 2 {
			return nil, false, corruptf("Apply %s takes at least 2 arguments", fn)
		}
		args = c.booleans(args, strs)
		// Missing when any argument is, even one that could not change
		// the answer: all are evaluated.
		and := fn == "and"
		return func(s *state) float64 {
			r := and
			for _, a := range args {
				v := a(s)
				if math.IsNaN(v) {
					return nan
				}
				if (v != 0) != and {
					r = !and
				}
			}
			return b2f(r)
		}, false, nil
	case "not":
		if err := arity(fn, args, 1); err != nil {
			return nil, false, err
		}
		a := c.booleans(args, strs)[0]
		return func(s *state) float64 {
			v := a(s)
			if math.IsNaN(v) {
				return nan
			}
			return b2f(v == 0)
		}, false, nil
	case "isMissing", "isNotMissing":
		if err := arity(fn, args, 1); err != nil {
			return nil, false, err
		}
		a, want := args[0], fn == "isMissing"
		return func(s *state) float64 { return b2f(math.IsNaN(a(s)) == want) }, false, nil
	case "isIn", "isNotIn":
		if len(args) < 2 {
			return nil, false, corruptf("Apply %s takes at least 2 arguments", fn)
		}
		for _, s := range strs[1:] {
			if s != strs[0] {
				return nil, false, unsupportedf("Apply %s of a string and a number", fn)
			}
		}
		in := fn == "isIn"
		a, set := args[0], args[1:]
		return func(s *state) float64 {
			x := a(s)
			if x != x {
				// A missing value is in the set when the set holds a
				// missing value (a Constant missing="true"), as JPMML
				// evaluates it: isIn is false and isNotIn true, not
				// missing.
				for _, e := range set {
					if v := e(s); v != v {
						return b2f(in)
					}
				}
				return b2f(!in)
			}
			for _, e := range set {
				if e(s) == x {
					return b2f(in)
				}
			}
			return b2f(!in)
		}, false, nil
	case "if":
		if len(args) != 2 && len(args) != 3 {
			return nil, false, corruptf("Apply if takes 2 or 3 arguments, has %d", len(args))
		}
		if len(args) == 3 && strs[1] != strs[2] {
			return nil, false, corruptf("Apply if: branches of different types")
		}
		cond, then := c.booleans(args[:1], strs[:1])[0], args[1]
		els := expr(func(*state) float64 { return nan })
		if len(args) == 3 {
			els = args[2]
		}
		return func(s *state) float64 {
			v := cond(s)
			switch {
			case math.IsNaN(v):
				return nan
			case v != 0:
				return then(s)
			}
			return els(s)
		}, strs[1], nil
	}
	return nil, false, unsupportedf("Apply function %q", fn)
}

// nary compiles min, max, sum, avg, product and median; median sorts its
// values in the scratch slots from off. As PMML defines these functions,
// missing arguments are ignored, and the result is missing only when
// every argument is. An overflow is invalid(s).
func nary(fn string, args []expr, off int, invalid expr) expr {
	if fn == "median" {
		return func(s *state) float64 {
			vs := s.v[off : off : off+len(args)]
			for _, a := range args {
				if v := a(s); v == v {
					vs = append(vs, v)
				}
			}
			if len(vs) == 0 {
				return nan
			}
			if v := median(vs); !math.IsInf(v, 0) {
				return v
			}
			return invalid(s)
		}
	}
	return func(s *state) float64 {
		var acc float64
		switch fn {
		case "min":
			acc = math.Inf(1)
		case "max":
			acc = math.Inf(-1)
		case "product":
			acc = 1
		}
		n := 0
		for _, a := range args {
			v := a(s)
			if math.IsNaN(v) {
				continue
			}
			n++
			switch fn {
			case "min":
				acc = math.Min(acc, v)
			case "max":
				acc = math.Max(acc, v)
			case "sum", "avg":
				acc += v
			case "product":
				acc *= v
			}
		}
		if n == 0 {
			return nan
		}
		if fn == "avg" {
			acc /= float64(n)
		}
		if math.IsInf(acc, 0) {
			return invalid(s)
		}
		return acc
	}
}

// booleans returns args with those of string kind read as booleans: the
// strings "true" and "false" are 1 and 0, any other string is missing.
// Numbers are booleans already (0 is false).
func (c *compiler) booleans(args []expr, strs []bool) []expr {
	out := make([]expr, len(args))
	t, f := c.intern("true"), c.intern("false")
	for i, a := range args {
		out[i] = a
		if !strs[i] {
			continue
		}
		out[i] = func(s *state) float64 {
			switch a(s) {
			case t:
				return 1
			case f:
				return 0
			}
			return nan
		}
	}
	return out
}
