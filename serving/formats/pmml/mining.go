package pmml

import (
	"math"
)

type segment struct {
	pred   pred
	always bool // the predicate is <True/>
	// tree is set for a regression TreeModel with nothing around it (no
	// local transformations, treatments, targets or outputs), which
	// regress walks directly.
	tree   *treeModel
	model  *modelNode
	weight float64
	catMap []int // child category index -> parent category index
}

type miningModel struct {
	identity []int // the category map of segments sharing the target's categories
	mn       *modelNode
	segs     []segment
	method   string
	skipMiss bool
	// medOff is the first of one scratch slot per segment, where median
	// sorts the segments' values.
	medOff int
	// outSlots are the slots of the segments' OutputFields, which later
	// segments may read: set to missing before each evaluation, so that
	// a segment not evaluated leaves them missing rather than as an
	// earlier record left them in the pooled state.
	outSlots []int
}

func (mc *modelCtx) mining() (evaluator, error) {
	mc.extra = []string{"Segmentation"}
	n := mc.n
	sg := n.one("Segmentation")
	if sg == nil {
		return nil, unsupportedf("MiningModel without Segmentation")
	}
	mm := &miningModel{mn: mc.mn, method: sg.str("multipleModelMethod", "")}
	classify := mc.mn.classify
	switch mm.method {
	case "sum", "median", "weightedSum":
		if classify {
			return nil, unsupportedf("Segmentation %s for classification", mm.method)
		}
	case "majorityVote", "weightedMajorityVote":
		if !classify {
			return nil, unsupportedf("Segmentation %s for regression", mm.method)
		}
	case "average", "weightedAverage", "max", "selectFirst", "modelChain":
	default:
		return nil, unsupportedf("Segmentation multipleModelMethod %q", mm.method)
	}
	switch t := sg.str("missingPredictionTreatment", "continue"); t {
	case "skipSegment":
		mm.skipMiss = true
	case "continue", "returnMissing":
	default:
		return nil, corruptf("Segmentation missingPredictionTreatment %q", t)
	}
	for _, k := range sg.kids {
		switch k.name {
		case "Segment":
		case "Extension":
			continue
		default:
			return nil, unsupportedf("element <%s> in Segmentation", k.name)
		}
		seg := segment{}
		var err error
		if seg.weight, err = k.num("weight", 1); err != nil {
			return nil, err
		}
		var pn, mnode *node
		for _, kk := range k.kids {
			switch {
			case isPredicate(kk.name):
				if pn == nil {
					pn = kk
				}
			case modelElements[kk.name]:
				if mnode != nil {
					return nil, corruptf("Segment with two models")
				}
				mnode = kk
			case kk.name == "Extension", kk.name == "VariableWeight":
				if kk.name == "VariableWeight" {
					return nil, unsupportedf("element <VariableWeight>")
				}
			default:
				return nil, unsupportedf("element <%s> in Segment", kk.name)
			}
		}
		if pn == nil || mnode == nil {
			return nil, corruptf("Segment needs a predicate and a model")
		}
		if seg.pred, err = mc.c.pred(pn, mc.sc); err != nil {
			return nil, err
		}
		seg.always = pn.name == "True"
		if seg.model, err = mc.c.model(mnode, mc.sc); err != nil {
			return nil, err
		}
		if sm := seg.model; !sm.classify && len(sm.preps) == 0 && len(sm.pre) == 0 && sm.target == nil && len(sm.outs) == 0 {
			seg.tree, _ = sm.core.(*treeModel)
		}
		if classify && seg.model.classify {
			if seg.catMap, err = mm.catMap(mc, seg.model.cats); err != nil {
				return nil, err
			}
		}
		if classify && !seg.model.classify && mm.method != "modelChain" && mm.method != "selectFirst" {
			return nil, corruptf("a classification Segmentation over a regression model")
		}
		if !classify && seg.model.classify && mm.method != "modelChain" {
			return nil, corruptf("a regression Segmentation over a classification model")
		}
		mm.segs = append(mm.segs, seg)
		for _, o := range seg.model.outs {
			mm.outSlots = append(mm.outSlots, o.slot)
		}
	}
	if len(mm.segs) == 0 {
		return nil, corruptf("Segmentation without Segment")
	}
	if mm.method == "median" {
		mm.medOff = mc.c.slots(len(mm.segs))
	}
	if mm.method == "modelChain" && classify && !mm.segs[len(mm.segs)-1].model.classify {
		return nil, corruptf("a classification model chain ending in a regression model")
	}
	return mm, nil
}

// catMap maps a segment's categories to the mining model's. Segments
// whose categories are the target's own (the usual case: every tree of a
// forest names the same target) share one identity map.
func (mm *miningModel) catMap(mc *modelCtx, cs *catSet) ([]int, error) {
	own := mc.mn.cats
	if !own.open && len(cs.vals) == len(own.vals) && len(cs.vals) > 0 && &cs.vals[0] == &own.vals[0] {
		if mm.identity == nil {
			if err := mc.c.charge(len(cs.vals)); err != nil {
				return nil, err
			}
			mm.identity = make([]int, len(cs.vals))
			for i := range mm.identity {
				mm.identity[i] = i
			}
		}
		return mm.identity, nil
	}
	if err := mc.c.charge(len(cs.labels)); err != nil {
		return nil, err
	}
	m := make([]int, len(cs.labels))
	for i, l := range cs.labels {
		var err error
		if m[i], err = mc.category(l); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (mm *miningModel) eval(s *state) result {
	mn := mm.mn
	for _, slot := range mm.outSlots {
		s.v[slot] = math.NaN()
	}
	switch mm.method {
	case "selectFirst":
		for i := range mm.segs {
			sg := &mm.segs[i]
			if sg.always || sg.pred(s) == tTrue {
				return mm.adopt(s, sg, sg.model.eval(s))
			}
		}
		return result{}
	case "modelChain":
		var r result
		var last *segment
		for i := range mm.segs {
			sg := &mm.segs[i]
			if sg.always || sg.pred(s) == tTrue {
				r, last = sg.model.eval(s), sg
			}
		}
		if last == nil {
			return result{}
		}
		return mm.adopt(s, last, r)
	}
	if mn.classify {
		return mm.classify(s)
	}
	return mm.regress(s)
}

// adopt returns a segment's result as the mining model's own.
func (mm *miningModel) adopt(s *state, sg *segment, r result) result {
	if !r.ok {
		return r
	}
	if sg.model.classify != mm.mn.classify {
		// A regression answered by a classification (or the reverse):
		// its value is a category index, not an answer.
		return result{}
	}
	if !mm.mn.classify {
		return r
	}
	p := s.v[mm.mn.probs : mm.mn.probs+len(mm.mn.cats.vals)]
	clear(p)
	for i, j := range sg.catMap {
		p[j] = s.v[sg.model.probs+i]
	}
	return result{ok: true, val: float64(sg.catMap[int(r.val)]), penalised: r.penalised, conf: r.conf}
}

func (mm *miningModel) regress(s *state) result {
	var sum, wsum, best float64
	n := 0
	best = math.Inf(-1)
	var vals []float64
	if mm.method == "median" {
		vals = s.v[mm.medOff : mm.medOff : mm.medOff+len(mm.segs)]
	}
	for i := range mm.segs {
		sg := &mm.segs[i]
		if !sg.always && sg.pred(s) != tTrue {
			continue
		}
		var r result
		if sg.tree != nil {
			if sg.tree.compact != nil {
				r = sg.tree.walkCompact(s)
			} else {
				r, _ = sg.tree.walk(s)
			}
		} else {
			r = sg.model.eval(s)
		}
		if !r.ok || r.val != r.val {
			if mm.skipMiss {
				continue
			}
			return result{}
		}
		n++
		switch mm.method {
		case "sum", "average":
			sum += r.val
		case "weightedSum", "weightedAverage":
			sum += sg.weight * r.val
			wsum += sg.weight
		case "max":
			best = math.Max(best, r.val)
		case "median":
			vals = append(vals, r.val)
		}
	}
	if n == 0 {
		return result{}
	}
	switch mm.method {
	case "average":
		sum /= float64(n)
	case "weightedAverage":
		sum /= wsum
	case "max":
		sum = best
	case "median":
		sum = median(vals)
	}
	return result{ok: true, val: sum}
}

func (mm *miningModel) classify(s *state) result {
	mn := mm.mn
	p := s.v[mn.probs : mn.probs+len(mn.cats.vals)]
	clear(p)
	total := 0.0
	n := 0
	bestConf := math.Inf(-1)
	for i := range mm.segs {
		sg := &mm.segs[i]
		if !sg.always && sg.pred(s) != tTrue {
			continue
		}
		r := sg.model.eval(s)
		if !r.ok {
			if mm.skipMiss {
				continue
			}
			return result{}
		}
		n++
		cp := s.v[sg.model.probs : sg.model.probs+len(sg.catMap)]
		switch mm.method {
		case "majorityVote":
			p[sg.catMap[int(r.val)]]++
			total++
		case "weightedMajorityVote":
			p[sg.catMap[int(r.val)]] += sg.weight
			total += sg.weight
		case "average":
			for i, j := range sg.catMap {
				p[j] += cp[i]
			}
			total++
		case "weightedAverage":
			for i, j := range sg.catMap {
				p[j] += sg.weight * cp[i]
			}
			total += sg.weight
		case "max":
			if c := cp[int(r.val)]; c > bestConf {
				bestConf = c
				clear(p)
				for i, j := range sg.catMap {
					p[j] = cp[i]
				}
			}
		}
	}
	if n == 0 {
		return result{}
	}
	if mm.method != "max" && total > 0 {
		for i := range p {
			p[i] /= total
		}
	}
	return result{ok: true, val: float64(argmax(p))}
}
