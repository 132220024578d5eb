package tensorflow

import (
	"fmt"
	"math"

	"github.com/modelstream/modelstream/serving/formats/tensorflow/internal/tfpb"
)

// A plan is a graph compiled for a fixed number of rows: every tensor has
// a known shape and a slot, constants (and everything computed from
// constants alone) are folded at load, and the remaining ops are a list
// of steps over the slots. A plan is immutable; each run gets its own
// slots from newSlots.

type slotKind uint8

const (
	slotConst slotKind = iota // shared, computed at load
	slotOwned                 // a buffer of each run's own
	slotAlias                 // another slot's buffer seen with another shape
)

type slot struct {
	kind  slotKind
	dt    dtype
	shape []int
	n     int
	src   int    // slotAlias: the slot whose buffer this is
	konst tensor // slotConst
}

// step computes one op: it reads its input slots and writes its output
// slot. Steps never allocate.
type step func(v []tensor)

type feed struct {
	slot   int
	dt     dtype
	perRow int
}

type plan struct {
	rows      int
	slots     []slot
	steps     []step
	feeds     []feed
	out       int
	outPerRow int
	owned     int64 // elements of the buffers each run allocates
}

// newSlots allocates the buffers of one run.
func (p *plan) newSlots() []tensor {
	v := make([]tensor, len(p.slots))
	for i, s := range p.slots {
		switch s.kind {
		case slotConst:
			v[i] = s.konst
		case slotOwned:
			v[i] = newTensor(s.dt, s.shape, s.n)
		case slotAlias:
			v[i] = v[s.src].withShape(s.shape)
			v[i].dt = s.dt
		}
	}
	return v
}

// run feeds rows (each one record's features) into the placeholders and
// computes the output slot. len(rows) must be p.rows.
func (p *plan) run(v []tensor, rows [][]float64) {
	off := 0
	for _, f := range p.feeds {
		t := &v[f.slot]
		for r, x := range rows {
			src := x[off : off+f.perRow]
			if f.dt == dtFloat32 {
				dst := t.f32[r*f.perRow : (r+1)*f.perRow]
				for i, e := range src {
					dst[i] = float32(e)
				}
			} else {
				copy(t.f64[r*f.perRow:], src)
			}
		}
		off += f.perRow
	}
	for _, s := range p.steps {
		s(v)
	}
}

// compiler builds a plan.
type compiler struct {
	g     *graph
	limit int64
	p     *plan
	vals  []tensor    // per slot: the constants, for folding
	slot  map[int]int // node index -> slot of its output
	total int64       // elements of constants plus owned buffers
	// work counts the arithmetic of the ops, folded or not, against
	// maxOps: folding runs at load, and the rest at every call.
	work, maxOps int64
	err          error // sticky: work over maxOps met in emit
}

// compile builds the plan of g's output for runs of rows records.
func compile(g *graph, order []int, ps []placeholder, rows int, o *options) (*plan, error) {
	c := &compiler{g: g, limit: o.maxElements, maxOps: o.maxOps, p: &plan{rows: rows}, slot: make(map[int]int, len(order))}
	for _, ph := range ps {
		shape := ph.rowShape(rows)
		s, err := c.newSlot(ph.dt, shape)
		if err != nil {
			return nil, &nodeError{node: ph.name, op: "Placeholder", err: err}
		}
		c.p.slots[s].kind = slotOwned
		c.slot[ph.node] = s
		c.p.feeds = append(c.p.feeds, feed{slot: s, dt: ph.dt, perRow: ph.perRow})
	}
	for _, i := range order {
		n := g.nodes[i]
		if n.GetOp() == "Placeholder" {
			continue
		}
		in := make([]int, len(g.inputs[i]))
		for k, j := range g.inputs[i] {
			in[k] = c.slot[j]
		}
		build, ok := builders[n.GetOp()]
		if !ok {
			return nil, &nodeError{node: n.GetName(), op: n.GetOp(), err: unsupported("op %s is not supported (supported: %s)", n.GetOp(), supportedOps())}
		}
		s, err := build(c, n, in)
		if err == nil {
			err = c.err
		}
		if err != nil {
			return nil, &nodeError{node: n.GetName(), op: n.GetOp(), err: err}
		}
		c.slot[i] = s
	}
	c.p.out = c.slot[order[len(order)-1]]
	out := c.p.slots[c.p.out]
	if out.n%rows != 0 || (rows > 1 && (len(out.shape) == 0 || out.shape[0] != rows)) {
		return nil, fmt.Errorf("output of shape %s does not split into %d rows", shapeString(out.shape), rows)
	}
	c.p.outPerRow = out.n / rows
	if c.p.outPerRow == 0 {
		return nil, unsupported("the output has shape %s: no elements", shapeString(out.shape))
	}
	return c.p, nil
}

// newSlot declares a slot of the given shape, counting its elements
// against the limit. Its kind is set by emit, alias or konst.
func (c *compiler) newSlot(dt dtype, shape []int) (int, error) {
	if len(shape) > maxRank {
		return 0, unsupported("tensor of rank %d (at most %d)", len(shape), maxRank)
	}
	n, err := elements(shape, c.limit)
	if err != nil {
		return 0, err
	}
	c.total += int64(n)
	if c.total > c.limit {
		return 0, &tooLargeError{what: "the graph's tensors", limit: c.limit}
	}
	c.p.slots = append(c.p.slots, slot{dt: dt, shape: shape, n: n})
	c.vals = append(c.vals, tensor{})
	return len(c.p.slots) - 1, nil
}

// remaining is how many more elements a constant may hold.
func (c *compiler) remaining() int64 { return c.limit - c.total }

// konst adds a constant slot.
func (c *compiler) konst(t tensor) int {
	c.total += int64(len(t.f32) + len(t.f64) + len(t.i64))
	c.p.slots = append(c.p.slots, slot{kind: slotConst, dt: t.dt, shape: t.shape, n: len(t.f32) + len(t.f64) + len(t.i64), konst: t})
	c.vals = append(c.vals, t)
	return len(c.p.slots) - 1
}

func (c *compiler) isConst(s int) bool { return c.p.slots[s].kind == slotConst }

// constOf returns the value of a constant slot.
func (c *compiler) constOf(s int) *tensor { return &c.vals[s] }

// emit makes out (from newSlot) the result of k over the input slots in.
// When every input is a constant, k runs now and out becomes a constant
// too: this is the constant folding of the plan.
func (c *compiler) emit(out int, in []int, k step) {
	w := int64(c.p.slots[out].n)
	for _, s := range in {
		w += int64(c.p.slots[s].n)
	}
	if err := c.addWork(w); err != nil {
		c.err = err
		return
	}
	for _, s := range in {
		if !c.isConst(s) {
			c.p.slots[out].kind = slotOwned
			c.p.owned += int64(c.p.slots[out].n)
			c.p.steps = append(c.p.steps, k)
			return
		}
	}
	s := &c.p.slots[out]
	c.vals[out] = newTensor(s.dt, s.shape, s.n)
	k(c.vals)
	s.kind = slotConst
	s.konst = c.vals[out]
}

// addWork counts n more operations of the graph against MaxOps.
func (c *compiler) addWork(n int64) error {
	if n < 0 || n > c.maxOps-c.work {
		return &tooLargeError{what: "the graph's arithmetic", limit: c.maxOps, unit: "operations (MaxOps)"}
	}
	c.work += n
	return nil
}

// alias returns a slot that sees src's buffer with another shape (and,
// for int32/int64, another dtype of the same storage).
func (c *compiler) alias(src int, dt dtype, shape []int) int {
	s := c.p.slots[src]
	if s.kind == slotConst {
		t := c.vals[src].withShape(shape)
		t.dt = dt
		c.p.slots = append(c.p.slots, slot{kind: slotConst, dt: dt, shape: shape, n: s.n, konst: t})
		c.vals = append(c.vals, t)
		return len(c.p.slots) - 1
	}
	c.p.slots = append(c.p.slots, slot{kind: slotAlias, dt: dt, shape: shape, n: s.n, src: src})
	c.vals = append(c.vals, tensor{})
	return len(c.p.slots) - 1
}

func (c *compiler) shape(s int) []int { return c.p.slots[s].shape }
func (c *compiler) dt(s int) dtype    { return c.p.slots[s].dt }

// constInts returns the values of a constant integer slot, for the shape
// and axis inputs of Reshape, ExpandDims, ConcatV2, Mean, Sum and ArgMax.
func (c *compiler) constInts(s int, what string) ([]int64, error) {
	if !c.isConst(s) {
		return nil, unsupported("the %s must be a constant (or computed from constants only)", what)
	}
	t := c.constOf(s)
	if t.dt != dtInt32 && t.dt != dtInt64 {
		return nil, fmt.Errorf("the %s has type %s, want int32 or int64", what, t.dt)
	}
	if len(t.shape) > 1 {
		return nil, fmt.Errorf("the %s has shape %s, want a scalar or a vector", what, shapeString(t.shape))
	}
	return t.ints(), nil
}

// axis normalises a possibly negative axis of a rank-r tensor.
func axis(a int64, r int) (int, error) {
	if a < -int64(r) || a >= int64(r) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", a, r)
	}
	if a < 0 {
		a += int64(r)
	}
	return int(a), nil
}

// Attribute readers. A missing attribute gives the default.

func attrBool(n *tfpb.NodeDef, key string) bool { return n.GetAttr()[key].GetB() }

func attrString(n *tfpb.NodeDef, key, def string) string {
	a, ok := n.GetAttr()[key]
	if !ok {
		return def
	}
	return string(a.GetS())
}

func attrInts(n *tfpb.NodeDef, key string) []int64 { return n.GetAttr()[key].GetList().GetI() }

func attrFloat(n *tfpb.NodeDef, key string, def float64) float64 {
	a, ok := n.GetAttr()[key]
	if !ok {
		return def
	}
	return float64(a.GetF())
}

// attrType reads a type attribute; ok is false when it is absent.
func attrType(n *tfpb.NodeDef, key string) (tfpb.DataType, bool) {
	a, ok := n.GetAttr()[key]
	if !ok {
		return 0, false
	}
	return a.GetType(), true
}

// checkT checks a node's "T" attribute, when present, against the type
// of its first input.
func (c *compiler) checkT(n *tfpb.NodeDef, in int) error {
	t, ok := attrType(n, "T")
	if !ok {
		return nil
	}
	dt, known := fromProto(t)
	if !known {
		return unsupported("type %s", protoTypeName(t))
	}
	if dt != c.dt(in) {
		return fmt.Errorf("attribute T is %s but the input is %s", protoTypeName(t), c.dt(in))
	}
	return nil
}

// satInt converts a float to an integer as Cast does, truncating toward
// zero; NaN gives 0 and out-of-range values saturate.
func satInt(x float64) int64 {
	switch {
	case x != x:
		return 0
	case x >= math.MaxInt64:
		return math.MaxInt64
	case x <= math.MinInt64:
		return math.MinInt64
	}
	return int64(x)
}
