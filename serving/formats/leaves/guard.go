package leaves

// This file holds the checks made around leaves' decoders. leaves trusts
// its input: it allocates whatever a length field says, indexes slices
// with numbers read from the file and, for a malformed tree, can build a
// node graph with a cycle that makes prediction loop forever. Panics are
// recovered in load, but an allocation of terabytes or an endless loop
// cannot be, so the scanners below reject such bytes before leaves reads
// them, and inspect verifies the decoded trees afterwards.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	lv "github.com/dmitryikh/leaves"

	"github.com/modelstream/modelstream/serving"
)

// lgHeader is what the scanners learn about a LightGBM model.
type lgHeader struct {
	objective     string
	averageOutput bool
	version       string // "v2", "v3" or "v4"; empty in JSON dumps
	// versionLine is the offset of the header's version line, which is
	// rewritten for leaves when the model is v4.
	versionLine  int
	featureNames []string
	featureInfos []string
	catParam     string // the value of the [categorical_feature: ...] parameter
	pandasCats   string // the JSON after "pandas_categorical:"
	// jsonCats are the categorical features of a JSON dump, which lists
	// category values in their feature_infos; nil for a text model.
	jsonCats []int
}

// scanLightGBMText reads the header block of a LightGBM text model
// (objective, version, feature names and infos), the categorical
// parameter and the pandas categories after the trees; checks that the
// trees together declare no more leaves than the model has bytes, since
// leaves allocates, and keeps, room for every declared leaf; refuses linear trees (is_linear=1), whose
// leaf models leaves would silently ignore; and checks that the "end of
// trees" line LightGBM writes after the last tree is present (and "end
// of parameters" when a "parameters:" section starts), so that a
// truncated model is refused even where leaves would read the trees
// that survived.
func scanLightGBMText(b []byte) (lgHeader, error) {
	h := lgHeader{versionLine: -1}
	header, end, params, endParams := true, false, false, false
	leaves := 0 // declared by the trees so far
	tree := -1  // the tree being read
	trees := 0  // the Tree= lines
	sizes := -1 // the entries of the header's tree_sizes
	var left, right, thresholds, decisions, bounds []byte
	numLeaves, values := 0, 0 // the tree's num_leaves and leaf_value entries
	catWords := 0             // category set words the trees' nodes use so far
	endTree := func() error {
		if tree < 0 {
			return nil
		}
		// leaves allocates for num_leaves (about 33 bytes a leaf) after
		// reading the tree's lines, which LightGBM writes with one leaf
		// value a leaf.
		if numLeaves > values {
			return serving.Corrupt(FormatLightGBM, fmt.Errorf("tree %d: num_leaves=%d with %d leaf values", tree, numLeaves, values))
		}
		if err := checkLGLinks(left, right); err != nil {
			return serving.Corrupt(FormatLightGBM, fmt.Errorf("tree %d: %w", tree, err))
		}
		// leaves copies a categorical node's category set into the tree
		// for each node that uses it: nodes sharing one large set made a
		// 46 kB model take 418 MB. The words the nodes use, all trees
		// together, may be no more than the model has bytes.
		if catWords += lgCatWords(thresholds, decisions, bounds); catWords > len(b) {
			return serving.Corrupt(FormatLightGBM, fmt.Errorf("tree %d: the categorical splits so far use %d category set words in a %d-byte model", tree, catWords, len(b)))
		}
		left, right, thresholds, decisions, bounds, numLeaves, values = nil, nil, nil, nil, nil, 0, 0
		return nil
	}
	for off := 0; off < len(b); {
		lineStart := off
		line := b[off:]
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line, off = line[:i], off+i+1
		} else {
			off = len(b)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			header = false
			continue
		}
		switch string(line) {
		case "end of trees":
			end = true
			if err := endTree(); err != nil {
				return h, err
			}
			tree = -1
		case "parameters:":
			params = true
		case "end of parameters":
			endParams = true
		}
		if v, ok := bytes.CutPrefix(line, []byte("pandas_categorical:")); ok && endParams {
			h.pandasCats = string(v)
			continue
		}
		if v, ok := bytes.CutPrefix(line, []byte("[categorical_feature:")); ok && params && !endParams {
			h.catParam = string(bytes.TrimSpace(bytes.TrimSuffix(v, []byte("]"))))
			continue
		}
		key, val, _ := bytes.Cut(line, []byte("="))
		switch {
		case header && string(key) == "objective":
			h.objective = string(val)
		case header && string(key) == "average_output":
			h.averageOutput = true
		case header && string(key) == "version":
			h.version, h.versionLine = string(val), lineStart
		case header && string(key) == "feature_names":
			h.featureNames = strings.Fields(string(val))
		case header && string(key) == "feature_infos":
			h.featureInfos = strings.Fields(string(val))
		case string(key) == "num_leaves":
			// leaves keeps room for every leaf a tree declares: the trees
			// together may declare no more leaves than the model has bytes.
			n, err := strconv.Atoi(string(val))
			if err == nil && n > 0 {
				if tree >= 0 {
					numLeaves = n
				}
				if leaves += n; n > len(b) || leaves > len(b) {
					return h, serving.Corrupt(FormatLightGBM, fmt.Errorf("num_leaves=%d (%d leaves declared so far) in a %d-byte model", n, leaves, len(b)))
				}
			}
		case !end && string(key) == "Tree":
			if err := endTree(); err != nil {
				return h, err
			}
			tree++
			trees++
		case header && string(key) == "tree_sizes":
			sizes = bytes.Count(val, []byte(" ")) + 1 // as leaves splits it
		case tree >= 0 && string(key) == "leaf_value":
			values = bytes.Count(val, []byte(" ")) + 1
		case tree >= 0 && string(key) == "threshold":
			thresholds = val
		case tree >= 0 && string(key) == "decision_type":
			decisions = val
		case tree >= 0 && string(key) == "cat_boundaries":
			bounds = val
		case tree >= 0 && string(key) == "left_child":
			left = val
		case tree >= 0 && string(key) == "right_child":
			right = val
		case string(key) == "is_linear" && string(val) != "0":
			return h, serving.Unsupported(FormatLightGBM, errors.New("linear trees (linear_tree=true): leaves would ignore their leaf models"))
		}
	}
	if !end {
		return h, serving.Corrupt(FormatLightGBM, errors.New(`truncated: no "end of trees" line`))
	}
	if params && !endParams {
		return h, serving.Corrupt(FormatLightGBM, errors.New(`truncated: no "end of parameters" line`))
	}
	// leaves takes the tree count from tree_sizes and allocates for
	// that many trees (about 100 bytes each) before reading them.
	if sizes >= 0 && sizes != trees {
		return h, serving.Corrupt(FormatLightGBM, fmt.Errorf("tree_sizes lists %d trees, the model has %d", sizes, trees))
	}
	switch h.version {
	case "v2", "v3", "v4":
	case "":
		return h, serving.Corrupt(FormatLightGBM, errors.New("no version line in the header"))
	default:
		return h, serving.Unsupported(FormatLightGBM, fmt.Errorf("LightGBM model version %q (this package reads v2, v3 and v4)", h.version))
	}
	return h, nil
}

// checkLGLinks checks the child links of a LightGBM text tree (its
// left_child and right_child lines): walked from the root, each node
// must be reached once, through links in range. leaves builds its trees
// by such a walk and does not build a node met a second time, leaving
// the link to it as it was: for a right link that means the next node
// built, so a node with two parents made a tree that loaded and answered
// for another tree. A negative link is a leaf. Lines leaves cannot
// parse are left to leaves.
func checkLGLinks(left, right []byte) error {
	l, r := lgInts(left, 32), lgInts(right, 32)
	if l == nil || r == nil || len(l) != len(r) {
		return nil
	}
	return walkTree(len(l), func(i int) (int64, int64, bool) { return l[i], r[i], false })
}

// lgCatWords returns the number of category set words the categorical
// nodes of a LightGBM text tree use, counting a set once for each node
// that uses it, from the tree's threshold, decision_type and
// cat_boundaries lines; 0 for lines leaves cannot read either.
func lgCatWords(thresholds, decisions, bounds []byte) int {
	dt, cb := lgInts(decisions, 32), lgInts(bounds, 64)
	th := bytes.Fields(thresholds)
	if dt == nil || len(th) != len(dt) {
		return 0
	}
	words := 0
	for i, d := range dt {
		if d&1 == 0 {
			continue
		}
		v, err := strconv.ParseFloat(string(th[i]), 64)
		if err != nil || !(v >= 0) || v+1 >= float64(len(cb)) {
			continue // leaves refuses it
		}
		k := int(v)
		if w := cb[k+1] - cb[k]; w > 0 {
			words += int(w)
		}
	}
	return words
}

// lgInts parses a line of integers of the given bit size, or returns
// nil.
func lgInts(b []byte, bits int) []int64 {
	f := bytes.Fields(b)
	out := make([]int64, len(f))
	for i, s := range f {
		v, err := strconv.ParseInt(string(s), 10, bits)
		if err != nil {
			return nil
		}
		out[i] = v
	}
	return out
}

// walkTree walks a tree of n nodes from node 0 and fails unless every
// node it reaches is reached once through a link in 1..n-1. children
// returns a node's links, negative for a leaf of LightGBM, or says the
// node is itself a leaf (XGBoost).
func walkTree(n int, children func(i int) (left, right int64, leaf bool)) error {
	if n == 0 {
		return nil
	}
	seen := make([]bool, n)
	stack := []int{0}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		l, r, leaf := children(i)
		if leaf {
			continue
		}
		for _, c := range [2]int64{l, r} {
			switch {
			case c < 0:
			case c == 0 || c >= int64(n):
				return fmt.Errorf("node %d: child %d out of 1..%d", i, c, n-1)
			case seen[c]:
				return fmt.Errorf("node %d is reached twice (a node with two parents, or a cycle)", c)
			default:
				seen[c] = true
				stack = append(stack, int(c))
			}
		}
	}
	return nil
}

// forLeaves returns the model bytes leaves reads: a v4 model, which
// LightGBM 4.x writes in the layout of v3 (its trees add nothing leaves
// reads, and linear trees are refused by the scan), gets its version
// line rewritten to v3 in a copy.
func (h lgHeader) forLeaves(b []byte) []byte {
	if h.version != "v4" || h.versionLine < 0 {
		return b
	}
	c := bytes.Clone(b)
	at := h.versionLine + bytes.Index(c[h.versionLine:], []byte("v4"))
	c[at+1] = '3'
	return c
}

// inputs names a LightGBM model's inputs from its feature_names, with the
// categories of pandas categorical columns (pandas_categorical, in the
// order of the pandas codes LightGBM was trained on) on the features
// that hold them. A model without names has no inputs. Categories are
// attached only where the categorical features can be told apart (the
// categorical_feature parameter, or else the feature infos) and their
// count matches; otherwise categorical features read their codes as
// numbers.
func (h lgHeader) inputs(features int, format string) ([]serving.Input, error) {
	if len(h.featureNames) == 0 {
		return nil, nil
	}
	if len(h.featureNames) != features {
		return nil, serving.Corrupt(format, fmt.Errorf("%d feature names for %d features", len(h.featureNames), features))
	}
	in := make([]serving.Input, features)
	seen := make(map[string]bool, features)
	for i, n := range h.featureNames {
		if seen[n] {
			return nil, serving.Corrupt(format, fmt.Errorf("feature name %q repeated", n))
		}
		seen[n] = true
		in[i].Name = n
	}
	cats, err := parsePandasCategorical(h.pandasCats)
	if err != nil {
		return nil, serving.Corrupt(format, err)
	}
	if len(cats) == 0 {
		return in, nil
	}
	idx := h.categoricalFeatures(features)
	if len(idx) != len(cats) {
		return in, nil
	}
	for k, i := range idx {
		in[i].Categories = cats[k]
	}
	return in, nil
}

// categoricalFeatures lists the indexes of the categorical features, in
// ascending order: from the categorical_feature parameter when it is a
// list of indexes, or else from the feature infos, where LightGBM writes
// a categorical feature's categories ("-1:3:8") instead of a range
// ("[0:1]"). For a JSON dump, they are the features whose feature_infos
// list values.
func (h lgHeader) categoricalFeatures(features int) []int {
	if h.jsonCats != nil {
		return h.jsonCats
	}
	var idx []int
	if h.catParam != "" {
		for _, f := range strings.Split(h.catParam, ",") {
			i, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || i < 0 || i >= features {
				idx = nil
				break
			}
			idx = append(idx, i)
		}
		if idx != nil {
			slices.Sort(idx)
			return slices.Compact(idx)
		}
	}
	if len(h.featureInfos) != features {
		return nil
	}
	for i, f := range h.featureInfos {
		if !strings.HasPrefix(f, "[") && f != "none" {
			idx = append(idx, i)
		}
	}
	return idx
}

// parsePandasCategorical reads LightGBM's pandas_categorical: null, or a
// JSON list with the list of category values of each pandas categorical
// column. Values are strings or numbers; numbers keep their JSON text.
func parsePandasCategorical(s string) ([][]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "null" {
		return nil, nil
	}
	var raw [][]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("pandas_categorical: %w", err)
	}
	out := make([][]string, len(raw))
	for k, col := range raw {
		out[k] = make([]string, len(col))
		for j, v := range col {
			var str string
			if json.Unmarshal(v, &str) == nil {
				out[k][j] = str
			} else {
				out[k][j] = string(bytes.TrimSpace(v))
			}
		}
	}
	return out, nil
}

// scanLightGBMJSON reads the objective, version and feature names of a
// LightGBM JSON dump, checks its declared leaf counts against its size,
// and refuses dumps of linear trees, whose leaf models leaves would
// ignore.
func scanLightGBMJSON(b []byte) (lgHeader, error) {
	var doc struct {
		Version       string   `json:"version"`
		Objective     string   `json:"objective"`
		AverageOutput bool     `json:"average_output"`
		FeatureNames  []string `json:"feature_names"`
		FeatureInfos  map[string]struct {
			Values []json.RawMessage `json:"values"`
		} `json:"feature_infos"`
		PandasCats json.RawMessage `json:"pandas_categorical"`
		Trees      []struct {
			NumLeaves int64           `json:"num_leaves"`
			Structure json.RawMessage `json:"tree_structure"`
		} `json:"tree_info"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return lgHeader{}, serving.Corrupt(FormatLightGBMJSON, err)
	}
	if doc.AverageOutput {
		return lgHeader{}, serving.Unsupported(FormatLightGBMJSON, errors.New("random forest (average_output) JSON dumps are not averaged by leaves; publish the text model as format "+FormatLightGBM))
	}
	// leaves keeps room for every leaf a tree declares: the trees together
	// may declare no more leaves than the dump has bytes.
	var leaves int64
	for i, t := range doc.Trees {
		if t.NumLeaves > 0 {
			leaves += t.NumLeaves
		}
		if t.NumLeaves > int64(len(b)) || leaves > int64(len(b)) {
			return lgHeader{}, serving.Corrupt(FormatLightGBMJSON, fmt.Errorf("tree %d: num_leaves=%d (%d leaves declared so far) in a %d-byte model", i, t.NumLeaves, leaves, len(b)))
		}
		// leaves allocates for num_leaves (about 40 bytes a leaf)
		// whatever the tree holds: a tree may declare no more leaves than
		// it has leaf values (a "leaf_value" key cannot occur inside a
		// JSON string, whose quotes are escaped).
		if n := bytes.Count(t.Structure, []byte(`"leaf_value"`)); t.NumLeaves > int64(n) {
			return lgHeader{}, serving.Corrupt(FormatLightGBMJSON, fmt.Errorf("tree %d: num_leaves=%d with %d leaf values", i, t.NumLeaves, n))
		}
	}
	switch doc.Version {
	case "v2", "v3", "v4":
	default:
		return lgHeader{}, serving.Unsupported(FormatLightGBMJSON, fmt.Errorf("LightGBM dump version %q (this package reads v2, v3 and v4)", doc.Version))
	}
	if w, limit := jsonParseWork(b), jsonParseBudget(len(b)); w > limit {
		return lgHeader{}, serving.Unsupported(FormatLightGBMJSON, fmt.Errorf("trees nested too deep: leaves would parse %d bytes of this %d-byte dump (the limit is %d); publish the text model as format %s, which it reads in one pass", w, len(b), limit, FormatLightGBM))
	}
	if err := jsonCategorySets(b); err != nil {
		return lgHeader{}, serving.Corrupt(FormatLightGBMJSON, err)
	}
	if hasKey(b, "leaf_coeff") {
		return lgHeader{}, serving.Unsupported(FormatLightGBMJSON, errors.New("linear trees (linear_tree=true): leaves would ignore their leaf models"))
	}
	// DumpModel writes the category values of a categorical feature in
	// its feature_infos, and an empty list for a numeric one.
	cats := []int{}
	for i, n := range doc.FeatureNames {
		if len(doc.FeatureInfos[n].Values) > 0 {
			cats = append(cats, i)
		}
	}
	return lgHeader{objective: doc.Objective, version: doc.Version, versionLine: -1, featureNames: doc.FeatureNames, pandasCats: string(doc.PandasCats), jsonCats: cats}, nil
}

// jsonParseWork returns the bytes leaves' JSON decoder reads to build
// the trees of the dump b, to within a small factor: it unmarshals each
// node's whole subtree again to read the node, so it reads every byte
// once for each object around it, which makes a deep tree cost the
// square of its size (a chain 9,000 nodes deep, 2.2 MB, took over 3
// minutes to load on a busy 2-core machine). The sum counts every byte
// of b once for each object it is in; b must be valid JSON (checked
// before).
func jsonParseWork(b []byte) int64 {
	var work, depth int64
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{':
			depth++
		case '}':
			depth--
		case '"':
			// A string: skip to its closing quote, counting its bytes.
			j := i + 1
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			work += int64(j-i) * depth
			i = j
		}
		work += depth
	}
	return work
}

// jsonParseBudget bounds jsonParseWork for a dump of n bytes: 64 times
// its size, plus 16 MiB. A dump of balanced trees reads each byte about
// as many times as its trees are deep: the LightGBM dumps of this
// package's and leaves' test data, 3 to 9 times.
func jsonParseBudget(n int) int64 { return 64*int64(n) + 1<<24 }

// jsonCategorySets checks the category sets of a dump's categorical
// splits ("threshold":"1||4||9"), for which leaves allocates a bitset of
// one bit per category up to the largest one, twice: the words of all
// the sets together may be no more than the dump has bytes, as in a
// text model, which writes every word out. A set of one category takes
// no bitset.
func jsonCategorySets(b []byte) error {
	var words int64
	for rest := b; ; {
		i := bytes.Index(rest, []byte(`"threshold"`))
		if i < 0 {
			return nil
		}
		rest = bytes.TrimLeft(rest[i+len(`"threshold"`):], " \t\r\n")
		if len(rest) == 0 || rest[0] != ':' {
			continue
		}
		rest = bytes.TrimLeft(rest[1:], " \t\r\n")
		if len(rest) == 0 || rest[0] != '"' {
			continue
		}
		var s string
		dec := json.NewDecoder(bytes.NewReader(rest))
		if dec.Decode(&s) != nil {
			continue // leaves reports it
		}
		rest = rest[dec.InputOffset():]
		tokens := strings.Split(s, "||")
		if len(tokens) < 2 {
			continue
		}
		top := int64(-1)
		for _, t := range tokens {
			if v, err := strconv.ParseInt(t, 10, 64); err == nil && v > top {
				top = v
			}
		}
		if top < 0 {
			continue
		}
		if words += top/32 + 1; words > int64(len(b)) {
			return fmt.Errorf("categorical split on categories up to %d: %d bitset words in all in a %d-byte dump", top, words, len(b))
		}
	}
}

// hasKey reports whether the JSON text b has an object key named k (the
// string followed by a colon).
func hasKey(b []byte, k string) bool {
	q := []byte(`"` + k + `"`)
	for {
		i := bytes.Index(b, q)
		if i < 0 {
			return false
		}
		b = bytes.TrimLeft(b[i+len(q):], " \t\r\n")
		if len(b) > 0 && b[0] == ':' {
			return true
		}
	}
}

// jsonForLeaves returns the dump bytes leaves reads: leaves accepts only
// version "v2", and the dumps of LightGBM 3.x and 4.x (v3, v4) keep the
// fields it reads, so their top-level version is rewritten to v2 in a
// copy.
func jsonForLeaves(b []byte, version string) ([]byte, error) {
	if version == "v2" {
		return b, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, serving.Corrupt(FormatLightGBMJSON, errors.New("not a JSON object"))
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, serving.Corrupt(FormatLightGBMJSON, err)
		}
		start := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, serving.Corrupt(FormatLightGBMJSON, err)
		}
		if key != "version" {
			continue
		}
		end := int(dec.InputOffset())
		i := bytes.Index(b[start:end], []byte(version))
		if i < 0 {
			break
		}
		c := bytes.Clone(b)
		c[int(start)+i+1] = '2'
		return c, nil
	}
	return nil, serving.Corrupt(FormatLightGBMJSON, errors.New("no top-level version"))
}

// xgHeader is what scanXGBoost learns about an XGBoost binary model.
type xgHeader struct {
	objective string
	booster   string
}

// Sizes of the fixed records of the legacy XGBoost binary format, as
// leaves reads them (little endian, no padding).
const (
	xgLearnerParamSize  = 4*5 + 29*4 // base_score, num_feature, num_class, 2 flags, reserved
	xgGBTreeParamSize   = 4*4 + 8 + 4*2 + 32*4
	xgTreeParamSize     = 4*6 + 31*4
	xgNodeSize          = 4 * 5
	xgNodeStatSize      = 4 * 4
	xgGBLinearParamSize = 4*2 + 32*4
)

// xgReader is a bounds-checked cursor over an XGBoost binary model.
type xgReader struct {
	b   []byte
	off int
	err error
}

func (r *xgReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = serving.Corrupt(FormatXGBoost, fmt.Errorf(format, args...))
	}
}

// take returns the next n bytes, or nil after recording an error.
func (r *xgReader) take(n uint64, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)-r.off) {
		r.fail("truncated: %s needs %d bytes at offset %d, %d left", what, n, r.off, len(r.b)-r.off)
		return nil
	}
	p := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return p
}

func (r *xgReader) u64(what string) uint64 {
	if p := r.take(8, what); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

// vector skips a length-prefixed vector of elements of the given size.
func (r *xgReader) vector(elem uint64, what string) []byte {
	n := r.u64(what)
	if r.err == nil && n > uint64(len(r.b)-r.off)/elem {
		r.fail("truncated: %s declares %d elements, %d bytes left", what, n, len(r.b)-r.off)
		return nil
	}
	return r.take(n*elem, what)
}

// scanXGBoost walks the whole structure leaves will read and checks every
// count and length against the bytes actually present, every tree's
// links (walkTree), and that base_score is finite.
func scanXGBoost(b []byte) (xgHeader, error) {
	var h xgHeader
	r := &xgReader{b: b}
	if p := r.take(xgLearnerParamSize, "learner parameters"); p != nil {
		// leaves adds base_score to every margin: NaN or infinite, the
		// model answers the same for every row (package xgboost refuses
		// it in JSON and UBJSON models too).
		if base := float64(math.Float32frombits(binary.LittleEndian.Uint32(p))); math.IsNaN(base) || math.IsInf(base, 0) {
			r.fail("base_score is %v", base)
		}
	}
	h.objective = string(r.vector(1, "objective name"))
	h.booster = string(r.vector(1, "booster name"))
	switch h.booster {
	case "gbtree", "dart":
		p := r.take(xgGBTreeParamSize, "gbtree parameters")
		if p == nil {
			break
		}
		nTrees := int32(binary.LittleEndian.Uint32(p))
		if nTrees < 0 || int(nTrees) > (len(b)-r.off)/xgTreeParamSize {
			r.fail("num_trees=%d does not fit in %d bytes", nTrees, len(b)-r.off)
			break
		}
		for i := int32(0); i < nTrees && r.err == nil; i++ {
			tp := r.take(xgTreeParamSize, "tree parameters")
			if tp == nil {
				break
			}
			nNodes := int32(binary.LittleEndian.Uint32(tp[4:]))
			sizeLeafVector := int32(binary.LittleEndian.Uint32(tp[20:]))
			if nNodes < 0 {
				r.fail("tree %d: num_nodes=%d", i, nNodes)
				break
			}
			nodes := r.take(uint64(nNodes)*xgNodeSize, "tree nodes")
			r.take(uint64(nNodes)*xgNodeStatSize, "tree node statistics")
			if r.err == nil && nNodes > 1 {
				// leaves reads a tree of one node as a leaf, whatever its
				// links; otherwise a node whose left link is -1 is a leaf.
				err := walkTree(int(nNodes), func(i int) (int64, int64, bool) {
					nd := nodes[i*xgNodeSize:]
					l := int32(binary.LittleEndian.Uint32(nd[4:]))
					return int64(l), int64(int32(binary.LittleEndian.Uint32(nd[8:]))), l == -1
				})
				if err != nil {
					r.fail("tree %d: %v", i, err)
				}
			}
			if sizeLeafVector > 0 {
				r.vector(4, "leaf vector")
			}
		}
		if nTrees > 0 {
			r.take(uint64(nTrees)*4, "tree info")
		}
		if h.booster == "dart" {
			r.vector(4, "dart weights")
		}
	case "gblinear":
		r.take(xgGBLinearParamSize, "gblinear parameters")
		r.vector(4, "gblinear weights")
	}
	return h, r.err
}

// Offsets in the legacy XGBoost binary format.
const (
	xgOffMajorVersion   = 20 // learner parameters: major_version (XGBoost 1.0+)
	xgOffNumClass       = 8  // learner parameters: num_class
	xgOffNumRoots       = 4  // gbtree parameters: num_parallel_tree since 1.0
	xgOffOutputGroup    = 24 // gbtree parameters: the deprecated num_output_group
	xgOffLinearGroup    = 4  // gblinear parameters: the deprecated num_output_group
	xgMultiRootsMessage = "a multiclass random forest (num_parallel_tree > 1) in the legacy binary format, which leaves cannot read; save it as JSON or UBJSON, which the xgboost format reads too"
)

// upgradeXGBoost turns a model that XGBoost 1.0 or later wrote in the
// legacy binary format (save_raw("deprecated"), or save_model to a name
// that is neither .json nor .ubj) into the layout leaves reads, in a
// copy. XGBoost 1.x writes a "binf" header, which XGBoost itself skips;
// keeps base_score in the objective's output space (0.5 for
// binary:logistic) where leaves adds it to the margin as it is; no
// longer fills the output-group count (nor, for gblinear, the feature
// count) that leaves reads (num_class in
// the learner parameters holds it); and stores num_parallel_tree where
// leaves expects a root count of 1. A single-output random forest is
// read as the plain sum of its trees, which is what XGBoost computes,
// and perRound is its num_parallel_tree, the trees of one round (1 for
// other models); a multiclass one is refused. Models written before 1.0
// come back as they are, without a "binf" header.
func upgradeXGBoost(b []byte) (_ []byte, perRound int, _ error) {
	b = bytes.TrimPrefix(b, []byte("binf"))
	if len(b) < xgLearnerParamSize || binary.LittleEndian.Uint32(b[xgOffMajorVersion:]) == 0 {
		return b, 1, nil
	}
	h, err := scanXGBoost(b)
	if err != nil {
		return nil, 0, err
	}
	b = bytes.Clone(b)
	groups := max(int32(binary.LittleEndian.Uint32(b[xgOffNumClass:])), 1)
	base := math.Float32frombits(binary.LittleEndian.Uint32(b))
	switch h.objective {
	case "binary:logistic", "reg:logistic":
		if !(base > 0 && base < 1) {
			return nil, 0, serving.Corrupt(FormatXGBoost, fmt.Errorf("base_score %v of a logistic objective", base))
		}
		// In float32 arithmetic, as XGBoost takes the logit: near 1,
		// 1/base-1 in float64 moves the margin in its second decimal.
		// (XGBoost 3.2 accepts 0 and 1 too, but no version that reads
		// this format does.)
		base = -float32(math.Log(float64(1/base - 1)))
	case "count:poisson", "reg:gamma", "reg:tweedie", "survival:cox", "survival:aft":
		if !(base > 0) {
			return nil, 0, serving.Corrupt(FormatXGBoost, fmt.Errorf("base_score %v of a log-link objective", base))
		}
		base = float32(math.Log(float64(base)))
	}
	binary.LittleEndian.PutUint32(b, math.Float32bits(base))
	param := xgLearnerParamSize + 8 + len(h.objective) + 8 + len(h.booster)
	perRound = 1
	switch h.booster {
	case "gbtree", "dart":
		roots := int32(binary.LittleEndian.Uint32(b[param+xgOffNumRoots:]))
		if roots > 1 && groups > 1 {
			return nil, 0, serving.Unsupported(FormatXGBoost, errors.New(xgMultiRootsMessage))
		}
		perRound = int(max(roots, 1))
		binary.LittleEndian.PutUint32(b[param+xgOffNumRoots:], 1)
		binary.LittleEndian.PutUint32(b[param+xgOffOutputGroup:], uint32(groups))
	case "gblinear":
		// num_feature moved to the learner parameters too.
		copy(b[param:param+4], b[4:8])
		binary.LittleEndian.PutUint32(b[param+xgOffLinearGroup:], uint32(groups))
	}
	return b, perRound, nil
}

// pickleSizeKeys are the dictionary keys of an sklearn pickle whose
// integer values leaves uses as allocation sizes.
var pickleSizeKeys = map[string]bool{
	"n_classes_": true, "node_count": true, "capacity": true, "n_outputs_": true,
	"max_features_": true, "n_estimators": true, "n_features_": true, "n_features_in_": true, "max_depth": true,
}

// pickleTree is the class whose REDUCE arguments leaves reads as
// (n_features, n_classes, n_outputs) and allocates by n_outputs.
const pickleTree = "sklearn.tree._tree.Tree"

// pkItem is what scanPickle knows of one value on the pickle stack.
type pkItem struct {
	kind  byte // 'I' integer, 'V' string, 'c' global, 't' tuple, 'l' list, 'd' dict, 0 anything else
	n     int64
	s     string    // a string's text, a global's "module.name"
	items []*pkItem // a tuple's elements
	// size is what the value expands to when printed as a tree: one per
	// value plus the bytes of its strings, counting a value shared
	// through the memo at each place it appears.
	size int
	// shared is set once the value is fetched from the memo or put in
	// another value; a shared list or dict may not change any more.
	shared bool
}

// pkExpansion bounds the size of every value of a pickle of n bytes: a
// pickle names each value once and shares it through the memo, and the
// sklearn pickles of leaves' test data expand to 1.3 times their size.
func pkExpansion(n int) int { return 4*n + 1<<16 }

// scanPickle runs a protocol 0 pickle on a model of the pickle machine
// that knows only the opcodes leaves' decoder knows. It checks that the
// stream ends with STOP, that integers fit in 32 bits, and that the sizes
// leaves allocates by (the values of pickleSizeKeys in dictionaries, and
// n_outputs of a sklearn Tree) are no larger than the pickle itself. The
// model follows the stack and the memo, so a key or a class fetched from
// the memo (as every pickle does from the second use on), or an argument
// after a nested REDUCE, is checked like one spelled out in place.
//
// It also refuses the values leaves cannot survive printing: leaves'
// decoder formats whole values into its error messages with fmt, so a
// list or dict that contains itself overflows the stack (a fatal error,
// not a panic) and values shared through the memo at every level of a
// deep nest expand exponentially. A list or dict may therefore change
// (APPEND, SETITEM) only until it is shared, as the pickler writes them
// (it fills each one before it refers to it again), and no value may
// expand past pkExpansion.
func scanPickle(b []byte) error {
	fail := func(format string, args ...any) error {
		return serving.Corrupt(FormatSklearn, fmt.Errorf(format, args...))
	}
	var (
		stack []*pkItem
		marks []int
		memo  = map[string]*pkItem{}
		limit = pkExpansion(len(b))
	)
	i := 0
	line := func() ([]byte, bool) {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return nil, false
		}
		l := b[i : i+j]
		i += j + 1
		return l, true
	}
	pop := func() *pkItem {
		if len(stack) == 0 {
			return nil
		}
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		return it
	}
	popMark := func() ([]*pkItem, bool) {
		if len(marks) == 0 {
			return nil, false
		}
		m := marks[len(marks)-1]
		marks = marks[:len(marks)-1]
		items := slices.Clone(stack[m:])
		stack = stack[:m]
		return items, true
	}
	// compose makes a value of the given parts, which become shared.
	compose := func(kind byte, parts ...*pkItem) (*pkItem, error) {
		it := &pkItem{kind: kind, size: 1}
		for _, p := range parts {
			p.shared = true
			it.size += p.size
		}
		if it.size > limit {
			return nil, fail("a value expands to more than %d in a %d-byte pickle (values shared too often)", limit, len(b))
		}
		return it, nil
	}
	// grow adds part to the list or dict c, which must not be shared.
	grow := func(c *pkItem, kind byte, parts ...*pkItem) error {
		if c.kind != kind || c.shared {
			return fail("opcode %q on a value that is not an unshared list or dict, at offset %d", kind, i-1)
		}
		for _, p := range parts {
			p.shared = true
			c.size += p.size
		}
		if c.size > limit {
			return fail("a value expands to more than %d in a %d-byte pickle (values shared too often)", limit, len(b))
		}
		return nil
	}
	sized := func(k, v *pkItem) error {
		if k.kind == 'V' && v.kind == 'I' && pickleSizeKeys[k.s] && v.n > int64(len(b)) {
			return fail("size %d (%s) larger than the %d-byte pickle", v.n, k.s, len(b))
		}
		return nil
	}
	for {
		if i >= len(b) {
			return fail("truncated pickle: no STOP opcode")
		}
		op := b[i]
		i++
		switch op {
		case '.':
			return nil
		case '(':
			marks = append(marks, len(stack))
		case 'N':
			stack = append(stack, &pkItem{size: 1})
		case 't', 'l', 'd':
			items, ok := popMark()
			if !ok {
				return fail("opcode %q without a mark at offset %d", op, i-1)
			}
			if op == 'd' {
				for k := 0; k+1 < len(items); k += 2 {
					if err := sized(items[k], items[k+1]); err != nil {
						return err
					}
				}
			}
			it, err := compose(op, items...)
			if err != nil {
				return err
			}
			if op == 't' {
				it.items = items
			}
			stack = append(stack, it)
		case 's', 'a':
			v, k := pop(), pop()
			if k == nil {
				return fail("opcode %q on a stack of fewer than 2 at offset %d", op, i-1)
			}
			if op == 'a' {
				// APPEND: k is the list, which stays on the stack.
				if err := grow(k, 'l', v); err != nil {
					return err
				}
				stack = append(stack, k)
				continue
			}
			if err := sized(k, v); err != nil {
				return err
			}
			if len(stack) == 0 {
				return fail("SETITEM on a stack of fewer than 3 at offset %d", i-1)
			}
			if err := grow(stack[len(stack)-1], 'd', k, v); err != nil {
				return err
			}
		case 'b', 'R':
			args, obj := pop(), pop()
			if obj == nil {
				return fail("opcode %q on a stack of fewer than 2 at offset %d", op, i-1)
			}
			if op == 'R' && obj.kind == 'c' && obj.s == pickleTree && args.kind == 't' && len(args.items) > 2 {
				if n := args.items[2]; n.kind == 'I' && n.n > int64(len(b)) {
					return fail("size %d (n_outputs of %s) larger than the %d-byte pickle", n.n, pickleTree, len(b))
				}
			}
			it, err := compose(0, obj, args)
			if err != nil {
				return err
			}
			stack = append(stack, it)
		case 'p', 'g':
			l, ok := line()
			if !ok {
				return fail("truncated pickle at offset %d", i)
			}
			if op == 'p' {
				if len(stack) == 0 {
					return fail("PUT on an empty stack at offset %d", i)
				}
				memo[string(l)] = stack[len(stack)-1]
				continue
			}
			it := memo[string(l)]
			if it == nil {
				it = &pkItem{size: 1}
			}
			it.shared = true
			stack = append(stack, it)
		case 'V', 'c', 'F':
			l, ok := line()
			if !ok {
				return fail("truncated pickle at offset %d", i)
			}
			it := &pkItem{kind: op, s: string(l), size: 1 + len(l)}
			if op == 'c' {
				n, ok := line()
				if !ok {
					return fail("truncated pickle at offset %d", i)
				}
				it.s, it.size = it.s+"."+string(n), it.size+len(n)
			}
			if op == 'F' {
				it.kind, it.s = 0, ""
			}
			stack = append(stack, it)
		case 'I', 'L':
			l, ok := line()
			if !ok {
				return fail("truncated pickle at offset %d", i)
			}
			it := &pkItem{size: 1 + len(l)}
			stack = append(stack, it)
			if op == 'L' {
				l = bytes.TrimSuffix(l, []byte("L"))
			}
			v, err := strconv.ParseInt(string(l), 10, 64)
			if err != nil {
				continue // leaves reports it
			}
			if v > math.MaxInt32 || v < math.MinInt32 {
				return fail("integer %d out of range at offset %d", v, i)
			}
			it.kind, it.n = 'I', v
		default:
			return fail("unsupported pickle opcode %q at offset %d (leaves reads protocol 0 pickles)", op, i-1)
		}
	}
}

// Flags of leaves' internal tree nodes (lgtree.go in leaves).
const (
	flagCategorical = 1 << 0
	flagLeftLeaf    = 1 << 2
	flagRightLeaf   = 1 << 3
	flagCatOneHot   = 1 << 6
	flagCatSmall    = 1 << 7
)

// ensembleInfo is what inspect learns about a decoded ensemble.
type ensembleInfo struct {
	features int
	outputs  int
	linear   bool // an XGBoost gblinear model
}

// inspect verifies a decoded ensemble with reflection over leaves'
// unexported structures (read only): every tree's child links point
// forward, so prediction terminates, and every node has one parent, so
// the tree is the model's (leaves builds a shared subtree once, and
// links to it otherwise); leaf, feature and category indexes
// are in range, so prediction cannot index out of range; and the output
// groups and tree counts agree. It also reads the true feature count,
// which leaves' NFeatures reports as 0 for a one-feature model.
//
// The layout checked is that of the leaves version in go.mod; if a new
// version changes it, inspect refuses every model rather than trusting
// unchecked ones, and this package's tests fail.
func inspect(e *lv.Ensemble) (info ensembleInfo, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("leaves internals not as expected: %v", r)
		}
	}()
	if e == nil {
		return info, errors.New("nil ensemble")
	}
	v := reflect.ValueOf(e).Elem()
	base := v.Field(0)
	if base.Kind() != reflect.Interface || base.IsNil() {
		return info, errors.New("ensemble has no implementation")
	}
	impl := base.Elem()
	if impl.Kind() != reflect.Pointer || impl.IsNil() {
		return info, errors.New("ensemble implementation is not a pointer")
	}
	s := impl.Elem()
	groups := int(s.FieldByName("nRawOutputGroups").Int())
	if groups < 1 || groups > 1<<16 {
		return info, fmt.Errorf("%d output groups", groups)
	}
	info.outputs = groups
	if e.NOutputGroups() != groups {
		return info, fmt.Errorf("transformation gives %d outputs for %d groups", e.NOutputGroups(), groups)
	}
	switch s.Type().Name() {
	case "lgEnsemble", "xgEnsemble":
		info.features = int(s.FieldByName("MaxFeatureIdx").Int()) + 1
		if info.features < 1 || info.features > maxFeatures {
			return info, fmt.Errorf("feature count %d out of 1..%d", info.features, maxFeatures)
		}
		trees := s.FieldByName("Trees")
		if trees.Len() < groups || trees.Len()%groups != 0 {
			return info, fmt.Errorf("%d trees for %d output groups", trees.Len(), groups)
		}
		if s.Type().Name() == "xgEnsemble" {
			if w := s.FieldByName("WeightDrop").Len(); w < trees.Len() {
				return info, fmt.Errorf("%d tree weights for %d trees", w, trees.Len())
			}
		}
		for i := 0; i < trees.Len(); i++ {
			if err := inspectTree(trees.Index(i), info.features); err != nil {
				return info, fmt.Errorf("tree %d: %w", i, err)
			}
		}
	case "xgLinear":
		info.linear = true
		info.features = int(s.FieldByName("NumFeature").Int())
		if info.features < 1 || info.features > maxFeatures {
			return info, fmt.Errorf("feature count %d out of 1..%d", info.features, maxFeatures)
		}
		if w := s.FieldByName("Weights").Len(); w < groups*(info.features+1) {
			return info, fmt.Errorf("%d weights for %d features and %d groups", w, info.features, groups)
		}
	default:
		return info, fmt.Errorf("unknown ensemble type %s", s.Type())
	}
	return info, nil
}

func inspectTree(t reflect.Value, features int) error {
	nodes := t.FieldByName("nodes")
	nLeaves := t.FieldByName("leafValues").Len()
	catBounds := t.FieldByName("catBoundaries")
	nCatThresholds := uint64(t.FieldByName("catThresholds").Len())
	nNodes := nodes.Len()
	if nNodes == 0 {
		if nLeaves < 1 {
			return errors.New("no nodes and no leaves")
		}
		return nil
	}
	// A node with two parents is what leaves builds from a node it met
	// twice (see checkLGLinks), whatever the format.
	parent := make([]bool, nNodes)
	child := func(c uint64) error {
		if parent[c] {
			return fmt.Errorf("node %d has two parents (the model's tree shares a subtree, or has a cycle)", c)
		}
		parent[c] = true
		return nil
	}
	for i := 0; i < nNodes; i++ {
		n := nodes.Index(i)
		flags := n.FieldByName("Flags").Uint()
		left := n.FieldByName("Left").Uint()
		right := n.FieldByName("Right").Uint()
		if f := n.FieldByName("Feature").Uint(); f >= uint64(features) {
			return fmt.Errorf("node %d splits on feature %d of %d", i, f, features)
		}
		if flags&flagLeftLeaf != 0 {
			if left >= uint64(nLeaves) {
				return fmt.Errorf("node %d: left leaf %d of %d", i, left, nLeaves)
			}
		} else if left <= uint64(i) || left >= uint64(nNodes) {
			return fmt.Errorf("node %d: left child %d is not a later node of %d", i, left, nNodes)
		} else if err := child(left); err != nil {
			return err
		}
		if flags&flagRightLeaf != 0 {
			if right >= uint64(nLeaves) {
				return fmt.Errorf("node %d: right leaf %d of %d", i, right, nLeaves)
			}
		} else if i+1 >= nNodes {
			return fmt.Errorf("node %d: right child past the last node", i)
		} else if err := child(uint64(i + 1)); err != nil {
			return err
		}
		if flags&flagCategorical != 0 && flags&(flagCatOneHot|flagCatSmall) == 0 {
			th := n.FieldByName("Threshold").Float()
			if !(th >= 0) || th+1 >= float64(catBounds.Len()) {
				return fmt.Errorf("node %d: category set %v of %d", i, th, catBounds.Len()-1)
			}
			idx := int(th)
			lo, hi := catBounds.Index(idx).Uint(), catBounds.Index(idx+1).Uint()
			if lo > hi || hi > nCatThresholds {
				return fmt.Errorf("node %d: category bounds %d..%d of %d", i, lo, hi, nCatThresholds)
			}
		}
	}
	return nil
}
