package leaves

// This file holds the package's own evaluator of decoded tree
// ensembles. leaves parses the models; compile copies each decoded tree
// ensemble (leaves' lgEnsemble and xgEnsemble, read with reflection
// like inspect, read only) into a flat form whose nodes carry their
// missing-value routing resolved at load, and forest evaluates it. The
// sums are leaves' own, term by term: per output group, each tree's leaf
// value times the tree's weight (leaves' coef or WeightDrop), added in
// tree order to the group's start value (0, or XGBoost's BaseScore), so
// the raw scores are bit for bit what leaves' Predict returns. The sums
// are written as leaves writes them (sum += leaf * weight), so that where
// the compiler fuses a multiply and an add into one rounding (arm64,
// ppc64le, s390x and riscv64 fuse both leaves' loops and these; amd64
// fuses neither, GOAMD64=v3 included: go tool objdump, Go 1.26) both
// fuse alike. Ensembles of other kinds (XGBoost gblinear) are not
// compiled: leaves evaluates them.

import (
	"errors"
	"fmt"
	"reflect"

	lv "github.com/dmitryikh/leaves"
)

// Flags of leaves' tree nodes read only by compile (guard.go names the
// others).
const (
	flagDefaultLeft = 1 << 1
	flagMissingZero = 1 << 4
	flagMissingNaN  = 1 << 5
)

// zeroThreshold is leaves' bound of a "zero" feature value: a node with
// the missing-zero flag sends -zeroThreshold < x <= zeroThreshold its
// default way.
const zeroThreshold = 1e-35

// Node kinds of the flat form.
const (
	// kindLE goes left when x <= th, so NaN goes right.
	kindLE uint8 = iota
	// kindNotGT goes left unless x > th, so NaN goes left.
	kindNotGT
	// kindNumeric is a numerical node whose missing-value rule neither
	// comparison expresses (a zero range that disagrees with the
	// threshold, or a NaN threshold): it is decided with leaves' rule.
	kindNumeric
	// kindOneHot, kindSmall and kindBitset are leaves' categorical nodes:
	// one category, a category set in th's 32 bits, and a category set in
	// the forest's cats (its words sets[th]).
	kindOneHot
	kindSmall
	kindBitset
)

// node is one decision node of the flat form. A child is a node index
// of the forest, or ^i (negative) for leaf i of the forest's values.
type node struct {
	// th is the threshold of a numerical node, leaves' Threshold of a
	// one-hot or small categorical node (the category, or the set's
	// bits), and the index of the node's category set in the forest's
	// sets for kindBitset.
	th    float64
	feat  uint32
	left  int32
	right int32
	kind  uint8
	flags uint8 // leaves' flags, read by the kinds decided with leaves' rule
}

// forest is a compiled ensemble: trees[t] is the root of tree t (a
// node index, or ^i for a tree that is leaf i alone), weight[t] its
// weight, and tree t adds to output group t % groups.
type forest struct {
	nodes  []node
	values []float64
	cats   []uint32
	sets   [][2]uint32 // a bitset's words: cats[sets[i][0]:sets[i][1]]
	trees  []int32
	weight []float64
	start  float64 // each group's sum starts here (XGBoost's BaseScore)
	groups int
}

// maxFlatNodes bounds the nodes, leaves and category words of a forest,
// which the flat form indexes with int32.
const maxFlatNodes = 1<<31 - 1

// compile builds the flat form of e's trees, of which the first
// nEstimators rounds are used (0: all), or returns nil, nil for an
// ensemble it does not compile (XGBoost gblinear). inspect must have
// passed e: compile relies on its checks of child links and indexes.
func compile(e *lv.Ensemble, nEstimators int) (f *forest, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("leaves internals not as expected: %v", r)
		}
	}()
	s := reflect.ValueOf(e).Elem().Field(0).Elem().Elem()
	kind := s.Type().Name()
	if kind != "lgEnsemble" && kind != "xgEnsemble" {
		return nil, nil
	}
	f = &forest{groups: int(s.FieldByName("nRawOutputGroups").Int())}
	trees := s.FieldByName("Trees")
	rounds := trees.Len() / f.groups
	if nEstimators > 0 && nEstimators < rounds {
		rounds = nEstimators
	}
	n := rounds * f.groups
	f.weight = make([]float64, n)
	if kind == "lgEnsemble" {
		// leaves multiplies every tree by coef, 1 or, for a random forest,
		// 1/rounds.
		coef := 1.0
		if s.FieldByName("averageOutput").Bool() {
			coef = 1.0 / float64(rounds)
		}
		for t := range f.weight {
			f.weight[t] = coef
		}
	} else {
		f.start = s.FieldByName("BaseScore").Float()
		w := s.FieldByName("WeightDrop")
		for t := range f.weight {
			f.weight[t] = w.Index(t).Float()
		}
	}
	f.trees = make([]int32, n)
	var fields treeFields
	for t := range n {
		if f.trees[t], err = f.add(trees.Index(t), &fields); err != nil {
			return nil, fmt.Errorf("tree %d: %w", t, err)
		}
	}
	return f, nil
}

// treeFields caches the field indexes of leaves' lgTree and lgNode.
type treeFields struct {
	ok                                      bool
	nodes, values, catBounds, catThresholds int
	threshold, left, right, feature, flags  int
}

func (tf *treeFields) init(t reflect.Value) {
	if tf.ok {
		return
	}
	idx := func(typ reflect.Type, name string) int {
		sf, ok := typ.FieldByName(name)
		if !ok || len(sf.Index) != 1 {
			panic(fmt.Sprintf("%s has no field %s", typ, name))
		}
		return sf.Index[0]
	}
	tt := t.Type()
	tf.nodes, tf.values = idx(tt, "nodes"), idx(tt, "leafValues")
	tf.catBounds, tf.catThresholds = idx(tt, "catBoundaries"), idx(tt, "catThresholds")
	nt := tt.Field(tf.nodes).Type.Elem()
	tf.threshold, tf.left, tf.right = idx(nt, "Threshold"), idx(nt, "Left"), idx(nt, "Right")
	tf.feature, tf.flags = idx(nt, "Feature"), idx(nt, "Flags")
	tf.ok = true
}

var errTooLarge = errors.New("more than 2^31-1 nodes, leaves or category words in all")

// add appends the nodes and leaf values of leaves' tree t and returns
// its root.
func (f *forest) add(t reflect.Value, tf *treeFields) (int32, error) {
	tf.init(t)
	nodes, values := t.Field(tf.nodes), t.Field(tf.values)
	cb, ct := t.Field(tf.catBounds), t.Field(tf.catThresholds)
	if len(f.nodes)+nodes.Len() > maxFlatNodes || len(f.values)+values.Len() > maxFlatNodes || len(f.cats)+ct.Len() > maxFlatNodes {
		return 0, errTooLarge
	}
	leaf0, node0, cat0 := int32(len(f.values)), int32(len(f.nodes)), uint32(len(f.cats))
	for i := range values.Len() {
		f.values = append(f.values, values.Index(i).Float())
	}
	for i := range ct.Len() {
		f.cats = append(f.cats, uint32(ct.Index(i).Uint()))
	}
	if nodes.Len() == 0 {
		return ^leaf0, nil // leaves' constant tree: its first leaf
	}
	for i := range nodes.Len() {
		ln := nodes.Index(i)
		flags := uint8(ln.Field(tf.flags).Uint())
		n := node{
			th:    ln.Field(tf.threshold).Float(),
			feat:  uint32(ln.Field(tf.feature).Uint()),
			flags: flags,
		}
		// leaves' links: a leaf by index, or a node by index within the
		// tree, the right one being always the next node.
		left, right := int32(ln.Field(tf.left).Uint()), int32(i+1)
		if flags&flagLeftLeaf != 0 {
			n.left = ^(leaf0 + left)
		} else {
			n.left = node0 + left
		}
		if flags&flagRightLeaf != 0 {
			n.right = ^(leaf0 + int32(ln.Field(tf.right).Uint()))
		} else {
			n.right = node0 + right
		}
		switch {
		case flags&flagCategorical == 0:
			n.kind = numericKind(n.th, flags)
		case flags&flagCatOneHot != 0:
			n.kind = kindOneHot
		case flags&flagCatSmall != 0:
			n.kind = kindSmall
		default:
			k := int(n.th) // checked by inspect: a category set of the tree
			n.kind = kindBitset
			n.th = float64(len(f.sets))
			f.sets = append(f.sets, [2]uint32{cat0 + uint32(cb.Index(k).Uint()), cat0 + uint32(cb.Index(k+1).Uint())})
		}
		f.nodes = append(f.nodes, n)
	}
	return node0, nil
}

// numericKind resolves a numerical node's missing-value rule (leaves'
// numericalDecision) to one comparison where one expresses it: what NaN
// does (with the missing-NaN flag, go the default way; without it, be
// read as 0, which the missing-zero flag sends the default way) must be
// what the comparison does with NaN, and with the missing-zero flag the
// default way must be where the threshold sends every "zero" value.
func numericKind(th float64, flags uint8) uint8 {
	if th != th {
		return kindNumeric
	}
	defaultLeft := flags&flagDefaultLeft != 0
	nanLeft := 0.0 <= th
	if flags&(flagMissingNaN|flagMissingZero) != 0 {
		nanLeft = defaultLeft
	}
	if flags&flagMissingZero != 0 {
		// Every x with -zeroThreshold < x <= zeroThreshold goes left
		// when zeroThreshold <= th and right when th <= -zeroThreshold.
		if defaultLeft && !(zeroThreshold <= th) || !defaultLeft && !(th <= -zeroThreshold) {
			return kindNumeric
		}
	}
	if nanLeft {
		return kindNotGT
	}
	return kindLE
}

// decide is leaves' decision for the nodes no comparison expresses,
// written as leaves writes it (numericalDecision, categoricalDecision).
func (f *forest) decide(n *node, x float64) bool {
	if n.kind == kindNumeric {
		if x != x && n.flags&flagMissingNaN == 0 {
			x = 0
		}
		if n.flags&flagMissingZero != 0 && x > -zeroThreshold && x <= zeroThreshold || n.flags&flagMissingNaN != 0 && x != x {
			return n.flags&flagDefaultLeft != 0
		}
		return x <= n.th
	}
	c := int32(x)
	if c < 0 {
		return false
	} else if x != x {
		if n.flags&flagMissingNaN != 0 {
			return false
		}
		c = 0
	}
	switch n.kind {
	case kindOneHot:
		return int32(n.th) == c
	case kindSmall:
		return uint32(c) < 32 && uint32(n.th)>>uint32(c)&1 != 0
	}
	set := f.sets[int(n.th)]
	w := uint32(c) / 32
	if w >= set[1]-set[0] {
		return false
	}
	return f.cats[set[0]+w]>>(uint32(c)%32)&1 != 0
}

// leaf returns the value of the leaf that row x reaches in the tree
// rooted at i.
func (f *forest) leaf(i int32, x []float64) float64 {
	nodes := f.nodes
	for i >= 0 {
		n := &nodes[i]
		v := x[n.feat]
		var left bool
		switch n.kind {
		case kindLE:
			left = v <= n.th
		case kindNotGT:
			left = !(v > n.th)
		default:
			left = f.decide(n, v)
		}
		if left {
			i = n.left
		} else {
			i = n.right
		}
	}
	return f.values[^i]
}

// predict sets out (one value per group) to the raw scores of row x.
func (f *forest) predict(x []float64, out []float64) {
	for k := range out {
		out[k] = f.start
	}
	g := 0
	for t, root := range f.trees {
		out[g] += f.leaf(root, x) * f.weight[t]
		if g++; g == f.groups {
			g = 0
		}
	}
}

// predict1 returns the raw score of row x of a one-group forest.
func (f *forest) predict1(x []float64) float64 {
	s := f.start
	for t, root := range f.trees {
		s += f.leaf(root, x) * f.weight[t]
	}
	return s
}

// flatBlock is the largest number of rows predictBlock takes through
// each tree in turn.
const flatBlock = 64

// predictBlock sets out[r*groups+k] to the raw score of group k of
// rows[r], for up to flatBlock rows, tree by tree, so that a tree's
// nodes are read for the whole block while they are in cache. Each row's
// sums are the terms predict adds, in the same order.
func (f *forest) predictBlock(rows [][]float64, out []float64) {
	out = out[:len(rows)*f.groups]
	for k := range out {
		out[k] = f.start
	}
	g := 0
	for t, root := range f.trees {
		w := f.weight[t]
		for r, x := range rows {
			out[r*f.groups+g] += f.leaf(root, x) * w
		}
		if g++; g == f.groups {
			g = 0
		}
	}
}
