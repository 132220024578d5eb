package xgboost

// This file turns a decoded document (the generic values of
// encoding/json or of decodeUBJ) into a model. The same code reads both
// encodings, so JSON and UBJSON models behave identically.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/modelstream/modelstream/serving"
)

// Limits on what a model may declare.
const (
	// maxFeatures bounds the feature count a model may declare (16 Mi).
	maxFeatures = 1 << 24
	// maxOutputs bounds the number of classes or targets.
	maxOutputs = 1 << 16
	// maxTreeDepth bounds the depth of a tree (XGBoost's own default
	// limit for depthwise growth is far below it).
	maxTreeDepth = 256
)

// errSchema is wrapped by errors about the document's structure.
var errSchema = errors.New("model document")

func schemaErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errSchema, fmt.Sprintf(format, args...))
}

// unsupportedError marks a model that decodes but cannot be run.
type unsupportedError struct{ msg string }

func (e *unsupportedError) Error() string { return e.msg }

func unsupported(format string, args ...any) error {
	return &unsupportedError{msg: fmt.Sprintf(format, args...)}
}

// decodeJSON decodes a JSON document after checking its nesting depth.
// XGBoost writes a non-finite float as a bare NaN, Infinity or
// -Infinity (a categorical split's condition is NaN), which is not
// JSON; such tokens become null, which the model reader takes as NaN,
// and only where a NaN is allowed.
func decodeJSON(b []byte) (any, error) {
	b, err := scanJSON(b)
	if err != nil {
		return nil, err
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("json: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("json: data after the document")
	}
	return v, nil
}

// nonFinite are XGBoost's spellings of non-finite floats, longest first.
var nonFinite = [...]string{"-Infinity", "Infinity", "NaN"}

// scanJSON refuses documents nested deeper than maxDepth, before
// encoding/json builds them, and replaces non-finite tokens outside
// strings with null (in a copy, made only when there are any).
func scanJSON(b []byte) ([]byte, error) {
	depth, inStr, esc := 0, false, false
	var out []byte
	last := 0 // b[last:] is not yet in out
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inStr:
			if esc {
				esc = false
			} else if c == '\\' {
				esc = true
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '[' || c == '{':
			depth++
			if depth > maxDepth {
				return nil, fmt.Errorf("json: nested deeper than %d at offset %d", maxDepth, i)
			}
		case c == ']' || c == '}':
			depth--
		case c == 'N' || c == 'I' || c == '-':
			for _, tok := range nonFinite {
				if bytes.HasPrefix(b[i:], []byte(tok)) {
					if out == nil {
						out = make([]byte, 0, len(b)+len(b)/8)
					}
					out = append(append(out, b[last:i]...), "null"...)
					i += len(tok) - 1
					last = i + 1
					break
				}
			}
		}
	}
	if out == nil {
		return b, nil
	}
	return append(out, b[last:]...), nil
}

// obj is a decoded JSON object with typed accessors that record the
// first error, so that the model reader stays linear.
type obj struct {
	m    map[string]any
	path string
	err  *error
}

func (o obj) fail(err error) {
	if *o.err == nil {
		*o.err = err
	}
}

func asObj(v any, path string, err *error) obj {
	m, ok := v.(map[string]any)
	if !ok && *err == nil {
		*err = schemaErr("%s: want an object, got %s", path, kind(v))
	}
	return obj{m: m, path: path, err: err}
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case map[string]any:
		return "an object"
	case []any, []float64, []int64:
		return "an array"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

func (o obj) has(k string) bool { _, ok := o.m[k]; return ok }

func (o obj) obj(k string) obj { return asObj(o.m[k], o.path+"."+k, o.err) }

func (o obj) str(k string) string {
	s, ok := o.m[k].(string)
	if !ok {
		o.fail(schemaErr("%s.%s: want a string, got %s", o.path, k, kind(o.m[k])))
	}
	return s
}

// num reads a number that XGBoost may write as a number or as a string
// ("5E-1").
func (o obj) num(k string) float64 {
	switch v := o.m[k].(type) {
	case float64:
		return v
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err == nil {
			return f
		}
	}
	o.fail(schemaErr("%s.%s: want a number, got %s", o.path, k, kind(o.m[k])))
	return 0
}

// integer reads a non-negative integer no larger than max.
func (o obj) integer(k string, max int) int {
	f := o.num(k)
	if *o.err == nil && (f != math.Trunc(f) || f < 0 || f > float64(max)) {
		o.fail(schemaErr("%s.%s: %v is not an integer in 0..%d", o.path, k, f, max))
		return 0
	}
	return int(f)
}

// intOr is integer with a default for an absent key.
func (o obj) intOr(k string, def, max int) int {
	if !o.has(k) {
		return def
	}
	return o.integer(k, max)
}

func (o obj) arr(k string) []any {
	a, ok := o.m[k].([]any)
	if !ok {
		o.fail(schemaErr("%s.%s: want an array, got %s", o.path, k, kind(o.m[k])))
	}
	return a
}

// floats reads a numeric array (booleans count as 0 and 1, as XGBoost
// once wrote default_left).
func (o obj) floats(k string) []float64 {
	switch a := o.m[k].(type) {
	case []float64:
		return a
	case []int64:
		out := make([]float64, len(a))
		for i, v := range a {
			out[i] = float64(v)
		}
		return out
	case []any:
		out := make([]float64, len(a))
		for i, v := range a {
			switch x := v.(type) {
			case float64:
				out[i] = x
			case bool:
				if x {
					out[i] = 1
				}
			case nil:
				out[i] = math.NaN()
			default:
				o.fail(schemaErr("%s.%s[%d]: want a number, got %s", o.path, k, i, kind(v)))
				return nil
			}
		}
		return out
	}
	o.fail(schemaErr("%s.%s: want a numeric array, got %s", o.path, k, kind(o.m[k])))
	return nil
}

// ints reads an array of integers in lo..hi.
func (o obj) ints(k string, lo, hi int) []int32 {
	f := o.floats(k)
	out := make([]int32, len(f))
	for i, v := range f {
		if v != math.Trunc(v) || v < float64(lo) || v > float64(hi) {
			o.fail(schemaErr("%s.%s[%d]: %v is not an integer in %d..%d", o.path, k, i, v, lo, hi))
			return nil
		}
		out[i] = int32(v)
	}
	return out
}

// strs reads an array of strings; an absent key is an empty array.
func (o obj) strs(k string) []string {
	if !o.has(k) {
		return nil
	}
	a := o.arr(k)
	out := make([]string, len(a))
	for i, v := range a {
		s, ok := v.(string)
		if !ok {
			o.fail(schemaErr("%s.%s[%d]: want a string, got %s", o.path, k, i, kind(v)))
			return nil
		}
		out[i] = s
	}
	return out
}

// build reads the model from a decoded document.
func build(doc any, o options) (*model, error) {
	var err error
	root := asObj(doc, "$", &err)
	learner := root.obj("learner")
	if err != nil {
		return nil, err
	}
	m := &model{margin: o.margin}
	param := learner.obj("learner_model_param")
	m.features = param.integer("num_feature", maxFeatures)
	numClass := param.intOr("num_class", 0, maxOutputs)
	numTarget := param.intOr("num_target", 1, maxOutputs)
	m.objective = learner.obj("objective").str("name")
	names := learner.strs("feature_names")
	types := learner.strs("feature_types")
	if err != nil {
		return nil, err
	}
	if m.features < 1 {
		return nil, schemaErr("num_feature is %d", m.features)
	}
	if numClass > 1 && numTarget > 1 {
		return nil, unsupported("a model with %d classes and %d targets", numClass, numTarget)
	}
	m.groups = max(numClass, numTarget, 1)
	if err := m.setObjective(); err != nil {
		return nil, err
	}
	if err := m.setBaseScore(param); err != nil {
		return nil, err
	}
	if err := m.setInputs(names, types); err != nil {
		return nil, err
	}
	gb := learner.obj("gradient_booster")
	booster := gb.str("name")
	if err != nil {
		return nil, err
	}
	m.booster = booster
	switch booster {
	case "gbtree":
		err = m.readTrees(gb.obj("model"), nil, o.iterations)
	case "dart":
		inner := gb.obj("gbtree")
		weights := gb.floats("weight_drop")
		if err == nil {
			err = m.readTrees(inner.obj("model"), weights, o.iterations)
		}
	case "gblinear":
		if o.iterations != 0 {
			return nil, fmt.Errorf("%w: label %s: a gblinear model has no trees to limit", serving.ErrInvalidDescriptor, LabelIterations)
		}
		err = m.readLinear(gb.obj("model"))
	default:
		return nil, unsupported("booster %q (want gbtree, dart or gblinear)", booster)
	}
	if err != nil {
		return nil, err
	}
	m.labels = make([]string, max(m.groups, 2))
	for i := range m.labels {
		m.labels[i] = strconv.Itoa(i)
	}
	return m, nil
}

// setInputs records the feature names and types.
func (m *model) setInputs(names, types []string) error {
	if len(names) > 0 && len(names) != m.features {
		return schemaErr("%d feature names for %d features", len(names), m.features)
	}
	if len(types) > 0 && len(types) != m.features {
		return schemaErr("%d feature types for %d features", len(types), m.features)
	}
	for i, t := range types {
		switch t {
		case "q", "float", "int", "i":
		case "c":
			m.categorical = true
		default:
			return unsupported("feature %d has type %q (want q, c, int, float or i)", i, t)
		}
	}
	if len(names) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(names))
	m.inputs = make([]serving.Input, len(names))
	for i, n := range names {
		if n == "" || seen[n] {
			return schemaErr("feature name %q is empty or repeated", n)
		}
		seen[n] = true
		m.inputs[i].Name = n
	}
	return nil
}

// readTrees reads a gbtree model (the trees of a dart model too, with
// its weights), keeping the trees of the first iterations rounds when
// iterations is not 0.
func (m *model) readTrees(g obj, weights []float64, iterations int) error {
	err := *g.err
	if err != nil {
		return err
	}
	gp := g.obj("gbtree_model_param")
	numTrees := gp.integer("num_trees", math.MaxInt32)
	parallel := gp.intOr("num_parallel_tree", 1, math.MaxInt32)
	trees := g.arr("trees")
	info := g.ints("tree_info", 0, maxOutputs)
	if *g.err != nil {
		return *g.err
	}
	if len(trees) != numTrees || len(info) != numTrees {
		return schemaErr("num_trees is %d, with %d trees and %d tree_info entries", numTrees, len(trees), len(info))
	}
	if numTrees == 0 {
		return schemaErr("no trees")
	}
	if weights != nil && len(weights) != numTrees {
		return schemaErr("%d dart weights for %d trees", len(weights), numTrees)
	}
	for i, w := range weights {
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return schemaErr("dart weight %d is %v", i, w)
		}
	}
	keep := numTrees
	if iterations > 0 {
		perRound := max(parallel, 1) * m.groups
		if rounds := numTrees / perRound; iterations > rounds || numTrees%perRound != 0 {
			return fmt.Errorf("%w: label %s=%d, but the model has %d trees in rounds of %d", serving.ErrInvalidDescriptor, LabelIterations, iterations, numTrees, perRound)
		}
		keep = iterations * perRound
	}
	m.roots = make([]int32, numTrees)
	m.groupOf = make([]int32, numTrees)
	if weights != nil {
		m.weights = make([]float32, len(weights))
		for i, w := range weights {
			m.weights[i] = float32(w)
		}
	}
	for i, t := range trees {
		if int(info[i]) >= m.groups {
			return schemaErr("tree %d is in output group %d of %d", i, info[i], m.groups)
		}
		m.groupOf[i] = info[i]
		m.roots[i] = int32(len(m.nodes))
		if err := m.readTree(asObj(t, fmt.Sprintf("trees[%d]", i), g.err)); err != nil {
			return fmt.Errorf("tree %d: %w", i, err)
		}
	}
	// Every tree is checked; only the first keep are evaluated.
	m.roots, m.groupOf = m.roots[:keep], m.groupOf[:keep]
	if m.weights != nil {
		m.weights = m.weights[:keep]
	}
	return nil
}

// Node flags, kept in the high bits of node.feature.
const (
	flagLeaf        = 1 << 31
	flagDefaultLeft = 1 << 30
	flagCategorical = 1 << 29
	featureMask     = 1<<29 - 1
)

// node is one node of the flat tree layout. A split's left child is the
// next node; right is the index of its right child in model.nodes. A
// leaf keeps its value in value.
type node struct {
	value   float32 // split threshold, or leaf value
	feature uint32  // feature index | flags
	right   uint32  // index of the right child (splits)
	cats    uint32  // index into model.catSets (categorical splits)
}

// readTree checks one tree and appends it to m.nodes in depth-first
// order, left child first.
func (m *model) readTree(t obj) error {
	tp := t.obj("tree_param")
	numNodes := tp.integer("num_nodes", math.MaxInt32)
	leafVec := tp.intOr("size_leaf_vector", 0, math.MaxInt32)
	left := t.ints("left_children", -1, math.MaxInt32)
	right := t.ints("right_children", -1, math.MaxInt32)
	feat := t.ints("split_indices", 0, math.MaxInt32)
	cond := t.floats("split_conditions")
	dflt := t.floats("default_left")
	var stype []int32
	if t.has("split_type") {
		stype = t.ints("split_type", 0, 1)
	}
	if err := *t.err; err != nil {
		return err
	}
	if leafVec > 1 {
		return unsupported("vector leaves (size_leaf_vector=%d, multi_strategy=multi_output_tree)", leafVec)
	}
	n := numNodes
	if n < 1 {
		return schemaErr("num_nodes is %d", n)
	}
	for name, l := range map[string]int{"left_children": len(left), "right_children": len(right),
		"split_indices": len(feat), "split_conditions": len(cond), "default_left": len(dflt)} {
		if l != n {
			return schemaErr("%s has %d entries for %d nodes", name, l, n)
		}
	}
	if stype != nil && len(stype) != n {
		return schemaErr("split_type has %d entries for %d nodes", len(stype), n)
	}
	cats, err := readCategories(t, n, stype)
	if err != nil {
		return err
	}
	// Walk from the root. Each node may be reached once: this refuses
	// cycles and shared subtrees, and bounds the work by n.
	visited := make([]bool, n)
	type item struct {
		id, depth int32
		parent    int32 // flat index of the parent whose right child this is, or -1
	}
	stack := []item{{id: 0, parent: -1}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		id := it.id
		if id < 0 || int(id) >= n {
			return schemaErr("child index %d of %d nodes", id, n)
		}
		if visited[id] {
			return schemaErr("node %d is reached twice (a cycle or a shared subtree)", id)
		}
		visited[id] = true
		if it.depth > maxTreeDepth {
			return unsupported("tree deeper than %d", maxTreeDepth)
		}
		if len(m.nodes) >= math.MaxInt32 {
			return unsupported("too many nodes")
		}
		flat := uint32(len(m.nodes))
		if it.parent >= 0 {
			m.nodes[it.parent].right = flat
		}
		v := cond[id]
		isCat := stype != nil && stype[id] == 1
		if math.IsNaN(v) && !isCat {
			// Only a categorical split has no condition.
			return schemaErr("node %d: split condition or leaf value is NaN", id)
		}
		if left[id] == -1 {
			if right[id] != -1 {
				return schemaErr("node %d has a right child but no left child", id)
			}
			m.nodes = append(m.nodes, node{value: float32(v), feature: flagLeaf})
			continue
		}
		if int(feat[id]) >= m.features {
			return schemaErr("node %d splits on feature %d of %d", id, feat[id], m.features)
		}
		nd := node{value: float32(v), feature: uint32(feat[id])}
		if dflt[id] != 0 {
			nd.feature |= flagDefaultLeft
		}
		if isCat {
			nd.feature |= flagCategorical
			nd.cats = uint32(len(m.catSets))
			m.catSets = append(m.catSets, cats[id])
		}
		m.nodes = append(m.nodes, nd)
		// Left is visited next, so it lands at flat+1.
		stack = append(stack, item{id: right[id], depth: it.depth + 1, parent: int32(flat)}, item{id: left[id], depth: it.depth + 1, parent: -1})
	}
	return nil
}

// readCategories reads the category sets of a tree's categorical splits:
// for each such node, the sorted categories that go right.
func readCategories(t obj, n int, stype []int32) (map[int32][]uint32, error) {
	isCat := func(i int32) bool { return stype != nil && stype[i] == 1 }
	if !slices.Contains(stype, 1) {
		return nil, nil
	}
	cats := t.floats("categories")
	nodes := t.ints("categories_nodes", 0, n-1)
	segs := t.ints("categories_segments", 0, math.MaxInt32)
	sizes := t.ints("categories_sizes", 0, math.MaxInt32)
	if err := *t.err; err != nil {
		return nil, err
	}
	if len(segs) != len(nodes) || len(sizes) != len(nodes) {
		return nil, schemaErr("%d categories_nodes, %d segments, %d sizes", len(nodes), len(segs), len(sizes))
	}
	out := make(map[int32][]uint32, len(nodes))
	// The sets may not overlap (XGBoost writes each after the previous
	// one): sets sharing categories would each be copied, so a small
	// document could ask for len(nodes)*len(cats) categories.
	total := 0
	for k, id := range nodes {
		if !isCat(id) {
			return nil, schemaErr("categories for node %d, which is not a categorical split", id)
		}
		if _, dup := out[id]; dup {
			return nil, schemaErr("node %d has two category sets", id)
		}
		lo, sz := int(segs[k]), int(sizes[k])
		if lo > len(cats) || sz > len(cats)-lo {
			return nil, schemaErr("node %d: categories %d..%d of %d", id, lo, lo+sz, len(cats))
		}
		if total += sz; total > len(cats) {
			return nil, schemaErr("the category sets hold %d categories, more than the %d listed (sets overlap)", total, len(cats))
		}
		set := make([]uint32, sz)
		for j, c := range cats[lo : lo+sz] {
			if c != math.Trunc(c) || c < 0 || c >= 1<<24 {
				return nil, schemaErr("node %d: category %v", id, c)
			}
			set[j] = uint32(c)
		}
		slices.Sort(set)
		out[id] = slices.Compact(set)
	}
	for i := range stype {
		if stype[i] == 1 {
			if _, ok := out[int32(i)]; !ok {
				// A categorical split with no category set sends every
				// valid category left; XGBoost writes it so.
				out[int32(i)] = nil
			}
		}
	}
	return out, nil
}

// readLinear reads a gblinear model.
func (m *model) readLinear(g obj) error {
	w := g.floats("weights")
	if *g.err != nil {
		return *g.err
	}
	if len(w) != (m.features+1)*m.groups {
		return schemaErr("%d weights for %d features and %d outputs", len(w), m.features, m.groups)
	}
	for i, v := range w {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return schemaErr("weight %d is %v", i, v)
		}
	}
	m.linear = make([]float32, len(w))
	for i, v := range w {
		m.linear[i] = float32(v)
	}
	return nil
}

// setBaseScore reads base_score, which XGBoost 1.x writes as "5E-1" and
// XGBoost 2.x/3.x may write as a vector "[5E-1]" or "[a,b,c]" (one
// intercept per output), and turns it into the margin added to every
// output.
func (m *model) setBaseScore(param obj) error {
	var vals []float64
	switch v := param.m["base_score"].(type) {
	case nil:
		vals = []float64{0.5}
	case float64:
		vals = []float64{v}
	case []float64:
		vals = v
	case []any, []int64:
		vals = param.floats("base_score")
	case string:
		s := strings.TrimSpace(v)
		if inner, ok := strings.CutPrefix(s, "["); ok {
			inner, ok = strings.CutSuffix(inner, "]")
			if !ok {
				return schemaErr("base_score %q", v)
			}
			for _, f := range strings.Split(inner, ",") {
				x, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
				if err != nil {
					return schemaErr("base_score %q", v)
				}
				vals = append(vals, x)
			}
		} else {
			x, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return schemaErr("base_score %q", v)
			}
			vals = []float64{x}
		}
	default:
		return schemaErr("base_score is %s", kind(v))
	}
	if *param.err != nil {
		return *param.err
	}
	if len(vals) != 1 && len(vals) != m.groups {
		return schemaErr("%d base scores for %d outputs", len(vals), m.groups)
	}
	m.base = make([]float32, m.groups)
	for g := range m.base {
		b := float64(float32(vals[min(g, len(vals)-1)]))
		z, err := m.toMargin(b)
		if err != nil {
			return err
		}
		m.base[g] = float32(z)
	}
	return nil
}
