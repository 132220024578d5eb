package tensorflow

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/tensorflow/internal/tfpb"
)

// maxRank bounds the rank of every tensor, as TensorFlow's own kernels
// mostly do; it keeps index arithmetic within int.
const maxRank = 8

// Errors raised while reading and compiling a graph. The Format turns
// them into serving.Unsupported or serving.Corrupt errors.

// unsupportedError is a valid graph that uses something this package
// does not run.
type unsupportedError struct{ msg string }

func (e *unsupportedError) Error() string { return e.msg }

func unsupported(format string, args ...any) error {
	return &unsupportedError{fmt.Sprintf(format, args...)}
}

// tooLargeError is a tensor or a plan over the element limit.
type tooLargeError struct {
	what  string
	limit int64
	unit  string // "elements (MaxElements)" when empty
}

func (e *tooLargeError) Error() string {
	unit := e.unit
	if unit == "" {
		unit = "elements (MaxElements)"
	}
	return fmt.Sprintf("%s exceeds the limit of %d %s", e.what, e.limit, unit)
}

func (e *tooLargeError) Unwrap() error { return serving.ErrTooLarge }

// nodeError names the node where compiling failed.
type nodeError struct {
	node, op string
	err      error
}

func (e *nodeError) Error() string { return fmt.Sprintf("node %q (%s): %v", e.node, e.op, e.err) }
func (e *nodeError) Unwrap() error { return e.err }

// classify wraps a compile error in the serving error of its kind, for
// the format registered under name.
func classify(name string, err error) error {
	var u *unsupportedError
	if errors.As(err, &u) {
		return serving.Unsupported(name, err)
	}
	return serving.Corrupt(name, err)
}

// graph is a decoded GraphDef with its nodes indexed by name.
type graph struct {
	nodes []*tfpb.NodeDef
	index map[string]int
	// inputs[i] are the node indexes of node i's data inputs, in order.
	inputs [][]int
}

// decodeGraph parses the protobuf bytes of a GraphDef and resolves every
// node's data inputs. Control inputs ("^name") must name a node but are
// otherwise ignored: a frozen graph has no side effects to order.
func decodeGraph(b []byte, maxNodes int) (*graph, error) {
	var gd tfpb.GraphDef
	if err := (proto.UnmarshalOptions{RecursionLimit: 100}).Unmarshal(b, &gd); err != nil {
		return nil, fmt.Errorf("not a GraphDef: %w", err)
	}
	return newGraph(gd.GetNode(), maxNodes)
}

// newGraph indexes nodes and resolves every node's data inputs.
func newGraph(nodes []*tfpb.NodeDef, maxNodes int) (*graph, error) {
	if len(nodes) == 0 {
		return nil, fmt.Errorf("GraphDef has no nodes")
	}
	if len(nodes) > maxNodes {
		return nil, fmt.Errorf("GraphDef has %d nodes, more than the limit of %d (MaxNodes)", len(nodes), maxNodes)
	}
	g := &graph{nodes: nodes, index: make(map[string]int, len(nodes))}
	for i, n := range g.nodes {
		if n.GetName() == "" {
			return nil, fmt.Errorf("node %d has no name", i)
		}
		if _, dup := g.index[n.GetName()]; dup {
			return nil, fmt.Errorf("two nodes are named %q", n.GetName())
		}
		g.index[n.GetName()] = i
	}
	g.inputs = make([][]int, len(g.nodes))
	for i, n := range g.nodes {
		for _, s := range n.GetInput() {
			name, port, control := splitInput(s)
			j, ok := g.index[name]
			if !ok || name == "" {
				return nil, fmt.Errorf("node %q reads %q, which is not a node of the graph", n.GetName(), s)
			}
			if control {
				continue
			}
			if port != 0 {
				return nil, unsupported("node %q reads output %q of node %q: the ops this format runs have a single output", n.GetName(), s, name)
			}
			g.inputs[i] = append(g.inputs[i], j)
		}
	}
	return g, nil
}

// splitInput parses a NodeDef input: "name", "name:port" or "^name".
// A port that is not a number is kept in the name, which then names no
// node.
func splitInput(s string) (name string, port int, control bool) {
	if strings.HasPrefix(s, "^") {
		return s[1:], 0, true
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		if p, err := strconv.Atoi(s[i+1:]); err == nil && p >= 0 {
			return s[:i], p, false
		}
	}
	return s, 0, false
}

// sinks returns the nodes whose output no other node reads, in graph
// order.
func (g *graph) sinks() []int {
	read := make([]bool, len(g.nodes))
	for i, n := range g.nodes {
		for _, s := range n.GetInput() {
			name, _, _ := splitInput(s)
			if j, ok := g.index[name]; ok && j != i {
				read[j] = true
			}
		}
	}
	var out []int
	for i, r := range read {
		switch g.nodes[i].GetOp() {
		case "NoOp", "Const", "Placeholder":
			// not an output: an unused input or constant
		default:
			if !r {
				out = append(out, i)
			}
		}
	}
	return out
}

// output resolves the output node: the one named (a "name" or "name:0"),
// or else the graph's single sink.
func (g *graph) output(name string) (int, error) {
	if name != "" {
		n, port, control := splitInput(name)
		i, ok := g.index[n]
		if !ok || control || port != 0 {
			return 0, fmt.Errorf("%w: label %s=%q names no node output of the graph", serving.ErrInvalidDescriptor, LabelOutput, name)
		}
		return i, nil
	}
	s := g.sinks()
	if len(s) == 1 {
		return s[0], nil
	}
	names := make([]string, 0, 5)
	for i, j := range s {
		if i == 5 {
			names = append(names, "...")
			break
		}
		names = append(names, strconv.Quote(g.nodes[j].GetName()))
	}
	return 0, fmt.Errorf("%w: the graph has %d nodes that no other node reads (%s); name the output with label %s", serving.ErrInvalidDescriptor, len(s), strings.Join(names, ", "), LabelOutput)
}

// order returns the nodes the output depends on, each after its inputs.
// It walks the graph with an explicit stack, so a graph of any depth
// compiles without growing the goroutine stack, and refuses a cycle.
func (g *graph) order(out int) ([]int, error) {
	const (
		white = iota
		grey
		black
	)
	color := make([]uint8, len(g.nodes))
	type frame struct{ node, next int }
	stack := []frame{{node: out}}
	color[out] = grey
	var order []int
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		in := g.inputs[f.node]
		if f.next == len(in) {
			color[f.node] = black
			order = append(order, f.node)
			stack = stack[:len(stack)-1]
			continue
		}
		j := in[f.next]
		f.next++
		switch color[j] {
		case grey:
			return nil, fmt.Errorf("the graph has a cycle through node %q", g.nodes[j].GetName())
		case white:
			color[j] = grey
			stack = append(stack, frame{node: j})
		}
	}
	return order, nil
}

// placeholder is one graph input as a record feeds it.
type placeholder struct {
	node  int
	name  string
	dt    dtype
	shape []int // as declared; shape[0] is -1 when batched
	// batched is set when the leading dimension is unknown: it is the
	// batch dimension, 1 for Predict and the rows of a batch for
	// PredictBatch.
	batched bool
	perRow  int // elements one record feeds
}

// rowShape returns the placeholder's shape for a run of rows records.
func (p *placeholder) rowShape(rows int) []int {
	s := slices.Clone(p.shape)
	if p.batched {
		s[0] = rows
	}
	return s
}

// placeholders reads the Placeholder nodes among nodes, in graph order,
// and checks that a record can feed each of them.
func (g *graph) placeholders(nodes []int, limit int64) ([]placeholder, error) {
	sorted := slices.Clone(nodes)
	slices.Sort(sorted)
	var ps []placeholder
	for _, i := range sorted {
		n := g.nodes[i]
		if n.GetOp() != "Placeholder" {
			continue
		}
		p, err := readPlaceholder(i, n, limit)
		if err != nil {
			return nil, &nodeError{node: n.GetName(), op: n.GetOp(), err: err}
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func readPlaceholder(i int, n *tfpb.NodeDef, limit int64) (placeholder, error) {
	p := placeholder{node: i, name: n.GetName()}
	t := n.GetAttr()["dtype"].GetType()
	switch t {
	case tfpb.DataType_DT_FLOAT:
		p.dt = dtFloat32
	case tfpb.DataType_DT_DOUBLE:
		p.dt = dtFloat64
	default:
		return p, unsupported("a record cannot feed a placeholder of type %s: only DT_FLOAT and DT_DOUBLE placeholders are fed", protoTypeName(t))
	}
	sa, ok := n.GetAttr()["shape"]
	if !ok || sa.GetShape() == nil || sa.GetShape().GetUnknownRank() {
		return p, unsupported("a record cannot feed a placeholder of unknown shape: declare its shape when building the graph")
	}
	dims := sa.GetShape().GetDim()
	if len(dims) > maxRank {
		return p, unsupported("placeholder of rank %d (at most %d)", len(dims), maxRank)
	}
	p.shape = make([]int, len(dims))
	for k, d := range dims {
		switch size := d.GetSize(); {
		case size == -1 && k == 0:
			p.batched = true
			p.shape[0] = -1
		case size < 0:
			return p, unsupported("a record cannot feed a placeholder whose dimension %d is unknown (only the leading, batch dimension may be)", k)
		case size > int64(limit):
			return p, &tooLargeError{what: fmt.Sprintf("placeholder dimension %d of size %d", k, size), limit: limit}
		default:
			p.shape[k] = int(size)
		}
	}
	n1, err := elements(p.rowShape(1), limit)
	if err != nil {
		return p, err
	}
	if n1 == 0 {
		return p, unsupported("a record cannot feed a placeholder of shape %s: it holds no elements", shapeString(p.shape))
	}
	p.perRow = n1
	return p, nil
}
