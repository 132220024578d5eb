package pmml_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/pmml"
)

// FuzzLoad feeds bytes to Parse and checks the contract: an error is
// corrupt or unsupported, never a panic; a document that compiles scores
// vectors of zeros, NaNs, negatives, huge values and infinities, category
// codes in and out of range, and mixed records, with a typed error or a
// result; a classification's Values has one probability per class and
// Value is the one of Label; and scoring every record again in reverse
// order gives the same answers, so nothing one evaluation leaves in the
// pooled scratch reaches the next.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.*ml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 20<<10 {
			f.Add(b)
		}
	}
	f.Add([]byte(regDoc(`missingValueReplacement="1"`)))
	f.Add([]byte(classDoc("softmax")))
	f.Add([]byte(exprDoc(`<Apply function="if"><Apply function="isMissing"><FieldRef field="x"/></Apply><Constant>5</Constant><FieldRef field="x"/></Apply>`, "")))
	f.Add([]byte(priorOnlyTree("none")))
	f.Add([]byte(priorOnlyTree("aggregateNodes")))
	f.Add([]byte(`<!DOCTYPE PMML [<!ENTITY x "y">]><PMML>&x;</PMML>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := pmml.Parse(b)
		if err != nil {
			if !errors.Is(err, serving.ErrCorruptModel) && !errors.Is(err, serving.ErrUnsupportedModel) {
				t.Fatalf("error is neither corrupt nor unsupported: %v", err)
			}
			return
		}
		n := m.Describe().Features
		if n < 1 {
			t.Fatalf("loaded a model with %d inputs", n)
		}
		classes := m.Classes()
		var vecs [][]float64
		for _, v := range []float64{0, 1, math.NaN(), -1, 1e300, math.Inf(1), 0.5, 1e9} {
			x := make([]float64, n)
			for i := range x {
				x[i] = v
			}
			vecs = append(vecs, x)
		}
		// Mixed records: each input takes a different value.
		for k := range 3 {
			x := make([]float64, n)
			for i := range x {
				x[i] = float64((i + k) % 3)
			}
			vecs = append(vecs, x)
		}
		type outcome struct {
			p   serving.Prediction
			err error
		}
		first := make([]outcome, len(vecs))
		for j, x := range vecs {
			p, err := m.Predict(context.Background(), x)
			first[j] = outcome{p, err}
			if err != nil {
				var fe *serving.FieldError
				if !errors.As(err, &fe) && !errors.Is(err, pmml.ErrNoResult) {
					t.Fatalf("Predict(%v): untyped error %v", x, err)
				}
				continue
			}
			if len(p.Values) > 0 && p.Label == "" && len(classes) == 0 {
				t.Fatalf("Values without classes: %+v", p)
			}
			if len(classes) > 0 {
				k := slices.Index(classes, p.Label)
				if len(p.Values) != len(classes) || k < 0 || !same(p.Value, p.Values[k]) {
					t.Fatalf("Predict(%v) = %+v, classes %q", x, p, classes)
				}
			}
		}
		// Each record again, in reverse order: the pooled scratch an
		// evaluation leaves must not change the next one's answer.
		for j := len(vecs) - 1; j >= 0; j-- {
			p, err := m.Predict(context.Background(), vecs[j])
			if !sameOutcome(p, err, first[j].p, first[j].err) {
				t.Fatalf("Predict(%v) = %+v, %v; earlier %+v, %v", vecs[j], p, err, first[j].p, first[j].err)
			}
		}
	})
}

// same is == with NaN equal to NaN.
func same(a, b float64) bool { return a == b || a != a && b != b }

// sameOutcome says whether two predictions and errors are the same.
func sameOutcome(p serving.Prediction, err error, q serving.Prediction, qerr error) bool {
	if (err == nil) != (qerr == nil) || err != nil && err.Error() != qerr.Error() {
		return false
	}
	if !same(p.Value, q.Value) || !same(p.Confidence, q.Confidence) || p.Label != q.Label || len(p.Values) != len(q.Values) {
		return false
	}
	for i := range p.Values {
		if !same(p.Values[i], q.Values[i]) {
			return false
		}
	}
	return true
}

// FuzzPredict scores fuzzed records with every document of testdata and
// some hand-written documents of the tests: the first byte of the input
// chooses the document, and each 8 bytes after it are one feature (a
// float64, so NaN, infinities, huge values and category codes in and out
// of range all occur) of a record x, then of a record y. The contract is
// FuzzLoad's: a typed error or a consistent result for x, and the same
// answer for x scored again after y.
func FuzzPredict(f *testing.F) {
	var docs [][]byte
	files, _ := filepath.Glob("testdata/*/*.*ml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			docs = append(docs, b)
		}
	}
	docs = append(docs, []byte(priorOnlyTree("none")), []byte(priorOnlyTree("aggregateNodes")), []byte(priorOnlyTree("weightedConfidence")), []byte(classDoc("softmax")), []byte(regDoc(`missingValueReplacement="1"`)))
	var models []*pmml.Model
	for _, b := range docs {
		if m, err := pmml.Parse(b); err == nil {
			models = append(models, m)
		}
	}
	if len(models) < 40 {
		f.Fatalf("only %d documents load", len(models))
	}
	vals := []float64{0, 1, math.NaN(), 3, -1, 5.5, math.Inf(-1), 1e300}
	for i, m := range models {
		n := m.Describe().Features
		for j, v := range vals {
			b := []byte{byte(i)}
			for k := range 2 * n {
				w := v
				if k >= n {
					w = vals[(j+1+k)%len(vals)]
				}
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(w))
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		m := models[int(b[0])%len(models)]
		n := m.Describe().Features
		// x, then y: what the input holds of 2n features, zeros after.
		xy := make([]float64, 2*n)
		for i := range xy {
			if 1+8*(i+1) <= len(b) {
				xy[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[1+8*i:]))
			}
		}
		x, y := xy[:n], xy[n:]
		ctx := context.Background()
		p, err := m.Predict(ctx, x)
		if err != nil {
			var fe *serving.FieldError
			if !errors.As(err, &fe) && !errors.Is(err, pmml.ErrNoResult) {
				t.Fatalf("Predict(%v): untyped error %v", x, err)
			}
		} else if classes := m.Classes(); len(classes) > 0 {
			k := slices.Index(classes, p.Label)
			if len(p.Values) != len(classes) || k < 0 || !same(p.Value, p.Values[k]) {
				t.Fatalf("Predict(%v) = %+v, classes %q", x, p, classes)
			}
		}
		m.Predict(ctx, y)
		q, qerr := m.Predict(ctx, x)
		if !sameOutcome(q, qerr, p, err) {
			t.Fatalf("Predict(%v) after Predict(%v) = %+v, %v; before it %+v, %v", x, y, q, qerr, p, err)
		}
	})
}

// FuzzExpr builds a DerivedField from the input, read as a program over a
// small grammar of PMML expressions (nested Apply of every built-in
// function, with and without mapMissingTo, defaultValue and
// invalidValueTreatment; constants including NaN, infinities, huge values
// and strings; FieldRef, NormContinuous, NormDiscrete, Discretize and
// MapValues), loads exprDoc with it, and scores a few records under the
// contract of FuzzPredict. Byte-level mutation of whole documents rarely
// makes an expression that compiles; this reaches the evaluator.
func FuzzExpr(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3})
	f.Add([]byte{5, 0, 7, 3, 9, 1})
	f.Add([]byte{17, 2, 40, 1, 1, 6, 3, 200, 12})
	f.Add([]byte{30, 31, 32, 33, 34, 35, 36, 37, 38, 39})
	f.Fuzz(func(t *testing.T, b []byte) {
		g := &exprGen{b: b}
		e := g.expr(0)
		m, err := pmml.Parse([]byte(exprDoc(e, "")))
		if err != nil {
			if !errors.Is(err, serving.ErrCorruptModel) && !errors.Is(err, serving.ErrUnsupportedModel) {
				t.Fatalf("%s: error is neither corrupt nor unsupported: %v", e, err)
			}
			return
		}
		ctx := context.Background()
		recs := [][]float64{{1, 2, 0}, {math.NaN(), -1, 1}, {0, 0, 2}, {1e308, -1e308, 0}, {-0.5, math.NaN(), math.NaN()}}
		first := make([]serving.Prediction, len(recs))
		errs := make([]error, len(recs))
		for i, x := range recs {
			first[i], errs[i] = m.Predict(ctx, x)
			if err := errs[i]; err != nil {
				var fe *serving.FieldError
				if !errors.As(err, &fe) && !errors.Is(err, pmml.ErrNoResult) {
					t.Fatalf("%s: Predict(%v): untyped error %v", e, x, err)
				}
			}
		}
		for i := len(recs) - 1; i >= 0; i-- {
			p, err := m.Predict(ctx, recs[i])
			if !sameOutcome(p, err, first[i], errs[i]) {
				t.Fatalf("%s: Predict(%v) = %+v, %v; earlier %+v, %v", e, recs[i], p, err, first[i], errs[i])
			}
		}
	})
}

// exprGen reads bytes as choices in a grammar of expressions.
type exprGen struct {
	b []byte
	i int
}

func (g *exprGen) next() int {
	if g.i >= len(g.b) {
		return 0
	}
	g.i++
	return int(g.b[g.i-1])
}

var (
	genFuncs  = []string{"+", "-", "*", "/", "min", "max", "sum", "avg", "product", "median", "log10", "ln", "sqrt", "abs", "exp", "pow", "threshold", "floor", "ceil", "round", "modulo", "isMissing", "isNotMissing", "equal", "notEqual", "lessThan", "lessOrEqual", "greaterThan", "greaterOrEqual", "and", "or", "not", "isIn", "isNotIn", "if", "x-sigmoid", "expm1", "ln1p", "hypot", "atan2", "tanh", "rint"}
	genConsts = []string{"0", "1", "-1", "2.5", "NaN", "INF", "-INF", "1e308", "-1e-320", "true", "false", "a", "b", ""}
	genAttrs  = []string{"", ` mapMissingTo="0"`, ` defaultValue="7"`, ` invalidValueTreatment="asMissing"`, ` invalidValueTreatment="asIs"`, ` mapMissingTo="a"`, ` mapMissingTo="1" defaultValue="2" invalidValueTreatment="asMissing"`}
)

func (g *exprGen) expr(depth int) string {
	k := g.next()
	if depth >= 4 {
		k %= 6
	}
	switch k % 12 {
	case 0:
		return `<FieldRef field="x"/>`
	case 1:
		return `<FieldRef field="w" mapMissingTo="3"/>`
	case 2:
		return `<FieldRef field="c"/>`
	case 3:
		c := genConsts[g.next()%len(genConsts)]
		if g.next()%3 == 0 {
			return `<Constant dataType="string">` + c + `</Constant>`
		}
		return `<Constant>` + c + `</Constant>`
	case 4:
		return `<Constant missing="true"/>`
	case 5:
		return `<NormDiscrete field="c" value="b"/>`
	case 6:
		return `<NormContinuous field="x" outliers="` + []string{"asIs", "asMissingValues", "asExtremeValues"}[g.next()%3] + `"><LinearNorm orig="-1" norm="0"/><LinearNorm orig="` + genConsts[g.next()%8] + `" norm="1"/><LinearNorm orig="1e300" norm="2"/></NormContinuous>`
	case 7:
		return `<Discretize field="w" defaultValue="9"><DiscretizeBin binValue="1"><Interval closure="openClosed" rightMargin="0"/></DiscretizeBin><DiscretizeBin binValue="` + genConsts[g.next()%len(genConsts)] + `"><Interval closure="openOpen" leftMargin="0" rightMargin="` + genConsts[g.next()%8] + `"/></DiscretizeBin></Discretize>`
	case 8:
		return `<MapValues outputColumn="o" mapMissingTo="` + genConsts[g.next()%len(genConsts)] + `"><FieldColumnPair field="c" column="i"/><InlineTable><row><i>a</i><o>` + genConsts[g.next()%len(genConsts)] + `</o></row><row><i>b</i><o>2</o></row></InlineTable></MapValues>`
	}
	fn := genFuncs[g.next()%len(genFuncs)]
	n := 1 + g.next()%4
	s := `<Apply function="` + fn + `"` + genAttrs[g.next()%len(genAttrs)] + `>`
	for range n {
		s += g.expr(depth + 1)
	}
	return s + `</Apply>`
}

// FuzzTree builds a TreeModel from the input, read as choices: regression
// or classification (over a target with or without DataDictionary Values,
// with or without Targets priors), every missingValueStrategy and
// noTrueChildStrategy, a missingValuePenalty, nodes of up to four
// children with scores, ScoreDistributions (counts or probabilities),
// defaultChild, and Simple, SimpleSet, Compound (and, or, xor,
// surrogate), True and False predicates over a number x, a float f and a
// category c. It scores records with values missing, on thresholds and
// out of range, twice, under FuzzPredict's contract.
func FuzzTree(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add([]byte{3, 0, 3, 1, 2, 2, 0, 4, 1, 4, 200, 3, 7, 9, 1, 0, 0, 5})
	f.Fuzz(func(t *testing.T, b []byte) {
		g := &exprGen{b: b}
		doc := g.tree()
		m, err := pmml.Parse([]byte(doc))
		if err != nil {
			if !errors.Is(err, serving.ErrCorruptModel) && !errors.Is(err, serving.ErrUnsupportedModel) {
				t.Fatalf("error is neither corrupt nor unsupported: %v\n%s", err, doc)
			}
			return
		}
		ctx := context.Background()
		nan := math.NaN()
		recs := [][]float64{{0, 0, 0}, {nan, 1.5, 1}, {2, nan, 2}, {nan, nan, nan}, {1, 0.1, 5}, {-1e308, 3, 0}, {3, 2, nan}}
		classes := m.Classes()
		first := make([]serving.Prediction, len(recs))
		errs := make([]error, len(recs))
		for i, x := range recs {
			p, err := m.Predict(ctx, x)
			first[i], errs[i] = p, err
			if err != nil {
				var fe *serving.FieldError
				if !errors.As(err, &fe) && !errors.Is(err, pmml.ErrNoResult) {
					t.Fatalf("Predict(%v): untyped error %v\n%s", x, err, doc)
				}
				continue
			}
			if len(classes) > 0 {
				k := slices.Index(classes, p.Label)
				if len(p.Values) != len(classes) || k < 0 || !same(p.Value, p.Values[k]) {
					t.Fatalf("Predict(%v) = %+v, classes %q\n%s", x, p, classes, doc)
				}
			}
		}
		for i := len(recs) - 1; i >= 0; i-- {
			p, err := m.Predict(ctx, recs[i])
			if !sameOutcome(p, err, first[i], errs[i]) {
				t.Fatalf("Predict(%v) = %+v, %v; earlier %+v, %v\n%s", recs[i], p, err, first[i], errs[i], doc)
			}
		}
	})
}

func (g *exprGen) tree() string {
	classify := g.next()%2 == 1
	cats := []string{"a", "b", "c"}
	var b strings.Builder
	b.WriteString(`<PMML version="4.4"><DataDictionary>
<DataField name="x" optype="continuous" dataType="double"/>
<DataField name="f" optype="continuous" dataType="float"/>
<DataField name="c" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/><Value value="c"/></DataField>`)
	fn := "regression"
	if classify {
		fn = "classification"
		if g.next()%2 == 0 {
			b.WriteString(`<DataField name="y" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/><Value value="c"/></DataField>`)
		} else {
			b.WriteString(`<DataField name="y" optype="categorical" dataType="string"/>`)
		}
	} else {
		b.WriteString(`<DataField name="y" optype="continuous" dataType="double"/>`)
	}
	miss := []string{"lastPrediction", "nullPrediction", "defaultChild", "weightedConfidence", "aggregateNodes", "none"}[g.next()%6]
	ntc := []string{"returnNullPrediction", "returnLastPrediction"}[g.next()%2]
	pen := []string{"", ` missingValuePenalty="0.5"`}[g.next()%2]
	fmt.Fprintf(&b, `</DataDictionary><TreeModel functionName="%s" missingValueStrategy="%s" noTrueChildStrategy="%s"%s>
<MiningSchema><MiningField name="x"/><MiningField name="f"/><MiningField name="c" invalidValueTreatment="asMissing"/><MiningField name="y" usageType="target"/></MiningSchema>`, fn, miss, ntc, pen)
	if classify && g.next()%2 == 0 {
		b.WriteString(`<Targets><Target field="y"><TargetValue value="c" priorProbability="0.7"/><TargetValue value="a" priorProbability="0.3"/></Target></Targets>`)
	}
	id := 0
	var node func(depth int, pred string)
	node = func(depth int, pred string) {
		id++
		fmt.Fprintf(&b, `<Node id="n%d" recordCount="%d"`, id, 1+g.next()%9)
		kids := 0
		if depth < 4 {
			kids = g.next() % 5
		}
		if kids > 0 && g.next()%2 == 0 {
			fmt.Fprintf(&b, ` defaultChild="n%d"`, id+1)
		}
		if g.next()%4 != 0 {
			if classify {
				fmt.Fprintf(&b, ` score="%s"`, cats[g.next()%3])
			} else {
				fmt.Fprintf(&b, ` score="%d"`, g.next()%7)
			}
		}
		b.WriteString(">" + pred)
		if classify && g.next()%2 == 0 {
			for _, c := range cats[:1+g.next()%3] {
				if g.next()%2 == 0 {
					fmt.Fprintf(&b, `<ScoreDistribution value="%s" recordCount="%d"/>`, c, g.next()%5)
				} else {
					fmt.Fprintf(&b, `<ScoreDistribution value="%s" recordCount="1" probability="0.%d"/>`, c, g.next()%10)
				}
			}
		}
		if kids == 2 && g.next()%2 == 0 {
			// A binary split, which the compiler walks without predicates.
			v := []string{"0", "1.5", "0.1", "2"}[g.next()%4]
			fld := []string{"x", "f"}[g.next()%2]
			node(depth+1, `<SimplePredicate field="`+fld+`" operator="lessThan" value="`+v+`"/>`)
			node(depth+1, `<SimplePredicate field="`+fld+`" operator="greaterOrEqual" value="`+v+`"/>`)
		} else {
			for range kids {
				node(depth+1, g.pred(0))
			}
		}
		b.WriteString("</Node>")
	}
	node(0, []string{"<True/>", g.pred(0)}[g.next()%2])
	b.WriteString("</TreeModel></PMML>")
	return b.String()
}

func (g *exprGen) pred(depth int) string {
	k := g.next()
	if depth >= 2 {
		k %= 6
	}
	ops := []string{"equal", "notEqual", "lessThan", "lessOrEqual", "greaterThan", "greaterOrEqual", "isMissing", "isNotMissing"}
	vals := []string{"0", "1.5", "0.1", "2", "-1", "NaN"}
	switch k % 8 {
	case 0, 1:
		return `<SimplePredicate field="` + []string{"x", "f"}[k%2] + `" operator="` + ops[g.next()%len(ops)] + `" value="` + vals[g.next()%len(vals)] + `"/>`
	case 2:
		return `<SimplePredicate field="c" operator="` + []string{"equal", "notEqual", "isMissing"}[g.next()%3] + `" value="` + []string{"a", "b", "c"}[g.next()%3] + `"/>`
	case 3:
		return `<SimpleSetPredicate field="c" booleanOperator="` + []string{"isIn", "isNotIn"}[g.next()%2] + `"><Array type="string">a "c"</Array></SimpleSetPredicate>`
	case 4:
		return `<True/>`
	case 5:
		return `<False/>`
	}
	op := []string{"and", "or", "xor", "surrogate"}[g.next()%4]
	s := `<CompoundPredicate booleanOperator="` + op + `">`
	for range 2 + g.next()%2 {
		s += g.pred(depth + 1)
	}
	return s + `</CompoundPredicate>`
}

// FuzzMining builds a MiningModel from the input, read as choices: every
// multipleModelMethod and missingPredictionTreatment, segments with
// predicates and weights (zero and negative among them) holding small
// RegressionModels and TreeModels (or a nested MiningModel), classifying
// into categories of their own (a segment may name a subset, or only
// through Targets priors), OutputFields that later segments of a model
// chain read; then scores records twice under FuzzPredict's contract.
func FuzzMining(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add([]byte{9, 1, 3, 0, 2, 2, 1, 4, 1, 4, 200, 3, 7, 9, 1, 0, 0, 5, 8, 8, 8})
	f.Fuzz(func(t *testing.T, b []byte) {
		g := &exprGen{b: b}
		doc := g.mining()
		m, err := pmml.Parse([]byte(doc))
		if err != nil {
			if !errors.Is(err, serving.ErrCorruptModel) && !errors.Is(err, serving.ErrUnsupportedModel) {
				t.Fatalf("error is neither corrupt nor unsupported: %v\n%s", err, doc)
			}
			return
		}
		ctx := context.Background()
		nan := math.NaN()
		recs := [][]float64{{0, 0, 0}, {nan, 1.5, 1}, {2, nan, 2}, {nan, nan, nan}, {1, 0.1, 5}, {-1e308, 3, 0}, {3, 2, nan}}
		classes := m.Classes()
		first := make([]serving.Prediction, len(recs))
		errs := make([]error, len(recs))
		for i, x := range recs {
			p, err := m.Predict(ctx, x)
			first[i], errs[i] = p, err
			if err != nil {
				var fe *serving.FieldError
				if !errors.As(err, &fe) && !errors.Is(err, pmml.ErrNoResult) {
					t.Fatalf("Predict(%v): untyped error %v\n%s", x, err, doc)
				}
				continue
			}
			if len(classes) > 0 {
				k := slices.Index(classes, p.Label)
				if len(p.Values) != len(classes) || k < 0 || !same(p.Value, p.Values[k]) {
					t.Fatalf("Predict(%v) = %+v, classes %q\n%s", x, p, classes, doc)
				}
			}
		}
		for i := len(recs) - 1; i >= 0; i-- {
			p, err := m.Predict(ctx, recs[i])
			if !sameOutcome(p, err, first[i], errs[i]) {
				t.Fatalf("Predict(%v) = %+v, %v; earlier %+v, %v\n%s", recs[i], p, err, first[i], errs[i], doc)
			}
		}
	})
}

func (g *exprGen) mining() string {
	classify := g.next()%2 == 1
	var b strings.Builder
	b.WriteString(`<PMML version="4.4"><DataDictionary>
<DataField name="x" optype="continuous" dataType="double"/>
<DataField name="f" optype="continuous" dataType="float"/>
<DataField name="c" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/><Value value="c"/></DataField>`)
	if classify {
		if g.next()%2 == 0 {
			b.WriteString(`<DataField name="y" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/><Value value="c"/></DataField>`)
		} else {
			b.WriteString(`<DataField name="y" optype="categorical" dataType="string"/>`)
		}
	} else {
		b.WriteString(`<DataField name="y" optype="continuous" dataType="double"/>`)
	}
	b.WriteString(`</DataDictionary>`)
	g.miningModel(&b, classify, 0, "")
	b.WriteString(`</PMML>`)
	return b.String()
}

func (g *exprGen) miningModel(b *strings.Builder, classify bool, depth int, id string) {
	fn := map[bool]string{true: "classification", false: "regression"}[classify]
	methods := []string{"average", "weightedAverage", "max", "selectFirst", "modelChain"}
	if classify {
		methods = append(methods, "majorityVote", "weightedMajorityVote")
	} else {
		methods = append(methods, "sum", "weightedSum", "median")
	}
	method := methods[g.next()%len(methods)]
	fmt.Fprintf(b, `<MiningModel functionName="%s"><MiningSchema><MiningField name="x"/><MiningField name="f"/><MiningField name="c"/><MiningField name="y" usageType="target"/></MiningSchema>`, fn)
	if classify && g.next()%3 == 0 {
		b.WriteString(`<Targets><Target field="y"><TargetValue value="c" priorProbability="0.6"/><TargetValue value="b" priorProbability="0.4"/></Target></Targets>`)
	}
	fmt.Fprintf(b, `<Segmentation multipleModelMethod="%s" missingPredictionTreatment="%s">`, method, []string{"continue", "skipSegment", "returnMissing"}[g.next()%3])
	var outs []string
	n := 1 + g.next()%4
	for i := range n {
		last := i == n-1
		fmt.Fprintf(b, `<Segment id="%s%d" weight="%s">%s`, id, i, []string{"1", "0.5", "0", "-1", "2"}[g.next()%5], []string{"<True/>", g.pred(1)}[g.next()%2])
		segClassify := classify
		if method == "modelChain" && !last {
			segClassify = g.next()%2 == 0
		}
		read := ""
		if len(outs) > 0 && g.next()%2 == 0 {
			read = outs[g.next()%len(outs)]
		}
		out := fmt.Sprintf("o%s%d", id, i)
		output := ""
		if method == "modelChain" && g.next()%2 == 0 {
			feature := "predictedValue"
			if segClassify && g.next()%2 == 0 {
				feature = "probability"
			}
			output = fmt.Sprintf(`<Output><OutputField name="%s" optype="continuous" dataType="double" feature="%s"/></Output>`, out, feature)
			if feature == "predictedValue" && segClassify {
				output = ""
			} else {
				outs = append(outs, out)
			}
		}
		ms := `<MiningSchema><MiningField name="x"/><MiningField name="f"/><MiningField name="c"/><MiningField name="y" usageType="target"/>`
		if read != "" {
			ms += `<MiningField name="` + read + `"/>`
		}
		ms += `</MiningSchema>`
		targets := ""
		if segClassify && g.next()%3 == 0 {
			targets = `<Targets><Target field="y"><TargetValue value="c" priorProbability="1"/></Target></Targets>`
		}
		pred := "x"
		if read != "" {
			pred = read
		}
		switch k := g.next() % 3; {
		case k == 2 && depth < 2:
			g.miningModel(b, segClassify, depth+1, fmt.Sprintf("%s%d.", id, i))
		case k == 1 || !segClassify:
			if segClassify {
				fmt.Fprintf(b, `<RegressionModel functionName="classification" normalizationMethod="%s">%s%s%s<RegressionTable intercept="%d" targetCategory="a"><NumericPredictor name="%s" coefficient="1"/></RegressionTable><RegressionTable intercept="0" targetCategory="%s"/></RegressionModel>`,
					[]string{"softmax", "logit", "simplemax", "none"}[g.next()%4], ms, output, targets, g.next()%3, pred, []string{"b", "c"}[g.next()%2])
			} else {
				fmt.Fprintf(b, `<RegressionModel functionName="regression">%s%s<RegressionTable intercept="%d"><NumericPredictor name="%s" coefficient="2"/></RegressionTable></RegressionModel>`, ms, output, g.next()%3, pred)
			}
		default:
			fmt.Fprintf(b, `<TreeModel functionName="classification" missingValueStrategy="%s">%s%s%s<Node><True/><Node score="%s"><SimplePredicate field="%s" operator="lessThan" value="1"/><ScoreDistribution value="a" recordCount="%d"/><ScoreDistribution value="%s" recordCount="2"/></Node><Node score="b"><SimplePredicate field="x" operator="greaterOrEqual" value="1"/></Node></Node></TreeModel>`,
				[]string{"none", "aggregateNodes", "nullPrediction", "lastPrediction"}[g.next()%4], ms, output, targets, []string{"a", "c"}[g.next()%2], pred, g.next()%4, []string{"b", "c"}[g.next()%2])
		}
		b.WriteString(`</Segment>`)
	}
	b.WriteString(`</Segmentation></MiningModel>`)
}
