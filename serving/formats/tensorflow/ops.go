package tensorflow

import (
	"fmt"
	"slices"
	"strings"

	"github.com/modelstream/modelstream/serving/formats/tensorflow/internal/tfpb"
)

// A builder checks one node against its inputs' types and shapes, and
// declares its output: a new slot computed by a step, or a view of an
// input slot. It runs at load, once per plan.
type builder func(c *compiler, n *tfpb.NodeDef, in []int) (int, error)

var builders map[string]builder

func init() {
	builders = map[string]builder{
		"Const":       buildConst,
		"Identity":    buildIdentity,
		"MatMul":      buildMatMul,
		"BiasAdd":     buildBiasAdd,
		"Add":         elementwise(opAdd),
		"AddV2":       elementwise(opAdd),
		"Sub":         elementwise(opSub),
		"Mul":         elementwise(opMul),
		"RealDiv":     elementwise(opDiv),
		"Maximum":     elementwise(opMax),
		"Minimum":     elementwise(opMin),
		"Relu":        unary(actRelu),
		"Relu6":       unary(actRelu6),
		"Elu":         unary(actElu),
		"Selu":        unary(actSelu),
		"Sigmoid":     unary(actSigmoid),
		"Tanh":        unary(actTanh),
		"Softmax":     buildSoftmax(false),
		"LogSoftmax":  buildSoftmax(true),
		"Reshape":     buildReshape,
		"Squeeze":     buildSqueeze,
		"ExpandDims":  buildExpandDims,
		"ConcatV2":    buildConcat,
		"Conv2D":      buildConv2D,
		"MaxPool":     buildPool(false),
		"AvgPool":     buildPool(true),
		"Mean":        buildReduce(true),
		"Sum":         buildReduce(false),
		"ArgMax":      buildArgMax,
		"Cast":        buildCast,
		"Placeholder": nil, // fed by the record; never built
	}
}

// supportedOps lists the ops this package runs, sorted.
func supportedOps() string {
	names := make([]string, 0, len(builders))
	for k := range builders {
		names = append(names, k)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func wantInputs(in []int, n int) error {
	if len(in) != n {
		return fmt.Errorf("has %d data inputs, want %d", len(in), n)
	}
	return nil
}

func (c *compiler) wantFloat(s int) error {
	if !c.dt(s).isFloat() {
		return unsupported("input of type %s: this op runs on float32 and float64", c.dt(s))
	}
	return nil
}

func buildConst(c *compiler, n *tfpb.NodeDef, in []int) (int, error) {
	if err := wantInputs(in, 0); err != nil {
		return 0, err
	}
	a, ok := n.GetAttr()["value"]
	if !ok || a.GetTensor() == nil {
		return 0, fmt.Errorf("no value attribute")
	}
	t, err := decodeTensor(a.GetTensor(), c.remaining())
	if err != nil {
		return 0, err
	}
	if want, ok := attrType(n, "dtype"); ok && want != a.GetTensor().GetDtype() {
		return 0, fmt.Errorf("dtype attribute %s but the value is %s", protoTypeName(want), protoTypeName(a.GetTensor().GetDtype()))
	}
	return c.konst(t), nil
}

func buildIdentity(c *compiler, n *tfpb.NodeDef, in []int) (int, error) {
	if err := wantInputs(in, 1); err != nil {
		return 0, err
	}
	return in[0], c.checkT(n, in[0])
}

func buildMatMul(c *compiler, n *tfpb.NodeDef, in []int) (int, error) {
	if err := wantInputs(in, 2); err != nil {
		return 0, err
	}
	a, b := in[0], in[1]
	if err := c.wantFloat(a); err != nil {
		return 0, err
	}
	if c.dt(a) != c.dt(b) {
		return 0, fmt.Errorf("operands of types %s and %s", c.dt(a), c.dt(b))
	}
	sa, sb := c.shape(a), c.shape(b)
	if len(sa) != 2 || len(sb) != 2 {
		return 0, fmt.Errorf("operands of shapes %s and %s, want matrices", shapeString(sa), shapeString(sb))
	}
	ta, tb := attrBool(n, "transpose_a"), attrBool(n, "transpose_b")
	m, k := sa[0], sa[1]
	if ta {
		m, k = k, m
	}
	k2, nn := sb[0], sb[1]
	if tb {
		k2, nn = nn, k2
	}
	if k != k2 {
		return 0, fmt.Errorf("operands of shapes %s and %s (transpose_a=%v, transpose_b=%v) do not multiply", shapeString(sa), shapeString(sb), ta, tb)
	}
	out, err := c.newSlot(c.dt(a), []int{m, nn})
	if err != nil {
		return 0, err
	}
	g := mmGeom{m: m, k: k, n: nn, ta: ta, tb: tb}
	if err := c.addWork(int64(m) * int64(k) * int64(nn)); err != nil {
		return 0, err
	}
	if c.dt(a) == dtFloat32 {
		c.emit(out, in, func(v []tensor) { matmul(v[out].f32, v[a].f32, v[b].f32, g) })
	} else {
		c.emit(out, in, func(v []tensor) { matmul(v[out].f64, v[a].f64, v[b].f64, g) })
	}
	return out, nil
}

func buildBiasAdd(c *compiler, n *tfpb.NodeDef, in []int) (int, error) {
	if err := wantInputs(in, 2); err != nil {
		return 0, err
	}
	nchw, err := dataFormat(n)
	if err != nil {
		return 0, err
	}
	x, b := in[0], in[1]
	if err := c.wantFloat(x); err != nil {
		return 0, err
	}
	sx, sb := c.shape(x), c.shape(b)
	// The channel dimension: the last one, or with NCHW the second.
	ch := len(sx) - 1
	if nchw && len(sx) >= 2 {
		ch = 1
	}
	if c.dt(x) != c.dt(b) || len(sx) < 1 || len(sb) != 1 || sb[0] != sx[ch] {
		return 0, fmt.Errorf("bias %s %s does not match the channel dimension of %s %s", c.dt(b), shapeString(sb), c.dt(x), shapeString(sx))
	}
	out, err := c.newSlot(c.dt(x), sx)
	if err != nil {
		return 0, err
	}
	inner := sizeOf(sx[ch+1:])
	if c.dt(x) == dtFloat32 {
		c.emit(out, in, func(v []tensor) { biasAdd(v[out].f32, v[x].f32, v[b].f32, inner) })
	} else {
		c.emit(out, in, func(v []tensor) { biasAdd(v[out].f64, v[x].f64, v[b].f64, inner) })
	}
	return out, nil
}

// broadcast returns the shape of a binary op's result under NumPy
// broadcasting.
func broadcast(sa, sb []int) ([]int, error) {
	r := max(len(sa), len(sb))
	out := make([]int, r)
	for i := range r {
		da, db := dimFromEnd(sa, r-1-i), dimFromEnd(sb, r-1-i)
		switch {
		case da == db, db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %s and %s do not broadcast", shapeString(sa), shapeString(sb))
		}
	}
	return out, nil
}

// indexMaps returns, for each operand of a binary op with output shape
// out, the index of its element read for each output element (nil when
// the operand has the output's shape). The maps count against the
// element limit.
func (c *compiler) indexMaps(sa, sb, out []int) ([]int32, []int32, error) {
	ia, ib := indexMap(sa, out), indexMap(sb, out)
	c.total += int64(len(ia) + len(ib))
	if c.total > c.limit {
		return nil, nil, &tooLargeError{what: "the graph's tensors", limit: c.limit}
	}
	return ia, ib, nil
}

func dimFromEnd(s []int, k int) int {
	if k < len(s) {
		return s[len(s)-1-k]
	}
	return 1
}

// indexMap returns, for each element of shape out, the index of the
// element of shape s (broadcast to out) that it reads; nil when s and out
// hold the same elements in the same order.
func indexMap(s, out []int) []int32 {
	n := 1
	for _, d := range out {
		n *= d
	}
	if slices.Equal(s, out) || sizeOf(s) == n {
		return nil
	}
	// stride of each output dimension in s, 0 where s broadcasts.
	r := len(out)
	strides := make([]int, r)
	st := 1
	for i := r - 1; i >= 0; i-- {
		k := i - (r - len(s))
		if k >= 0 && s[k] != 1 {
			strides[i] = st
		}
		if k >= 0 {
			st *= s[k]
		}
	}
	m := make([]int32, n)
	idx := make([]int, r)
	for i := range n {
		off := 0
		for d := range r {
			off += idx[d] * strides[d]
		}
		m[i] = int32(off)
		for d := r - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < out[d] {
				break
			}
			idx[d] = 0
		}
	}
	return m
}

func sizeOf(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

func elementwise(op binOp) builder {
	return func(c *compiler, n *tfpb.NodeDef, in []int) (int, error) {
		if err := wantInputs(in, 2); err != nil {
			return 0, err
		}
		a, b := in[0], in[1]
		if c.dt(a) != c.dt(b) {
			return 0, fmt.Errorf("operands of types %s and %s", c.dt(a), c.dt(b))
		}
		if op == opDiv {
			if err := c.wantFloat(a); err != nil {
				return 0, err
			}
		}
		shape, err := broadcast(c.shape(a), c.shape(b))
		if err != nil {
			return 0, err
		}
		out, err := c.newSlot(c.dt(a), shape)
		if err != nil {
			return 0, err
		}
		ia, ib, err := c.indexMaps(c.shape(a), c.shape(b), shape)
		if err != nil {
			return 0, err
		}
		bc := bcast{ia: ia, ib: ib}
		switch c.dt(a) {
		case dtFloat32:
			c.emit(out, in, func(v []tensor) { binaryOp(op, v[out].f32, v[a].f32, v[b].f32, bc) })
		case dtFloat64:
			c.emit(out, in, func(v []tensor) { binaryOp(op, v[out].f64, v[a].f64, v[b].f64, bc) })
		default:
			c.emit(out, in, func(v []tensor) { binaryOp(op, v[out].i64, v[a].i64, v[b].i64, bc) })
		}
		return out, nil
	}
}

func unary(act activation) builder {
	return func(c *compiler, n *tfpb.NodeDef, in []int) (int, error) {
		if err := wantInputs(in, 1); err != nil {
			return 0, err
		}
		x := in[0]
		if err := c.wantFloat(x); err != nil {
			return 0, err
		}
		out, err := c.newSlot(c.dt(x), c.shape(x))
		if err != nil {
			return 0, err
		}
		if c.dt(x) == dtFloat32 {
			c.emit(out, in, func(v []tensor) { activate(act, v[out].f32, v[x].f32) })
		} else {
			c.emit(out, in, func(v []tensor) { activate(act, v[out].f64, v[x].f64) })
		}
		return out, nil
	}
}

func buildSoftmax(log bool) builder {
	return func(c *compiler, n *tfpb.NodeDef, in []int) (int, error) {
		if err := wantInputs(in, 1); err != nil {
			return 0, err
		}
		x := in[0]
		if err := c.wantFloat(x); err != nil {
			return 0, err
		}
		s := c.shape(x)
		if len(s) < 1 {
			return 0, fmt.Errorf("input is a scalar, want rank >= 1")
		}
		out, err := c.newSlot(c.dt(x), s)
		if err != nil {
			return 0, err
		}
		w := s[len(s)-1]
		if c.dt(x) == dtFloat32 {
			c.emit(out, in, func(v []tensor) { softmax(v[out].f32, v[x].f32, w, log) })
		} else {
			c.emit(out, in, func(v []tensor) { softmax(v[out].f64, v[x].f64, w, log) })
		}
		return out, nil
	}
}

func buildReshape(c *compiler, n *tfpb.NodeDef, in []int) (int, error) {
	if err := wantInputs(in, 2); err != nil {
		return 0, err
	}
	dims, err := c.constInts(in[1], "shape input")
	if err != nil {
		return 0, err
	}
	if len(dims) > maxRank {
		return 0, unsupported("reshape to rank %d (at most %d)", len(dims), maxRank)
	}
	total := c.p.slots[in[0]].n
	shape := make([]int, len(dims))
	unknown, known := -1, 1
	for i, d := range dims {
		switch {
		case d == -1 && unknown < 0:
			unknown = i
		case d < 0 || d > int64(c.limit):
			return 0, fmt.Errorf("shape %v has dimension %d", dims, d)
		default:
			shape[i] = int(d)
			known *= int(d)
			if int64(known) > c.limit {
				return 0, &tooLargeError{what: fmt.Sprintf("reshape to %v", dims), limit: c.limit}
			}
		}
	}
	if unknown >= 0 {
		if known == 0 || total%known != 0 {
			return 0, fmt.Errorf("cannot reshape %s into %v", shapeString(c.shape(in[0])), dims)
		}
		shape[unknown] = total / known
	} else if known != total {
		return 0, fmt.Errorf("cannot reshape %s (%d elements) into %v", shapeString(c.shape(in[0])), total, dims)
	}
	return c.alias(in[0], c.dt(in[0]), shape), nil
}

func buildSqueeze(c *compiler, n *tfpb.NodeDef, in []int) (int, error) {
	if err := wantInputs(in, 1); err != nil {
		return 0, err
	}
	s := c.shape(in[0])
	drop := make([]bool, len(s))
	dims := attrInts(n, "squeeze_dims")
	for _, d := range dims {
		a, err := axis(d, len(s))
		if err != nil {
			return 0, err
		}
		if s[a] != 1 {
			return 0, fmt.Errorf("cannot squeeze dimension %d of shape %s", d, shapeString(s))
		}
		drop[a] = true
	}
	var shape []int
	for i, d := range s {
		if drop[i] || (len(dims) == 0 && d == 1) {
			continue
		}
		shape = append(shape, d)
	}
	if shape == nil {
		shape = []int{}
	}
	return c.alias(in[0], c.dt(in[0]), shape), nil
}

func buildExpandDims(c *compiler, n *tfpb.NodeDef, in []int) (int, error) {
	if err := wantInputs(in, 2); err != nil {
		return 0, err
	}
	d, err := c.constInts(in[1], "dim input")
	if err != nil {
		return 0, err
	}
	if len(d) != 1 {
		return 0, fmt.Errorf("dim input has %d values, want 1", len(d))
	}
	s := c.shape(in[0])
	if len(s) >= maxRank {
		return 0, unsupported("expand to rank %d (at most %d)", len(s)+1, maxRank)
	}
	a, err := axis(d[0], len(s)+1)
	if err != nil {
		return 0, err
	}
	shape := slices.Insert(slices.Clone(s), a, 1)
	return c.alias(in[0], c.dt(in[0]), shape), nil
}

func buildConcat(c *compiler, n *tfpb.NodeDef, in []int) (int, error) {
	if len(in) < 2 {
		return 0, fmt.Errorf("has %d data inputs, want at least 2", len(in))
	}
	parts := in[:len(in)-1]
	if a, ok := n.GetAttr()["N"]; ok && a.GetI() != int64(len(parts)) {
		return 0, fmt.Errorf("attribute N is %d but %d tensors are given", a.GetI(), len(parts))
	}
	ax, err := c.constInts(in[len(in)-1], "axis input")
	if err != nil {
		return 0, err
	}
	if len(ax) != 1 {
		return 0, fmt.Errorf("axis input has %d values, want 1", len(ax))
	}
	s0 := c.shape(parts[0])
	dt := c.dt(parts[0])
	a, err := axis(ax[0], len(s0))
	if err != nil {
		return 0, err
	}
	shape := slices.Clone(s0)
	shape[a] = 0
	inner := make([]int, len(parts))
	for i, p := range parts {
		s := c.shape(p)
		if c.dt(p) != dt || len(s) != len(s0) {
			return 0, fmt.Errorf("cannot concatenate %s %s with %s %s", dt, shapeString(s0), c.dt(p), shapeString(s))
		}
		for d := range s {
			if d != a && s[d] != s0[d] {
				return 0, fmt.Errorf("cannot concatenate shapes %s and %s on axis %d", shapeString(s0), shapeString(s), a)
			}
		}
		shape[a] += s[a]
		inner[i] = sizeOf(s[a:])
	}
	out, err := c.newSlot(dt, shape)
	if err != nil {
		return 0, err
	}
	outer := sizeOf(shape[:a])
	switch dt {
	case dtFloat32:
		c.emit(out, parts, func(v []tensor) { concat(v, out, parts, inner, outer, f32s) })
	case dtFloat64:
		c.emit(out, parts, func(v []tensor) { concat(v, out, parts, inner, outer, f64s) })
	default:
		c.emit(out, parts, func(v []tensor) { concat(v, out, parts, inner, outer, i64s) })
	}
	return out, nil
}

// dataFormat reads a node's data_format: false for NHWC (the default),
// true for NCHW.
func dataFormat(n *tfpb.NodeDef) (bool, error) {
	switch f := attrString(n, "data_format", "NHWC"); f {
	case "NHWC":
		return false, nil
	case "NCHW":
		return true, nil
	default:
		return false, unsupported("data_format %q (only NHWC and NCHW)", f)
	}
}

// windowAttrs reads the strides (and ksize or dilations) of a
// convolution or pooling node, in its data format: the batch and channel
// entries must be 1.
func windowAttrs(n *tfpb.NodeDef, key string, def []int64, nchw bool) ([2]int, error) {
	v := attrInts(n, key)
	if len(v) == 0 && def != nil {
		v = def
	}
	if len(v) != 4 {
		return [2]int{}, fmt.Errorf("attribute %s has %d values, want 4", key, len(v))
	}
	h, w, ch := v[1], v[2], v[3]
	if nchw {
		h, w, ch = v[2], v[3], v[1]
	}
	if v[0] != 1 || ch != 1 {
		return [2]int{}, unsupported("attribute %s %v: only the spatial (H, W) entries may differ from 1", key, v)
	}
	if h < 1 || w < 1 || h > 1<<16 || w > 1<<16 {
		return [2]int{}, fmt.Errorf("attribute %s %v out of range", key, v)
	}
	return [2]int{int(h), int(w)}, nil
}

// toNHWC returns a slot holding x (NCHW) transposed to NHWC: the NCHW
// ops run the NHWC kernels between two transposes.
func (c *compiler) toNHWC(x int) (int, error) {
	s := c.shape(x)
	t, err := c.newSlot(c.dt(x), []int{s[0], s[2], s[3], s[1]})
	if err != nil {
		return 0, err
	}
	n, ch, hw := s[0], s[1], s[2]*s[3]
	c.emitTranspose(t, x, n, ch, hw, false)
	return t, nil
}

// fromNHWC returns a slot holding t (NHWC) transposed to NCHW.
func (c *compiler) fromNHWC(t int) (int, error) {
	s := c.shape(t)
	out, err := c.newSlot(c.dt(t), []int{s[0], s[3], s[1], s[2]})
	if err != nil {
		return 0, err
	}
	c.emitTranspose(out, t, s[0], s[3], s[1]*s[2], true)
	return out, nil
}

func (c *compiler) emitTranspose(out, in, n, ch, hw int, back bool) {
	if c.dt(in) == dtFloat32 {
		c.emit(out, []int{in}, func(v []tensor) { transposeNCHW(v[out].f32, v[in].f32, n, ch, hw, back) })
	} else {
		c.emit(out, []int{in}, func(v []tensor) { transposeNCHW(v[out].f64, v[in].f64, n, ch, hw, back) })
	}
}

// window computes the output size and the padding before the first
// element of one spatial dimension, as TensorFlow does for SAME and VALID.
func window(in, k, stride, dil int, same bool) (out, pad int, err error) {
	eff := (k-1)*dil + 1
	if same {
		out = (in + stride - 1) / stride
		total := max((out-1)*stride+eff-in, 0)
		return out, total / 2, nil
	}
	if in < eff {
		return 0, 0, fmt.Errorf("window of %d does not fit in %d", eff, in)
	}
	return (in-eff)/stride + 1, 0, nil
}

func paddingAttr(n *tfpb.NodeDef) (bool, error) {
	switch p := attrString(n, "padding", ""); p {
	case "SAME":
		return true, nil
	case "VALID":
		return false, nil
	default:
		return false, unsupported("padding %q (only SAME and VALID)", p)
	}
}

func buildConv2D(c *compiler, n *tfpb.NodeDef, in []int) (int, error) {
	if err := wantInputs(in, 2); err != nil {
		return 0, err
	}
	x, f := in[0], in[1]
	if err := c.wantFloat(x); err != nil {
		return 0, err
	}
	nchw, err := dataFormat(n)
	if err != nil {
		return 0, err
	}
	sx, sf := c.shape(x), c.shape(f)
	if c.dt(x) != c.dt(f) || len(sx) != 4 || len(sf) != 4 {
		return 0, fmt.Errorf("input %s %s and filter %s %s: want a rank-4 input and an HWIO filter of one type", c.dt(x), shapeString(sx), c.dt(f), shapeString(sf))
	}
	if nchw {
		if x, err = c.toNHWC(x); err != nil {
			return 0, err
		}
		sx = c.shape(x)
	}
	if sf[2] != sx[3] {
		if sf[2] > 0 && sx[3]%sf[2] == 0 {
			return 0, unsupported("grouped convolution (input has %d channels, filter %d)", sx[3], sf[2])
		}
		return 0, fmt.Errorf("input of %d channels and filter of %d input channels", sx[3], sf[2])
	}
	same, err := paddingAttr(n)
	if err != nil {
		return 0, err
	}
	st, err := windowAttrs(n, "strides", nil, nchw)
	if err != nil {
		return 0, err
	}
	dl, err := windowAttrs(n, "dilations", []int64{1, 1, 1, 1}, nchw)
	if err != nil {
		return 0, err
	}
	g := convGeom{n: sx[0], h: sx[1], w: sx[2], c: sx[3], kh: sf[0], kw: sf[1], oc: sf[3], sh: st[0], sw: st[1], dh: dl[0], dw: dl[1]}
	if g.kh == 0 || g.kw == 0 {
		return 0, fmt.Errorf("empty filter %s", shapeString(sf))
	}
	if g.oh, g.ph, err = window(g.h, g.kh, g.sh, g.dh, same); err != nil {
		return 0, err
	}
	if g.ow, g.pw, err = window(g.w, g.kw, g.sw, g.dw, same); err != nil {
		return 0, err
	}
	out, err := c.newSlot(c.dt(x), []int{g.n, g.oh, g.ow, g.oc})
	if err != nil {
		return 0, err
	}
	// Each output element sums a window: of kh*kw*c products.
	if err := c.addWork(int64(c.p.slots[out].n) * int64(g.kh*g.kw) * int64(g.c)); err != nil {
		return 0, err
	}
	if c.dt(x) == dtFloat32 {
		c.emit(out, []int{x, f}, func(v []tensor) { conv2d(v[out].f32, v[x].f32, v[f].f32, g) })
	} else {
		c.emit(out, []int{x, f}, func(v []tensor) { conv2d(v[out].f64, v[x].f64, v[f].f64, g) })
	}
	if nchw {
		return c.fromNHWC(out)
	}
	return out, nil
}

func buildPool(avg bool) builder {
	return func(c *compiler, n *tfpb.NodeDef, in []int) (int, error) {
		if err := wantInputs(in, 1); err != nil {
			return 0, err
		}
		x := in[0]
		if err := c.wantFloat(x); err != nil {
			return 0, err
		}
		nchw, err := dataFormat(n)
		if err != nil {
			return 0, err
		}
		sx := c.shape(x)
		if len(sx) != 4 {
			return 0, fmt.Errorf("input of shape %s, want rank 4", shapeString(sx))
		}
		same, err := paddingAttr(n)
		if err != nil {
			return 0, err
		}
		k, err := windowAttrs(n, "ksize", nil, nchw)
		if err != nil {
			return 0, err
		}
		st, err := windowAttrs(n, "strides", nil, nchw)
		if err != nil {
			return 0, err
		}
		if nchw {
			if x, err = c.toNHWC(x); err != nil {
				return 0, err
			}
			sx = c.shape(x)
		}
		if err != nil {
			return 0, err
		}
		g := convGeom{n: sx[0], h: sx[1], w: sx[2], c: sx[3], kh: k[0], kw: k[1], oc: sx[3], sh: st[0], sw: st[1], dh: 1, dw: 1}
		if g.oh, g.ph, err = window(g.h, g.kh, g.sh, 1, same); err != nil {
			return 0, err
		}
		if g.ow, g.pw, err = window(g.w, g.kw, g.sw, 1, same); err != nil {
			return 0, err
		}
		out, err := c.newSlot(c.dt(x), []int{g.n, g.oh, g.ow, g.c})
		if err != nil {
			return 0, err
		}
		if err := c.addWork(int64(c.p.slots[out].n) * int64(g.kh) * int64(g.kw)); err != nil {
			return 0, err
		}
		if c.dt(x) == dtFloat32 {
			c.emit(out, []int{x}, func(v []tensor) { pool(v[out].f32, v[x].f32, g, avg) })
		} else {
			c.emit(out, []int{x}, func(v []tensor) { pool(v[out].f64, v[x].f64, g, avg) })
		}
		if nchw {
			return c.fromNHWC(out)
		}
		return out, nil
	}
}

func buildReduce(mean bool) builder {
	return func(c *compiler, n *tfpb.NodeDef, in []int) (int, error) {
		if err := wantInputs(in, 2); err != nil {
			return 0, err
		}
		x := in[0]
		if mean {
			if err := c.wantFloat(x); err != nil {
				return 0, err
			}
		}
		axes, err := c.constInts(in[1], "reduction_indices input")
		if err != nil {
			return 0, err
		}
		s := c.shape(x)
		red := make([]bool, len(s))
		for _, a := range axes {
			k, err := axis(a, len(s))
			if err != nil {
				return 0, err
			}
			red[k] = true
		}
		keep := attrBool(n, "keep_dims")
		var shape, kept []int
		for i, d := range s {
			switch {
			case !red[i]:
				shape = append(shape, d)
				kept = append(kept, d)
			case keep:
				shape = append(shape, 1)
				kept = append(kept, 1)
			default:
				kept = append(kept, 1)
			}
		}
		if shape == nil {
			shape = []int{}
		}
		out, err := c.newSlot(c.dt(x), shape)
		if err != nil {
			return 0, err
		}
		// Each input element adds into the output element at its index
		// with the reduced dimensions zeroed: the input's index map
		// against the kept shape, read backwards.
		m := reduceMap(s, kept)
		c.total += int64(len(m))
		if c.total > c.limit {
			return 0, &tooLargeError{what: "the graph's tensors", limit: c.limit}
		}
		count := 1
		for i, d := range s {
			if red[i] {
				count *= d
			}
		}
		switch c.dt(x) {
		case dtFloat32:
			c.emit(out, in, func(v []tensor) { reduce(v[out].f32, v[x].f32, m, count, mean) })
		case dtFloat64:
			c.emit(out, in, func(v []tensor) { reduce(v[out].f64, v[x].f64, m, count, mean) })
		default:
			c.emit(out, in, func(v []tensor) { reduce(v[out].i64, v[x].i64, m, count, false) })
		}
		return out, nil
	}
}

// reduceMap returns, for each element of shape s, the index of the
// element of shape kept (s with reduced dimensions set to 1) it adds
// into.
func reduceMap(s, kept []int) []int32 {
	return indexMap(kept, s)
}

func buildArgMax(c *compiler, n *tfpb.NodeDef, in []int) (int, error) {
	if err := wantInputs(in, 2); err != nil {
		return 0, err
	}
	x := in[0]
	d, err := c.constInts(in[1], "dimension input")
	if err != nil {
		return 0, err
	}
	if len(d) != 1 {
		return 0, fmt.Errorf("dimension input has %d values, want 1", len(d))
	}
	s := c.shape(x)
	if len(s) == 0 {
		return 0, fmt.Errorf("input is a scalar")
	}
	a, err := axis(d[0], len(s))
	if err != nil {
		return 0, err
	}
	if s[a] == 0 {
		return 0, fmt.Errorf("argmax over an empty dimension")
	}
	odt := dtInt64
	if t, ok := attrType(n, "output_type"); ok {
		switch t {
		case tfpb.DataType_DT_INT64:
		case tfpb.DataType_DT_INT32:
			odt = dtInt32
		default:
			return 0, unsupported("output_type %s", protoTypeName(t))
		}
	}
	shape := slices.Delete(slices.Clone(s), a, a+1)
	out, err := c.newSlot(odt, shape)
	if err != nil {
		return 0, err
	}
	outer, size, inner := sizeOf(s[:a]), s[a], sizeOf(s[a+1:])
	c.emit(out, in[:1], func(v []tensor) {
		t := &v[x]
		dst := v[out].i64
		for o := range outer {
			for i := range inner {
				base := o*size*inner + i
				best, bv := 0, t.at(base)
				for k := 1; k < size; k++ {
					if e := t.at(base + k*inner); e > bv {
						best, bv = k, e
					}
				}
				dst[o*inner+i] = int64(best)
			}
		}
	})
	return out, nil
}

func buildCast(c *compiler, n *tfpb.NodeDef, in []int) (int, error) {
	if err := wantInputs(in, 1); err != nil {
		return 0, err
	}
	x := in[0]
	if t, ok := attrType(n, "SrcT"); ok {
		if dt, known := fromProto(t); !known || dt != c.dt(x) {
			return 0, fmt.Errorf("SrcT is %s but the input is %s", protoTypeName(t), c.dt(x))
		}
	}
	t, ok := attrType(n, "DstT")
	if !ok {
		return 0, fmt.Errorf("no DstT attribute")
	}
	dst, known := fromProto(t)
	if !known {
		return 0, unsupported("cast to %s", protoTypeName(t))
	}
	src := c.dt(x)
	if src == dst || (src == dtInt32 && dst == dtInt64) {
		return c.alias(x, dst, c.shape(x)), nil
	}
	out, err := c.newSlot(dst, c.shape(x))
	if err != nil {
		return 0, err
	}
	c.emit(out, in, func(v []tensor) { cast(&v[out], &v[x]) })
	return out, nil
}
