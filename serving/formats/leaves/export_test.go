package leaves

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/modelstream/modelstream/serving"
)

// LeavesOnly loads d as a Model that leaves evaluates, for the
// differential tests, and reports whether models of d are compiled.
func LeavesOnly(d serving.Descriptor) (ref *Model, compiled bool, err error) {
	keepLeaves.Add(1)
	defer keepLeaves.Add(-1)
	sm, err := serving.Load(context.Background(), d)
	if err != nil {
		return nil, false, err
	}
	m, ok := sm.(*Model)
	if !ok {
		return nil, false, fmt.Errorf("%s loads as a %T", d.Format, sm)
	}
	c := *m
	c.flat = nil
	return &c, m.flat != nil, nil
}

// HoldsLeaves reports whether m keeps leaves' decoded trees.
func HoldsLeaves(m *Model) bool { return m.ens != nil }

// FlatBytes is the size of the arrays of m's compiled forest, 0 if it
// has none.
func FlatBytes(m *Model) int {
	f := m.flat
	if f == nil {
		return 0
	}
	return cap(f.nodes)*int(unsafe.Sizeof(node{})) + cap(f.values)*8 + cap(f.cats)*4 + cap(f.sets)*8 + cap(f.trees)*4 + cap(f.weight)*8
}

// FlatKinds counts the nodes of m's compiled forest by kind: le, notgt,
// numeric, onehot, small, bitset.
func FlatKinds(m *Model) [6]int {
	var n [6]int
	if m.flat != nil {
		for _, nd := range m.flat.nodes {
			n[nd.kind]++
		}
	}
	return n
}

// FlatThresholds returns the thresholds of m's numerical nodes.
func FlatThresholds(m *Model) []float64 {
	var th []float64
	if m.flat != nil {
		for _, nd := range m.flat.nodes {
			if nd.kind <= kindNumeric {
				th = append(th, nd.th)
			}
		}
	}
	return th
}
