package pmml

import (
	"math"
)

// treeNode is one compiled Node.
type treeNode struct {
	pred     pred
	kids     []*treeNode
	hasScore bool
	score    float64   // regression value, or category index
	dist     []float64 // probabilities by category (nil when none)
	counts   []float64 // ScoreDistribution record counts by category
	count    float64   // recordCount
	nsd      int       // ScoreDistribution elements
	defChild *treeNode
	// A binary split: two children whose predicates are x < v and x >= v
	// (or x <= v and x > v) on one numeric field. walk compares once
	// instead of calling both predicates; the result is the same.
	split       bool
	slot        int
	thr         float64
	orEqual     bool
	left, right *treeNode // kids[0] and kids[1] of a split
	f32         bool      // compare as float32
}

const (
	missLast = iota
	missNull
	missDefault
	missWeighted
	missAggregate
	missNone
)

type treeModel struct {
	mn         *modelNode
	root       *treeNode
	missing    int
	returnLast bool
	penalty    float64
	rootTrue   bool // the root's predicate is <True/>
	// compact holds a tree made only of binary splits and scored leaves
	// as a flat array, walked without predicates; nil for other trees. A
	// missing value falls back to walk.
	compact []compactNode
}

type compactNode struct {
	leaf        *treeNode // a classification leaf, for its distribution
	thr, val    float64
	slot        int32
	left, right int32 // -1 in a leaf
	orEqual     bool
	f32         bool
}

func (mc *modelCtx) tree() (evaluator, error) {
	mc.extra = []string{"Node"}
	n := mc.n
	tm := &treeModel{mn: mc.mn}
	switch s := n.str("missingValueStrategy", "none"); s {
	case "lastPrediction":
		tm.missing = missLast
	case "nullPrediction":
		tm.missing = missNull
	case "defaultChild":
		tm.missing = missDefault
	case "weightedConfidence":
		tm.missing = missWeighted
	case "aggregateNodes":
		tm.missing = missAggregate
	case "none":
		tm.missing = missNone
	default:
		return nil, corruptf("TreeModel missingValueStrategy %q", s)
	}
	switch s := n.str("noTrueChildStrategy", "returnNullPrediction"); s {
	case "returnNullPrediction":
	case "returnLastPrediction":
		tm.returnLast = true
	default:
		return nil, corruptf("TreeModel noTrueChildStrategy %q", s)
	}
	var err error
	if tm.penalty, err = n.num("missingValuePenalty", 1); err != nil {
		return nil, err
	}
	rn := n.one("Node")
	if rn == nil {
		return nil, corruptf("TreeModel without Node")
	}
	if tm.root, err = mc.treeNode(rn); err != nil {
		return nil, err
	}
	if p, _ := firstPredicate(rn); p != nil && p.name == "True" {
		tm.rootTrue = true
	}
	tm.root = flatten(tm.root)
	if tm.rootTrue && tm.penalty == 1 {
		tm.compact = compactTree(tm.root)
	}
	return tm, nil
}

// closeCategories pads every distribution of a classification tree to
// the model's k categories, once they are all known: the Targets' prior
// probabilities may name categories after the tree was compiled, and a
// leaf's distribution must cover each of them (with 0), or its copy
// leaves a probability slot as the previous record set it.
func (tm *treeModel) closeCategories(c *compiler, k int) error {
	var pad func(t *treeNode) error
	pad = func(t *treeNode) error {
		if t.dist != nil && len(t.dist) < k {
			// As distribution charged the values up to len(t.dist).
			if err := c.charge(2 * max(0, k-max(len(t.dist), t.nsd))); err != nil {
				return err
			}
			t.dist = append(t.dist, make([]float64, k-len(t.dist))...)
			t.counts = append(t.counts, make([]float64, k-len(t.counts))...)
		}
		for _, c := range t.kids {
			if err := pad(c); err != nil {
				return err
			}
		}
		return nil
	}
	return pad(tm.root)
}

func (mc *modelCtx) treeNode(n *node) (*treeNode, error) {
	t := &treeNode{}
	pn, err := firstPredicate(n)
	if err != nil {
		return nil, err
	}
	if t.pred, err = mc.c.pred(pn, mc.sc); err != nil {
		return nil, err
	}
	if t.count, err = n.num("recordCount", math.NaN()); err != nil {
		return nil, err
	}
	if sv, ok := n.attr("score"); ok {
		t.hasScore = true
		if mc.mn.classify {
			k, err := mc.category(sv)
			if err != nil {
				return nil, err
			}
			t.score = float64(k)
		} else if t.score, err = parseNum(sv); err != nil {
			return nil, corruptf("Node score %q is not a number", sv)
		}
	}
	var sds []*node
	var kidIDs []string
	for _, k := range n.kids {
		switch {
		case isPredicate(k.name), k.name == "Extension", k.name == "Partition":
		case k.name == "ScoreDistribution":
			sds = append(sds, k)
		case k.name == "Node":
			c, err := mc.treeNode(k)
			if err != nil {
				return nil, err
			}
			t.kids = append(t.kids, c)
			kidIDs = append(kidIDs, k.str("id", ""))
		default:
			return nil, unsupportedf("element <%s> in Node", k.name)
		}
	}
	var kidNodes []*node
	for _, k := range n.kids {
		if k.name == "Node" {
			kidNodes = append(kidNodes, k)
		}
	}
	if len(kidNodes) == 2 {
		mc.binarySplit(t, kidNodes[0], kidNodes[1])
	}
	if dc, ok := n.attr("defaultChild"); ok {
		for i, id := range kidIDs {
			if id == dc {
				t.defChild = t.kids[i]
			}
		}
		if t.defChild == nil {
			return nil, corruptf("Node defaultChild %q is not a child", dc)
		}
	}
	if len(sds) > 0 && mc.mn.classify {
		if err := mc.distribution(t, sds); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// flatten copies the tree into one slice in depth-first order, so that
// a walk reads neighbouring memory, and returns the new root.
func flatten(root *treeNode) *treeNode {
	n := 0
	var count func(t *treeNode)
	count = func(t *treeNode) {
		n++
		for _, c := range t.kids {
			count(c)
		}
	}
	count(root)
	arena := make([]treeNode, 0, n)
	moved := map[*treeNode]*treeNode{}
	var place func(t *treeNode) *treeNode
	place = func(t *treeNode) *treeNode {
		arena = append(arena, *t)
		nt := &arena[len(arena)-1]
		moved[t] = nt
		kids := make([]*treeNode, len(t.kids))
		for i, c := range t.kids {
			kids[i] = place(c)
		}
		nt.kids = kids
		return nt
	}
	nr := place(root)
	for i := range arena {
		t := &arena[i]
		if t.defChild != nil {
			t.defChild = moved[t.defChild]
		}
		if t.split {
			t.left, t.right = t.kids[0], t.kids[1]
		}
	}
	return nr
}

// compactTree returns the flat form of a tree whose inner nodes are all
// binary splits and whose leaves all have a score, or nil.
func compactTree(root *treeNode) []compactNode {
	var out []compactNode
	var add func(t *treeNode) int32
	ok := true
	add = func(t *treeNode) int32 {
		i := int32(len(out))
		out = append(out, compactNode{left: -1, right: -1})
		switch {
		case len(t.kids) == 0 && t.hasScore:
			out[i].val, out[i].leaf = t.score, t
		case t.split && len(out) < 1<<30:
			out[i].thr, out[i].slot, out[i].orEqual, out[i].f32 = t.thr, int32(t.slot), t.orEqual, t.f32
			l := add(t.left)
			r := add(t.right)
			out[i].left, out[i].right = l, r
		default:
			ok = false
		}
		return i
	}
	add(root)
	if !ok {
		return nil
	}
	return out
}

// walkCompact scores a compact tree; a missing value on the path hands
// over to walk, which applies the missing-value strategy.
func (tm *treeModel) walkCompact(s *state) result {
	nodes := tm.compact
	i := int32(0)
	for {
		n := &nodes[i]
		if n.left < 0 {
			if tm.mn.classify {
				return tm.leaf(s, n.leaf)
			}
			return result{ok: true, val: n.val}
		}
		v := s.v[n.slot]
		if v != v {
			r, _ := tm.walk(s)
			return r
		}
		if n.f32 {
			v = float64(float32(v))
		}
		if v < n.thr || (n.orEqual && v == n.thr) {
			i = n.left
		} else {
			i = n.right
		}
	}
}

// binarySplit marks t as a binary split when its children a and b test
// one numeric field against one value with complementary operators.
func (mc *modelCtx) binarySplit(t *treeNode, a, b *node) {
	pa, errA := firstPredicate(a)
	pb, errB := firstPredicate(b)
	if errA != nil || errB != nil || pa.name != "SimplePredicate" || pb.name != "SimplePredicate" {
		return
	}
	fa, _ := pa.attr("field")
	fb, _ := pb.attr("field")
	va, _ := pa.attr("value")
	vb, _ := pb.attr("value")
	oa, _ := pa.attr("operator")
	ob, _ := pb.attr("operator")
	if fa != fb {
		return
	}
	x, err1 := parseNum(va)
	y, err2 := parseNum(vb)
	if err1 != nil || err2 != nil || x != y {
		return
	}
	switch {
	case oa == "lessThan" && ob == "greaterOrEqual":
	case oa == "lessOrEqual" && ob == "greaterThan":
		t.orEqual = true
	default:
		return
	}
	f, err := mc.sc.lookup(fa)
	if err != nil || f.str {
		return
	}
	if f.f32 {
		x = float64(float32(x))
	}
	t.split, t.slot, t.thr, t.f32 = true, f.slot, x, f.f32
}

func (mc *modelCtx) distribution(t *treeNode, sds []*node) error {
	type sd struct {
		k           int
		count, prob float64
	}
	var all []sd
	total := 0.0
	haveProb := true
	for _, d := range sds {
		v, err := d.need("value")
		if err != nil {
			return err
		}
		k, err := mc.category(v)
		if err != nil {
			return err
		}
		cnt, err := d.num("recordCount", 0)
		if err != nil {
			return err
		}
		p, err := d.num("probability", math.NaN())
		if err != nil {
			return err
		}
		if math.IsNaN(p) {
			haveProb = false
		}
		total += cnt
		all = append(all, sd{k, cnt, p})
	}
	n := len(mc.mn.cats.vals)
	// Two values per category: those the document does not write out as
	// ScoreDistributions are not bounded by its size.
	if err := mc.c.charge(2 * max(0, n-len(sds))); err != nil {
		return err
	}
	t.nsd = len(sds)
	t.dist = make([]float64, n)
	t.counts = make([]float64, n)
	for _, d := range all {
		t.counts[d.k] += d.count
		switch {
		case haveProb:
			t.dist[d.k] += d.prob
		case total > 0:
			t.dist[d.k] += d.count / total
		}
	}
	if math.IsNaN(t.count) {
		t.count = total
	}
	if !t.hasScore {
		t.hasScore = true
		t.score = float64(argmax(t.dist))
	}
	return nil
}

// eval scores the tree. missingValuePenalty multiplies a
// classification's confidence (not its probabilities, which still sum to
// 1) once for each defaultChild taken and each surrogate predicate
// decided by an alternative on the way, as JPMML and pmml4s apply it.
func (tm *treeModel) eval(s *state) result {
	if tm.compact != nil {
		return tm.walkCompact(s)
	}
	s.alternatives = 0
	r, defaults := tm.walk(s)
	if n := defaults + s.alternatives; n > 0 && tm.penalty != 1 && r.ok && tm.mn.classify {
		r.penalised, r.conf = true, math.Pow(tm.penalty, float64(n))
	}
	return r
}

// walk descends the tree and returns its result and how many times it
// took a defaultChild for an unknown predicate.
func (tm *treeModel) walk(s *state) (result, int) {
	t := tm.root
	if !tm.rootTrue && t.pred(s) != tTrue {
		return result{}, 0
	}
	var last *treeNode
	misses := 0
descend:
	for {
		if t.hasScore {
			last = t
		}
		if len(t.kids) == 0 {
			return tm.leaf(s, t), misses
		}
		if t.split {
			if v := s.v[t.slot]; v == v {
				if t.f32 {
					v = float64(float32(v))
				}
				if v < t.thr || (t.orEqual && v == t.thr) {
					t = t.left
				} else {
					t = t.right
				}
				continue
			}
		}
		for _, c := range t.kids {
			switch c.pred(s) {
			case tTrue:
				t = c
				continue descend
			case tUnknown:
				switch tm.missing {
				case missLast:
					return tm.leaf(s, last), misses
				case missNull:
					return result{}, misses
				case missDefault:
					if t.defChild == nil {
						return tm.leaf(s, last), misses
					}
					t = t.defChild
					misses++
					continue descend
				case missWeighted, missAggregate:
					return tm.aggregate(s, t), misses
				}
				// missNone: an unknown predicate is false.
			}
		}
		if tm.returnLast {
			return tm.leaf(s, last), misses
		}
		return result{}, misses
	}
}

// leaf returns the prediction of node t, writing its distribution into
// the probability slots.
func (tm *treeModel) leaf(s *state, t *treeNode) result {
	if t == nil || !t.hasScore {
		return result{}
	}
	mn := tm.mn
	if !mn.classify {
		return result{ok: true, val: t.score}
	}
	p := s.v[mn.probs : mn.probs+len(mn.cats.vals)]
	if t.dist != nil {
		copy(p, t.dist)
	} else {
		clear(p)
		p[int(t.score)] = 1
	}
	return result{ok: true, val: t.score}
}

// aggregate scores the children of t that are not false, weighted by
// their record counts (weightedConfidence), or sums their leaves' record
// counts (aggregateNodes).
func (tm *treeModel) aggregate(s *state, t *treeNode) result {
	mn := tm.mn
	if !mn.classify {
		return result{}
	}
	k := len(mn.cats.vals)
	p := s.v[mn.probs : mn.probs+k]
	clear(p)
	if !tm.collect(s, t, p, 1) {
		return result{}
	}
	sum := 0.0
	for _, v := range p {
		sum += v
	}
	if sum <= 0 {
		return result{}
	}
	for i := range p {
		p[i] /= sum
	}
	return result{ok: true, val: float64(argmax(p))}
}

// collect adds to p the distribution that scoring t gives, weighted by
// w: down the first true child, and where a child is unknown, over every
// child that is not false, each weighted by its share of t's records.
func (tm *treeModel) collect(s *state, t *treeNode, p []float64, w float64) bool {
next:
	for {
		if len(t.kids) == 0 {
			return tm.add(t, p, w)
		}
		for _, c := range t.kids {
			switch c.pred(s) {
			case tTrue:
				t = c
				continue next
			case tUnknown:
				ok := false
				for _, c2 := range t.kids {
					if c2.pred(s) == tFalse {
						continue
					}
					share := 0.0
					if t.count > 0 && c2.count > 0 {
						share = c2.count / t.count
					}
					if tm.collect(s, c2, p, w*share) {
						ok = true
					}
				}
				return ok
			}
		}
		if tm.returnLast {
			return tm.add(t, p, w)
		}
		return false
	}
}

func (tm *treeModel) add(t *treeNode, p []float64, w float64) bool {
	if t.dist == nil {
		return false
	}
	for i := range p {
		if tm.missing == missAggregate {
			p[i] += t.counts[i]
		} else {
			p[i] += w * t.dist[i]
		}
	}
	return true
}
