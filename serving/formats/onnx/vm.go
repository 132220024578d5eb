package onnx

import (
	"fmt"

	"gorgonia.org/gorgonia"
)

// syncVM evaluates a gorgonia expression graph forward, in the calling
// goroutine.
//
// gorgonia's own machines (the tape machine gorgonnx uses by default, and
// the lisp machine) execute every op on a goroutine of their own. A panic
// there, and gorgonia ops do panic on shapes they did not expect, kills
// the whole process: no recover in the caller can reach it. A model
// server must survive a bad model, so this package runs the graph itself,
// op by op, where a deferred recover catches what goes wrong.
//
// Each op node's value is computed with Op.Do from its children's values
// and bound with UnsafeLet, which is where gorgonnx reads the outputs
// after Run. Inputs keep the values bound to them with Let. Values are
// allocated afresh on each run (no memory planning, unlike the tape
// machine): simple, and costs allocations proportional to the graph.
type syncVM struct {
	order    []*gorgonia.Node   // op nodes, children before parents
	children [][]*gorgonia.Node // the ordered operands of each op node
	vals     []gorgonia.Value
}

var _ gorgonia.VM = (*syncVM)(nil)

// newSyncVM plans the evaluation order of g.
func newSyncVM(g *gorgonia.ExprGraph) (*syncVM, error) {
	sorted, err := gorgonia.Sort(g) // roots first
	if err != nil {
		return nil, err
	}
	vm := &syncVM{}
	for i := len(sorted) - 1; i >= 0; i-- {
		n := sorted[i]
		if n.Op() == nil {
			continue // an input: its value is bound
		}
		var children []*gorgonia.Node
		it := g.From(n.ID())
		for it.Next() {
			c, ok := it.Node().(*gorgonia.Node)
			if !ok {
				return nil, fmt.Errorf("node %v has a child of type %T", n.Name(), it.Node())
			}
			children = append(children, c)
		}
		vm.order = append(vm.order, n)
		vm.children = append(vm.children, children)
	}
	return vm, nil
}

// RunAll evaluates every op node once.
func (vm *syncVM) RunAll() error {
	for i, n := range vm.order {
		children := vm.children[i]
		vm.vals = vm.vals[:0]
		for _, c := range children {
			v := c.Value()
			if v == nil {
				return fmt.Errorf("node %v: input %v has no value", n.Name(), c.Name())
			}
			vm.vals = append(vm.vals, v)
		}
		// Some ops write their result into one of their operands (gorgonnx's
		// Gemm into C, BatchNormalization and LeakyRelu into X). That
		// operand may be a weight, an input or a view shared with one, so
		// the op gets a copy.
		if k := n.Op().OverwritesInput(); k >= 0 && k < len(vm.vals) {
			c, err := gorgonia.CloneValue(vm.vals[k])
			if err != nil {
				return fmt.Errorf("op %v: copying operand %d: %w", n.Op(), k, err)
			}
			vm.vals[k] = c
		}
		out, err := n.Op().Do(vm.vals...)
		if err != nil {
			return fmt.Errorf("op %v: %w", n.Op(), err)
		}
		if err := gorgonia.UnsafeLet(n, out); err != nil {
			return fmt.Errorf("op %v: binding its result: %w", n.Op(), err)
		}
	}
	clear(vm.vals)
	return nil
}

// Reset does nothing: every RunAll recomputes every node.
func (vm *syncVM) Reset() {}

// Close does nothing: the machine holds no resources.
func (vm *syncVM) Close() error { return nil }
