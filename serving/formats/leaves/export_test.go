package leaves

// LeavesOnly returns a copy of m that leaves evaluates, and whether m
// itself evaluates with its compiled forest, for the differential tests.
func LeavesOnly(m *Model) (ref *Model, compiled bool) {
	c := *m
	c.flat = nil
	return &c, m.flat != nil
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
