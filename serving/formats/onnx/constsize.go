package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
)

// The load-time walk of checkIntegerDivision also bounds the tensors
// whose size the model's constants set. ONNX Runtime folded the nodes
// whose inputs are all constants when it created a session (this package
// turns that folding off: it allocated outside MaxMemory), so a
// ConstantOfShape of a constant [500000000] allocated 2 GB at load, and a
// Tile or Expand with constant sizes allocates as much at each run. A
// node that sets a size (sizeInputs) from values the walk knows is
// refused when the tensor it makes would hold more than the load limit
// (MaxTensorElements) of elements.
//
// The walk knows the values of small integer and floating-point
// constants (initializers and Constant nodes) and of what Identity,
// Cast, Reshape, Squeeze, Unsqueeze, Flatten, Concat, Gather, Slice (of
// one axis), Add, Sub, Mul, Div, Max, Min and Shape (of a constant, or of
// a graph input of fixed declared shape) compute from them, so that
// folding a size out of a few steps does not escape the bound. A size
// computed any other way is not bounded here.

// maxConstValues is the most elements of a constant whose values the walk
// keeps: sizes are short vectors, and larger constants are weights.
const maxConstValues = 64

// constVal is what the walk knows of a constant value: its element count
// (-1 when unknown), its dimensions (nil when unknown) and its values
// (nil when unknown or too many).
type constVal struct {
	n    int64
	dims []int64
	vals []float64
}

// constant is what is known of value name's constant content in s or
// around it; nil when nothing is (a name of an inner graph hides an
// outer constant of the same name).
func (s *scope) constant(name string) *constVal {
	for ; s != nil; s = s.parent {
		if c, ok := s.consts[name]; ok {
			return c
		}
	}
	return nil
}

// values are the known values of input k of a node, or nil.
func (s *scope) values(inputs []string, k int) []float64 {
	if k >= len(inputs) || inputs[k] == "" {
		return nil
	}
	if c := s.constant(inputs[k]); c != nil {
		return c.vals
	}
	return nil
}

// count is the element count of input k of a node, or -1.
func (s *scope) count(inputs []string, k int) int64 {
	if k >= len(inputs) || inputs[k] == "" {
		return -1
	}
	if c := s.constant(inputs[k]); c != nil {
		return c.n
	}
	return -1
}

// dimsOf are the dimensions of input k of a node, or nil.
func (s *scope) dimsOf(inputs []string, k int) []int64 {
	if k >= len(inputs) || inputs[k] == "" {
		return nil
	}
	if c := s.constant(inputs[k]); c != nil {
		return c.dims
	}
	return nil
}

// nodeAttrs are the attributes of a node the constant walk reads.
type nodeAttrs struct {
	any    bool // the node has attributes other than those below
	tensor []byte
	ints   map[string][]int64   // nil until one is set
	floats map[string][]float64 // nil until one is set
}

func (at *nodeAttrs) setInts(name string, v []int64) {
	if at.ints == nil {
		at.ints = map[string][]int64{}
	}
	at.ints[name] = v
}

// declaredShape is what is known of a graph input from its declared
// shape: its dimensions when all are fixed, else nothing.
func declaredShape(vi valueInfo) *constVal {
	if !vi.hasShape {
		return nil
	}
	c := &constVal{n: 1, dims: make([]int64, len(vi.dims))}
	for i, d := range vi.dims {
		if !d.known || d.param != "" || d.value < 0 || c.n > math.MaxInt64/max(d.value, 1) {
			return nil
		}
		c.dims[i] = d.value
		c.n *= d.value
	}
	return c
}

// sizeLimitError says why a node is refused: the tensor it would make is
// too large.
func sizeLimitError(op string, elems float64, limit int64) error {
	return fmt.Errorf("a %s node would make a tensor of %.4g elements, from sizes given by the model's constants, more than the limit of %d (MaxTensorElements): ONNX Runtime allocates it at load or at each run", op, elems, limit)
}

// checkConstSize refuses a node whose constant sizes make a tensor of more
// than limit elements.
func checkConstSize(sc *scope, op string, inputs []string, at nodeAttrs, limit int64) error {
	if limit <= 0 {
		return nil
	}
	n, ok := constSize(sc, op, inputs, at)
	if ok && n > float64(limit) {
		return sizeLimitError(op, n, limit)
	}
	return nil
}

// product is the product of vals as sizes; false when one is negative
// (ONNX Runtime refuses it) or vals is nil.
func product(vals []float64) (float64, bool) {
	if vals == nil {
		return 0, false
	}
	p := 1.0
	for _, v := range vals {
		if v < 0 || math.IsNaN(v) {
			return 0, false
		}
		p *= v
	}
	return p, true
}

// known is n when it is known, else 1: an input of unknown size is taken
// to hold at least one element.
func known(n int64) float64 {
	if n < 0 {
		return 1
	}
	return float64(n)
}

// constSize is the element count of the tensor a node makes, when the
// constants the walk knows set it.
func constSize(sc *scope, op string, in []string, at nodeAttrs) (float64, bool) {
	switch op {
	case "ConstantOfShape":
		return product(sc.values(in, 0))
	case "Expand":
		// Each output dimension is at least the shape's.
		return product(sc.values(in, 1))
	case "Tile":
		p, ok := product(sc.values(in, 1))
		return p * known(sc.count(in, 0)), ok
	case "Range":
		s, l, d := sc.values(in, 0), sc.values(in, 1), sc.values(in, 2)
		if len(s) != 1 || len(l) != 1 || len(d) != 1 || d[0] == 0 {
			return 0, false
		}
		return math.Max(math.Ceil((l[0]-s[0])/d[0]), 0), true
	case "Pad":
		pads := sc.values(in, 1)
		if p, ok := at.ints["pads"]; ok && len(in) < 2 {
			pads = toFloats(p) // Pad before opset 11
		}
		if len(pads) == 0 || len(pads)%2 != 0 {
			return 0, false
		}
		r := len(pads) / 2
		dims := sc.dimsOf(in, 0)
		if len(in) > 3 && in[3] != "" || len(dims) != r {
			dims = nil // axes given, or data of unknown shape
		}
		p := 1.0
		for i := range r {
			d := 1.0
			if dims != nil {
				d = float64(dims[i])
			}
			p *= math.Max(d+pads[i]+pads[i+r], 0)
		}
		return p, true
	case "OneHot":
		depth := sc.values(in, 1)
		if len(depth) != 1 || depth[0] < 0 {
			return 0, false
		}
		return math.Floor(depth[0]) * known(sc.count(in, 0)), true
	case "Resize", "Upsample":
		if op == "Resize" && sc.values(in, 3) != nil {
			return product(sc.values(in, 3))
		}
		k := 2 // the scales
		if op == "Upsample" {
			k = 1
		}
		scales, dims := sc.values(in, k), sc.dimsOf(in, 0)
		if len(scales) == 0 || len(scales) != len(dims) {
			return 0, false
		}
		p := 1.0
		for i, s := range scales {
			if !(s >= 0) {
				return 0, false
			}
			p *= math.Floor(float64(dims[i]) * s)
		}
		return p, true
	case "CenterCropPad":
		return product(sc.values(in, 1))
	case "HannWindow", "HammingWindow", "BlackmanWindow":
		v := sc.values(in, 0)
		if len(v) != 1 {
			return 0, false
		}
		return product(v)
	case "MelWeightMatrix":
		bins, dft := sc.values(in, 0), sc.values(in, 1)
		if len(bins) != 1 || len(dft) != 1 || bins[0] < 0 || dft[0] < 0 {
			return 0, false
		}
		return bins[0] * (math.Floor(dft[0]/2) + 1), true
	}
	return 0, false
}

func toFloats(v []int64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// evalConst is what output i of a default-domain node holds when the walk
// knows it, or nil.
func evalConst(sc *scope, op string, i int, in []string, at nodeAttrs, castTo int64) *constVal {
	if i != 0 {
		return nil
	}
	vals := func(v []float64) *constVal {
		if v == nil || len(v) > maxConstValues {
			return nil
		}
		return &constVal{n: int64(len(v)), vals: v}
	}
	switch op {
	case "Constant":
		switch {
		case at.tensor != nil:
			_, c, err := tensorConst(at.tensor)
			if err != nil {
				return nil
			}
			return c
		case at.ints["value_ints"] != nil:
			return vals(toFloats(at.ints["value_ints"]))
		case at.ints["value_int"] != nil:
			c := vals(toFloats(at.ints["value_int"]))
			if c != nil {
				c.dims = []int64{}
			}
			return c
		case at.floats["value_floats"] != nil:
			return vals(at.floats["value_floats"])
		case at.floats["value_float"] != nil:
			c := vals(at.floats["value_float"])
			if c != nil {
				c.dims = []int64{}
			}
			return c
		}
		return nil
	case "Identity":
		return sc.constant(firstOf(in))
	case "Cast":
		c := sc.constant(firstOf(in))
		if c == nil || c.vals == nil || floatElem(castTo) {
			return c
		}
		out := make([]float64, len(c.vals))
		for k, v := range c.vals {
			out[k] = math.Trunc(v)
		}
		return &constVal{n: c.n, dims: c.dims, vals: out}
	case "DequantizeLinear":
		// The dimensions of its input, for a convolution's quantized
		// weights and bias (checkConvBias); its values are not computed.
		if c := sc.constant(firstOf(in)); c != nil {
			return &constVal{n: c.n, dims: c.dims}
		}
		return nil
	case "Reshape", "Squeeze", "Unsqueeze", "Flatten":
		if c := sc.constant(firstOf(in)); c != nil {
			return &constVal{n: c.n, vals: c.vals}
		}
		return nil
	case "Shape":
		if at.any {
			return nil // start and end: not read here
		}
		if d := sc.dimsOf(in, 0); d != nil {
			return vals(toFloats(d))
		}
		return nil
	case "Concat":
		var out []float64
		for k := range in {
			v := sc.values(in, k)
			if v == nil {
				return nil
			}
			out = append(out, v...)
		}
		return vals(out)
	case "Gather":
		data, idx := sc.values(in, 0), sc.values(in, 1)
		if at.any || data == nil || idx == nil {
			return nil // an axis: not read here
		}
		out := make([]float64, len(idx))
		for k, j := range idx {
			if j < 0 {
				j += float64(len(data))
			}
			if !(j >= 0 && j < float64(len(data))) {
				return nil // out of range, or NaN
			}
			out[k] = data[int(j)]
		}
		return vals(out)
	case "Slice":
		return vals(sliceConst(sc, in, at))
	case "Add", "Sub", "Mul", "Div", "Max", "Min":
		if len(in) != 2 {
			return nil
		}
		a, b := sc.values(in, 0), sc.values(in, 1)
		if a == nil || b == nil || len(a) != len(b) && len(a) != 1 && len(b) != 1 {
			return nil
		}
		out := make([]float64, max(len(a), len(b)))
		for k := range out {
			x, y := a[min(k, len(a)-1)], b[min(k, len(b)-1)]
			switch op {
			case "Add":
				out[k] = x + y
			case "Sub":
				out[k] = x - y
			case "Mul":
				out[k] = x * y
			case "Div":
				// An integer Div truncates toward zero; the divisor
				// check has refused an integer 0 or -1.
				out[k] = x / y
				if sc.kind(in[0]) != kindFloat {
					out[k] = math.Trunc(out[k])
				}
			case "Max":
				out[k] = math.Max(x, y)
			case "Min":
				out[k] = math.Min(x, y)
			}
		}
		return vals(out)
	}
	return nil
}

// sliceConst is what a Slice of a one-dimensional constant the walk
// knows holds, along its one axis, or nil. Its starts, ends, axes and
// steps are inputs from opset 10, attributes before (without steps).
func sliceConst(sc *scope, in []string, at nodeAttrs) []float64 {
	c := sc.constant(firstOf(in))
	if at.any || c == nil || c.vals == nil || c.dims != nil && len(c.dims) != 1 {
		return nil
	}
	var starts, ends, axes, steps []float64
	if len(in) > 1 {
		starts, ends = sc.values(in, 1), sc.values(in, 2)
		for k, p := range []*[]float64{&axes, &steps} {
			if len(in) > 3+k && in[3+k] != "" {
				if *p = sc.values(in, 3+k); *p == nil {
					return nil
				}
			}
		}
	} else {
		starts, ends, axes = toFloats(at.ints["starts"]), toFloats(at.ints["ends"]), toFloats(at.ints["axes"])
		if at.ints["axes"] == nil {
			axes = nil
		}
	}
	step := 1.0
	switch {
	case len(starts) != 1 || len(ends) != 1:
		return nil
	case axes != nil && (len(axes) != 1 || axes[0] != 0 && axes[0] != -1):
		return nil
	case steps != nil && (len(steps) != 1 || steps[0] == 0 || steps[0] != math.Trunc(steps[0])):
		return nil
	case steps != nil:
		step = steps[0]
	}
	n := float64(len(c.vals))
	clamp := func(v, lo, hi float64) float64 {
		if v < 0 {
			v += n
		}
		return math.Min(math.Max(v, lo), hi)
	}
	start, end := clamp(starts[0], 0, n), clamp(ends[0], 0, n)
	if step < 0 {
		start, end = clamp(starts[0], 0, n-1), clamp(ends[0], -1, n-1)
	}
	if math.IsNaN(start) || math.IsNaN(end) {
		return nil
	}
	out := []float64{}
	for i := start; step > 0 && i < end || step < 0 && i > end; i += step {
		out = append(out, c.vals[int(i)])
	}
	return out
}

func firstOf(in []string) string {
	if len(in) == 0 {
		return ""
	}
	return in[0]
}

// tensorConst reads a TensorProto's name, dimensions and, when it holds
// at most maxConstValues numbers of an integer or float or double type,
// its values.
func tensorConst(b []byte) (string, *constVal, error) {
	var name string
	var elem int64
	var dims []int64
	var ints []int64
	var floats []float64
	var raw []byte
	hasRaw := false
	err := readFields(b, func(f field) error {
		switch {
		case f.num == fTensorName && f.typ == wireBytes:
			name = string(f.data)
		case f.num == fTensorDataType && f.typ == wireVarint:
			elem = int64(f.v)
		case f.num == fTensorDims && f.typ == wireVarint:
			dims = append(dims, int64(f.v))
		case f.num == fTensorDims && f.typ == wireBytes:
			return readVarints(f.data, func(v uint64) { dims = append(dims, int64(v)) })
		case f.num == fTensorRaw && f.typ == wireBytes:
			raw, hasRaw = f.data, true
		case (f.num == fTensorInt32 || f.num == fTensorInt64 || f.num == fTensorUint64) && f.typ == wireVarint:
			ints = appendSmall(ints, int64(f.v))
		case (f.num == fTensorInt32 || f.num == fTensorInt64 || f.num == fTensorUint64) && f.typ == wireBytes:
			return readVarints(f.data, func(v uint64) { ints = appendSmall(ints, int64(v)) })
		case f.num == fTensorFloat && f.typ == wireFixed32:
			floats = appendSmall(floats, float64(math.Float32frombits(uint32(f.v))))
		case f.num == fTensorFloat && f.typ == wireBytes:
			for p := f.data; len(p) >= 4 && len(floats) <= maxConstValues; p = p[4:] {
				floats = append(floats, float64(math.Float32frombits(binary.LittleEndian.Uint32(p))))
			}
		case f.num == fTensorDouble && f.typ == wireFixed64:
			floats = appendSmall(floats, math.Float64frombits(f.v))
		case f.num == fTensorDouble && f.typ == wireBytes:
			for p := f.data; len(p) >= 8 && len(floats) <= maxConstValues; p = p[8:] {
				floats = append(floats, math.Float64frombits(binary.LittleEndian.Uint64(p)))
			}
		}
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	c := &constVal{n: 1, dims: dims}
	for _, d := range dims {
		if d < 0 || c.n > math.MaxInt64/max(d, 1) {
			return name, &constVal{n: -1}, nil
		}
		c.n *= d
	}
	if c.n > maxConstValues {
		return name, c, nil
	}
	// width is the size of an element in raw_data; signed says how to
	// read it.
	width, signed := 0, false
	switch elem {
	case 1:
		width = 4
	case 11:
		width = 8
	case 3, 5, 6, 7:
		width, signed = map[int64]int{3: 1, 5: 2, 6: 4, 7: 8}[elem], true
	case 2, 4, 12, 13:
		width = map[int64]int{2: 1, 4: 2, 12: 4, 13: 8}[elem]
	default:
		return name, c, nil // bool, float16, string and others: values not read
	}
	var vals []float64
	switch {
	case hasRaw:
		if int64(len(raw)) != c.n*int64(width) {
			return name, c, nil
		}
		for p := raw; len(p) > 0; p = p[width:] {
			var u uint64
			switch width {
			case 1:
				u = uint64(p[0])
			case 2:
				u = uint64(binary.LittleEndian.Uint16(p))
			case 4:
				u = uint64(binary.LittleEndian.Uint32(p))
			case 8:
				u = binary.LittleEndian.Uint64(p)
			}
			vals = append(vals, rawNumber(elem, width, signed, u))
		}
	case elem == 1 || elem == 11:
		vals = floats
	default:
		for _, v := range ints {
			vals = append(vals, rawNumber(elem, width, signed, uint64(v)))
		}
	}
	if int64(len(vals)) != c.n {
		return name, c, nil
	}
	c.vals = vals
	return name, c, nil
}

// rawNumber reads the low width bytes of u as an element of type elem.
func rawNumber(elem int64, width int, signed bool, u uint64) float64 {
	switch elem {
	case 1:
		return float64(math.Float32frombits(uint32(u)))
	case 11:
		return math.Float64frombits(u)
	}
	bits := uint(8 * width)
	if bits < 64 {
		u &= 1<<bits - 1
	}
	if signed {
		return float64(int64(u<<(64-bits)) >> (64 - bits))
	}
	return float64(u)
}

// appendSmall appends v to s while s holds at most maxConstValues
// elements: one more than that says there are too many to keep.
func appendSmall[T any](s []T, v T) []T {
	if len(s) > maxConstValues {
		return s
	}
	return append(s, v)
}
