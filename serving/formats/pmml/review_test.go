package pmml_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/pmml"
)

// A string field converted to a number by a DerivedField's dataType, fed
// a category code out of range under invalidValueTreatment="asIs", reads
// a value no string of the document has: it is missing, not an index
// below the conversion table (which panicked with index -1).
func TestStringToNumberOfUnknownValue(t *testing.T) {
	doc := `<PMML version="4.4"><DataDictionary>
<DataField name="s" optype="categorical" dataType="string"><Value value="1"/><Value value="2"/></DataField>
<DataField name="y" optype="continuous" dataType="double"/>
</DataDictionary>
<TransformationDictionary><DerivedField name="d" optype="continuous" dataType="double"><FieldRef field="s"/></DerivedField></TransformationDictionary>
<RegressionModel functionName="regression">
<MiningSchema><MiningField name="s" invalidValueTreatment="asIs"/><MiningField name="y" usageType="target"/></MiningSchema>
<Output><OutputField name="o" feature="predictedValue"/></Output>
<RegressionTable intercept="1"><NumericPredictor name="d" coefficient="10"/></RegressionTable>
</RegressionModel></PMML>`
	m := loadText(t, doc)
	if p := predict(t, m, map[string]any{"s": "2"}); p.Value != 21 {
		t.Fatalf("s=2: %v, want 21", p.Value)
	}
	if _, err := m.Predict(context.Background(), []float64{7}); !errors.Is(err, pmml.ErrNoResult) {
		t.Fatalf("s out of range, asIs: %v, want no result", err)
	}
}

// Apply's mapMissingTo checked its arguments by evaluating them, then
// evaluated them again through the function: each nested Apply with
// mapMissingTo doubled the work, so a document of 50 nested Applies
// (3 KB) made Predict run 2^50 times the work: for ever, holding the
// scoring goroutine. The deadline guards against the hang; the
// prediction takes microseconds.
func TestApplyMapMissingToEvaluatesOnce(t *testing.T) {
	const depth = 50
	e := `<FieldRef field="x"/>`
	for range depth {
		e = `<Apply function="+" mapMissingTo="0">` + e + `<Constant>1</Constant></Apply>`
	}
	m := loadText(t, exprDoc(e, ""))
	type res struct {
		v   float64
		err error
	}
	done := make(chan res, 2)
	go func() {
		p, err := m.Predict(context.Background(), []float64{2, 0, 0})
		done <- res{p.Value, err}
		p, err = m.Predict(context.Background(), []float64{math.NaN(), 0, 0})
		done <- res{p.Value, err}
	}()
	for _, want := range []float64{2 + depth, depth - 1} {
		select {
		case r := <-done:
			if r.err != nil || r.v != want {
				t.Fatalf("Predict = %v, %v; want %v", r.v, r.err, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("Predict of %d nested Applies with mapMissingTo runs for over 30 s", depth)
		}
	}
}

// A DataField that is not an input of the top-level model (it is not in
// its MiningSchema) is missing wherever the document reads it: in a
// DerivedField, or through a segment's own MiningSchema. Its slot was
// never written, so it read 0 and took the branch for b < 5.
func TestFieldOutsideTopMiningSchemaIsMissing(t *testing.T) {
	dd := `<PMML version="4.4"><DataDictionary>
<DataField name="a" optype="continuous" dataType="double"/>
<DataField name="b" optype="continuous" dataType="double"/>
<DataField name="y" optype="continuous" dataType="double"/>
</DataDictionary>`
	tree := func(field, schema string) string {
		return `<TreeModel functionName="regression"><MiningSchema><MiningField name="a"/>` + schema + `<MiningField name="y" usageType="target"/></MiningSchema>
<Node><True/><Node score="1"><SimplePredicate field="` + field + `" operator="lessThan" value="5"/></Node><Node score="2"><True/></Node></Node></TreeModel>`
	}
	docs := map[string]string{
		"derived field": dd + `<TransformationDictionary><DerivedField name="d" optype="continuous" dataType="double"><FieldRef field="b"/></DerivedField></TransformationDictionary>` + tree("d", "") + `</PMML>`,
		"segment": dd + `<MiningModel functionName="regression"><MiningSchema><MiningField name="a"/><MiningField name="y" usageType="target"/></MiningSchema>
<Segmentation multipleModelMethod="selectFirst"><Segment><True/>` + tree("b", `<MiningField name="b"/>`) + `</Segment></Segmentation></MiningModel></PMML>`,
	}
	for name, doc := range docs {
		m := loadText(t, doc)
		if n := len(m.Describe().Inputs); n != 1 {
			t.Fatalf("%s: %d inputs, want 1 (a)", name, n)
		}
		if p := predict(t, m, map[string]any{"a": 1.0}); p.Value != 2 {
			t.Errorf("%s: %v, want 2 (b is missing, so b < 5 is not true)", name, p.Value)
		}
	}
}

// A regression NeuralOutput's NormContinuous is inverted piecewise, and a
// value beyond either end extrapolates the segment at that end, as
// NormContinuous itself does, so that the inverse is exact. A value below
// the first norm extrapolated the last segment instead.
func TestNeuralOutputDenormalizesBeyondEnds(t *testing.T) {
	doc := `<PMML version="4.4"><DataDictionary>
<DataField name="x" optype="continuous" dataType="double"/>
<DataField name="y" optype="continuous" dataType="double"/>
</DataDictionary>
<NeuralNetwork functionName="regression" activationFunction="identity">
<MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema>
<NeuralInputs><NeuralInput id="i"><DerivedField optype="continuous" dataType="double"><FieldRef field="x"/></DerivedField></NeuralInput></NeuralInputs>
<NeuralLayer><Neuron id="n" bias="0"><Con from="i" weight="1"/></Neuron></NeuralLayer>
<NeuralOutputs><NeuralOutput outputNeuron="n"><DerivedField optype="continuous" dataType="double">
<NormContinuous field="y"><LinearNorm orig="0" norm="0"/><LinearNorm orig="10" norm="0.5"/><LinearNorm orig="100" norm="1"/></NormContinuous>
</DerivedField></NeuralOutput></NeuralOutputs>
</NeuralNetwork></PMML>`
	m := loadText(t, doc)
	for _, c := range []struct{ x, want float64 }{
		{0.25, 5}, {0.75, 55}, {-0.1, -2}, {1.1, 118},
	} {
		if p := predict(t, m, map[string]any{"x": c.x}); !near(p.Value, c.want, 1e-12) {
			t.Errorf("x=%v: %v, want %v", c.x, p.Value, c.want)
		}
	}
}

// A target category without a RegressionTable has no score: softmax
// normalizes over the tables' categories and gives it 0. It counted as a
// score of 0, taking e^0 of the mass.
func TestSoftmaxOverTablesOnly(t *testing.T) {
	doc := strings.Replace(classDoc("softmax"), `<Value value="yes"/>`, `<Value value="yes"/><Value value="maybe"/>`, 1)
	m := loadText(t, doc)
	x := 0.3
	p := predict(t, m, map[string]any{"x": x})
	want := []float64{1 / (math.Exp(x) + 1), math.Exp(x) / (math.Exp(x) + 1), 0}
	for i := range want {
		if !near(p.Values[i], want[i], 1e-15) {
			t.Fatalf("Values %v, want %v", p.Values, want)
		}
	}
	if p.Label != "yes" {
		t.Fatalf("Label %q, want yes", p.Label)
	}
}

// Two RegressionTables for one category are refused: which would score it?
func TestRegressionTablesForOneCategory(t *testing.T) {
	doc := strings.Replace(classDoc("softmax"), `targetCategory="no"`, `targetCategory="yes"`, 1)
	if _, err := pmml.Parse([]byte(doc)); !errors.Is(err, serving.ErrCorruptModel) || !strings.Contains(err.Error(), "two RegressionTables") {
		t.Fatalf("err = %v, want corrupt: two RegressionTables", err)
	}
}

// A classification whose probabilities come out NaN (simplemax of scores
// summing to 0 here) has no result. It answered the first category, with
// NaN Values and Confidence, which the Server's validation refuses and a
// JSON sink cannot encode.
func TestNaNProbabilitiesAreNoResult(t *testing.T) {
	m := loadText(t, classDoc("simplemax"))
	if p := predict(t, m, map[string]any{"x": 0.5}); p.Label != "yes" || p.Values[1] != 1 {
		t.Fatalf("x=0.5: %+v, want yes with probability 1", p)
	}
	p, err := m.Predict(context.Background(), []float64{0})
	if !errors.Is(err, pmml.ErrNoResult) {
		t.Fatalf("x=0: %+v, %v; want no result", p, err)
	}
}

// chainDoc is a regression model chain: a classification tree (label lo
// or hi, as the output field k) then, when x > 0, a regression on k.
func chainDoc(last string) string {
	return `<PMML version="4.4"><DataDictionary>
<DataField name="x" optype="continuous" dataType="double"/>
<DataField name="c" optype="categorical" dataType="string"><Value value="lo"/><Value value="hi"/></DataField>
<DataField name="y" optype="continuous" dataType="double"/>
</DataDictionary>
<MiningModel functionName="regression"><MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema>
<Segmentation multipleModelMethod="modelChain">
<Segment id="1"><True/><TreeModel functionName="classification"><MiningSchema><MiningField name="x"/><MiningField name="c" usageType="target"/></MiningSchema>
<Output><OutputField name="k" feature="predictedValue"/></Output>
<Node><True/><Node score="lo"><SimplePredicate field="x" operator="lessThan" value="5"/></Node><Node score="hi"><True/></Node></Node></TreeModel></Segment>
<Segment id="2">` + last + `<RegressionModel functionName="regression"><MiningSchema><MiningField name="k"/><MiningField name="y" usageType="target"/></MiningSchema>
<RegressionTable intercept="100"><CategoricalPredictor name="k" value="hi" coefficient="1"/></RegressionTable></RegressionModel></Segment>
</Segmentation></MiningModel></PMML>`
}

// A regression model chain answers with its last segment evaluated; when
// that is a classification, there is no regression value to give. It gave
// the category's index (1 for hi) as the value.
func TestRegressionChainEndingInClassification(t *testing.T) {
	m := loadText(t, chainDoc(`<SimplePredicate field="x" operator="greaterThan" value="0"/>`))
	if p := predict(t, m, map[string]any{"x": 7.0}); p.Value != 101 {
		t.Fatalf("x=7: %v, want 101", p.Value)
	}
	if p, err := m.Predict(context.Background(), []float64{-7}); !errors.Is(err, pmml.ErrNoResult) {
		t.Fatalf("x=-7 (the regression segment is not evaluated): %v, %v; want no result", p.Value, err)
	}
}

// A Scorecard without Characteristics whose baselineMethod needs
// baseline scores is refused as corrupt. Looking for the baselines in the
// absent element dereferenced nil and panicked the load.
func TestScorecardWithoutCharacteristics(t *testing.T) {
	doc := `<PMML version="4.4"><DataDictionary><DataField name="x" optype="continuous" dataType="double"/><DataField name="y" optype="continuous" dataType="double"/></DataDictionary>
<Scorecard functionName="regression" baselineMethod="max"><MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema></Scorecard></PMML>`
	if _, err := pmml.Parse([]byte(doc)); !errors.Is(err, serving.ErrCorruptModel) || !strings.Contains(err.Error(), "without Characteristics") {
		t.Fatalf("err = %v, want corrupt: Scorecard without Characteristics", err)
	}
}

// A regression prediction allocates nothing, as the package documentation
// says, median included: the Apply and Segmentation medians sorted a
// slice allocated per call.
func TestMedianDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop scratch vectors")
	}
	for name, m := range map[string]*pmml.Model{
		"plain":        loadText(t, exprDoc(`<FieldRef field="x"/>`, "")),
		"apply":        loadText(t, exprDoc(`<Apply function="median"><FieldRef field="x"/><FieldRef field="w"/>`+strings.Repeat(`<Constant>4</Constant>`, 7)+`</Apply>`, "")),
		"segmentation": loadText(t, strings.Replace(segDoc("median"), `<Segment id="1"`, strings.Repeat(`<Segment><True/><RegressionModel functionName="regression"><MiningSchema><MiningField name="x"/></MiningSchema><RegressionTable intercept="3"/></RegressionModel></Segment>`, 7)+`<Segment id="1"`, 1)),
	} {
		x := make([]float64, len(m.Describe().Inputs))
		x[0] = 1
		if _, err := m.Predict(context.Background(), x); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = m.Predict(context.Background(), x) }); n != 0 {
			t.Errorf("%s: %v allocations per Predict, want 0", name, n)
		}
	}
}

// isIn compares its first argument with the others: a string field
// against numbers compared an interned string index with the numbers and
// answered at random. Like equal, it refuses arguments of two kinds.
func TestIsInOfStringAndNumbers(t *testing.T) {
	doc := `<PMML version="4.4"><DataDictionary>
<DataField name="z" optype="categorical" dataType="string"><Value value="7"/><Value value="1"/><Value value="2"/></DataField>
<DataField name="y" optype="continuous" dataType="double"/>
</DataDictionary>
<TransformationDictionary><DerivedField name="d" optype="continuous" dataType="double"><Apply function="isIn"><FieldRef field="z"/><Constant>1</Constant><Constant>2</Constant></Apply></DerivedField></TransformationDictionary>
<RegressionModel functionName="regression"><MiningSchema><MiningField name="z"/><MiningField name="y" usageType="target"/></MiningSchema>
<RegressionTable intercept="0"><NumericPredictor name="d" coefficient="1"/></RegressionTable></RegressionModel></PMML>`
	m, err := pmml.Parse([]byte(doc))
	if err == nil {
		p := predict(t, m, map[string]any{"z": "7"})
		t.Fatalf("loaded; isIn(\"7\", 1, 2) = %v", p.Value)
	}
	if !errors.Is(err, serving.ErrUnsupportedModel) || !strings.Contains(err.Error(), "isIn") {
		t.Fatalf("err = %v, want unsupported naming isIn", err)
	}
	// Strings against strings compare as strings.
	m = loadText(t, strings.ReplaceAll(doc, "<Constant>", `<Constant dataType="string">`))
	for z, want := range map[string]float64{"7": 0, "1": 1, "2": 1} {
		if p := predict(t, m, map[string]any{"z": z}); p.Value != want {
			t.Errorf("isIn(%q, \"1\", \"2\") = %v, want %v", z, p.Value, want)
		}
	}
}

// boolDoc is a regression tree on the boolean DerivedField big, defined
// by expr over x (number) and the boolean input flag.
func boolDoc(expr, test string) string {
	return `<PMML version="4.4"><DataDictionary>
<DataField name="x" optype="continuous" dataType="double"/>
<DataField name="flag" optype="categorical" dataType="boolean"><Value value="true"/><Value value="false"/></DataField>
<DataField name="y" optype="continuous" dataType="double"/>
</DataDictionary>
<TransformationDictionary><DerivedField name="big" optype="categorical" dataType="boolean">` + expr + `</DerivedField></TransformationDictionary>
<TreeModel functionName="regression"><MiningSchema><MiningField name="x"/><MiningField name="flag"/><MiningField name="y" usageType="target"/></MiningSchema>
<Node><True/><Node score="1">` + test + `</Node><Node score="2"><True/></Node></Node></TreeModel></PMML>`
}

// A boolean DerivedField holds "true" or "false": a comparison's 1 or 0
// converted to the boolean dataType is "true" or "false", and a boolean
// field read by a boolean function is 1 or 0. The number became the
// text "1", which no predicate on "true" matched, and a boolean input
// fed to and/or/not/if counted as true whenever its string's index was
// not 0.
func TestBooleanFields(t *testing.T) {
	isTrue := `<SimplePredicate field="big" operator="equal" value="true"/>`
	for _, c := range []struct {
		name, expr, test string
		x                float64
		flag             string
		want             float64
	}{
		{"comparison true", `<Apply function="greaterThan"><FieldRef field="x"/><Constant>5</Constant></Apply>`, isTrue, 10, "false", 1},
		{"comparison false", `<Apply function="greaterThan"><FieldRef field="x"/><Constant>5</Constant></Apply>`, isTrue, 1, "false", 2},
		{"comparison isIn", `<Apply function="greaterThan"><FieldRef field="x"/><Constant>5</Constant></Apply>`, `<SimpleSetPredicate field="big" booleanOperator="isIn"><Array type="string">true</Array></SimpleSetPredicate>`, 10, "false", 1},
		{"and of a boolean input, false", `<Apply function="and"><FieldRef field="flag"/><Apply function="greaterThan"><FieldRef field="x"/><Constant>5</Constant></Apply></Apply>`, isTrue, 10, "false", 2},
		{"and of a boolean input, true", `<Apply function="and"><FieldRef field="flag"/><Apply function="greaterThan"><FieldRef field="x"/><Constant>5</Constant></Apply></Apply>`, isTrue, 10, "true", 1},
		{"not of a boolean input", `<Apply function="not"><FieldRef field="flag"/></Apply>`, isTrue, 0, "false", 1},
		{"if on a boolean input", `<Apply function="if"><FieldRef field="flag"/><Constant dataType="boolean">false</Constant><Constant dataType="boolean">true</Constant></Apply>`, isTrue, 0, "false", 1},
	} {
		m, err := pmml.Parse([]byte(boolDoc(c.expr, c.test)))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		p, err := m.Predict(context.Background(), vec(t, m, map[string]any{"x": c.x, "flag": c.flag}))
		if err != nil || p.Value != c.want {
			t.Errorf("%s: %v, %v; want %v", c.name, p.Value, err, c.want)
		}
	}
}

// A scorecard with reason code outputs allocates nothing per Predict:
// ranking the reason codes sorted a slice through sort.SliceStable (12
// allocations per Predict for the DMG example's three codes).
func TestScorecardReasonCodesDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop scratch vectors")
	}
	m := loadFile(t, "pmml4s/dmg_scorecard_example.xml")
	x := vec(t, m, map[string]any{"department": "engineering", "age": 25, "income": 500})
	if p := predict(t, m, map[string]any{"department": "engineering", "age": 25, "income": 500}); p.Value != 29 {
		t.Fatalf("score %v, want 29", p.Value)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = m.Predict(context.Background(), x) }); n != 0 {
		t.Errorf("%v allocations per Predict, want 0", n)
	}
}

// The aggregate functions ignore missing arguments, as the PMML built-in
// functions define them, and are missing only when every argument is.
// Any missing argument made them missing.
func TestAggregatesIgnoreMissing(t *testing.T) {
	nan := math.NaN()
	args := `<FieldRef field="x"/><FieldRef field="w"/><Constant>4</Constant><Constant>9</Constant>`
	for _, c := range []struct {
		fn   string
		x, w float64
		want float64
	}{
		{"sum", 2, nan, 15},
		{"avg", 2, nan, 5},
		{"min", 20, nan, 4},
		{"max", 2, nan, 9},
		{"product", 2, nan, 72},
		{"median", 2, nan, 4},
		{"median", 6, nan, 6},
		{"avg", 2, 1, 4},
	} {
		m := loadText(t, exprDoc(`<Apply function="`+c.fn+`">`+args+`</Apply>`, ""))
		p, err := m.Predict(context.Background(), []float64{c.x, c.w, 0})
		if err != nil || !near(p.Value, c.want, 1e-15) {
			t.Errorf("%s(%v, %v, 4, 9) = %v, %v; want %v", c.fn, c.x, c.w, p.Value, err, c.want)
		}
	}
	m := loadText(t, exprDoc(`<Apply function="sum"><FieldRef field="x"/><FieldRef field="w"/></Apply>`, ""))
	var fe *serving.FieldError
	if _, err := m.Predict(context.Background(), []float64{nan, nan, 0}); !errors.As(err, &fe) || !errors.Is(err, serving.ErrMissingField) {
		t.Errorf("sum of two missing values: %v, want a missing field", err)
	}
}

// A string converted to a number (a DerivedField of dataType double over
// a string field) converts every string the document names, including
// those interned after the DerivedField was compiled: the categories a
// field without Values gathers from the model. The conversion table was
// a snapshot taken per DerivedField, so "7", named only by the model
// compiled after the TransformationDictionary, converted to missing; and
// each conversion copied the whole string table, quadratic in the
// document's size.
func TestStringToNumberOfLaterStrings(t *testing.T) {
	doc := `<PMML version="4.4"><DataDictionary>
<DataField name="s" optype="categorical" dataType="string"/>
<DataField name="y" optype="continuous" dataType="double"/>
</DataDictionary>
<TransformationDictionary><DerivedField name="d" optype="continuous" dataType="double"><FieldRef field="s"/></DerivedField></TransformationDictionary>
<RegressionModel functionName="regression"><MiningSchema><MiningField name="s"/><MiningField name="y" usageType="target"/></MiningSchema>
<RegressionTable intercept="0"><NumericPredictor name="d" coefficient="1"/><CategoricalPredictor name="s" value="7" coefficient="0"/><CategoricalPredictor name="s" value="8.5" coefficient="0"/></RegressionTable>
</RegressionModel></PMML>`
	m := loadText(t, doc)
	for s, want := range map[string]float64{"7": 7, "8.5": 8.5} {
		p, err := m.Predict(context.Background(), vec(t, m, map[string]any{"s": s}))
		if err != nil || p.Value != want {
			t.Errorf("s=%q: %v, %v; want %v", s, p.Value, err, want)
		}
	}
}

// A classification tree's nodes each keep a probability per category, so
// a document can ask for (categories × nodes) values while naming one
// ScoreDistribution per node: 3,000 categories and 3,000 such nodes (a
// 0.4 MB document) took 144 MB. The values the document does not write
// out count against the plan budget, and such a document is refused.
func TestTreeDistributionBudget(t *testing.T) {
	doc := func(n int) string {
		var b strings.Builder
		b.WriteString(`<PMML version="4.4"><DataDictionary><DataField name="x" optype="continuous" dataType="double"/><DataField name="y" optype="categorical" dataType="string">`)
		for i := range n {
			fmt.Fprintf(&b, `<Value value="c%d"/>`, i)
		}
		b.WriteString(`</DataField></DataDictionary><TreeModel functionName="classification"><MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema><Node><True/>`)
		for i := range n {
			fmt.Fprintf(&b, `<Node><SimplePredicate field="x" operator="lessThan" value="%d"/><ScoreDistribution value="c%d" recordCount="1"/></Node>`, i+1, i)
		}
		b.WriteString(`</Node></TreeModel></PMML>`)
		return b.String()
	}
	_, err := pmml.Parse([]byte(doc(3000)))
	if !errors.Is(err, serving.ErrCorruptModel) || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("err = %v, want corrupt: plan too large", err)
	}
	// The same tree over 30 categories loads and scores.
	m := loadText(t, doc(30))
	if p := predict(t, m, map[string]any{"x": 2.5}); p.Label != "c2" || p.Values[2] != 1 || len(p.Values) != 30 {
		t.Fatalf("x=2.5: %+v, want c2", p)
	}
}

// A MiningField listed twice is refused: each listing became an input with
// its own copy of the field's categories, so a field with many Values
// listed many times (a few bytes each) multiplied them.
func TestDuplicateMiningField(t *testing.T) {
	doc := strings.Replace(regDoc(""), `<MiningField name="c"/>`, `<MiningField name="c"/><MiningField name="c"/>`, 1)
	if _, err := pmml.Parse([]byte(doc)); !errors.Is(err, serving.ErrCorruptModel) || !strings.Contains(err.Error(), `"c"`) {
		t.Fatalf("err = %v, want corrupt naming c", err)
	}
}

// A softmax over a score that overflowed to +Inf gives that category
// probability 1, the limit, rather than Inf-Inf = NaN (no result); a
// score of -Inf gets 0.
func TestSoftmaxOfInfiniteScores(t *testing.T) {
	doc := strings.Replace(classDoc("softmax"), `coefficient="1"`, `coefficient="10"`, 1)
	m := loadText(t, doc)
	for x, want := range map[float64]string{1e308: "yes", -1e308: "no"} {
		p, err := m.Predict(context.Background(), []float64{x})
		if err != nil || p.Label != want || p.Confidence != 1 || p.Values[0]+p.Values[1] != 1 {
			t.Errorf("x=%v: %+v, %v; want %s with probability 1", x, p, err, want)
		}
	}
}

// and and or are missing when any argument is, like the other built-in
// functions that do not tolerate missing values (JPMML-Evaluator's
// reading of the specification): and(false, missing) answered false.
func TestLogicalFunctionsOfMissing(t *testing.T) {
	nan := math.NaN()
	args := `<Apply function="greaterThan"><FieldRef field="x"/><Constant>0</Constant></Apply><Apply function="greaterThan"><FieldRef field="w"/><Constant>0</Constant></Apply>`
	for _, c := range []struct {
		fn   string
		x, w float64
		want float64 // NaN: missing
	}{
		{"and", -1, nan, nan},
		{"or", 1, nan, nan},
		{"and", 1, 1, 1},
		{"and", -1, 1, 0},
		{"or", -1, 1, 1},
		{"or", -1, -1, 0},
	} {
		m := loadText(t, exprDoc(`<Apply function="`+c.fn+`">`+args+`</Apply>`, ""))
		p, err := m.Predict(context.Background(), []float64{c.x, c.w, 0})
		if math.IsNaN(c.want) {
			if !errors.Is(err, serving.ErrMissingField) {
				t.Errorf("%s(%v > 0, %v > 0) = %v, %v; want missing", c.fn, c.x, c.w, p.Value, err)
			}
			continue
		}
		if err != nil || p.Value != c.want {
			t.Errorf("%s(%v > 0, %v > 0) = %v, %v; want %v", c.fn, c.x, c.w, p.Value, err, c.want)
		}
	}
}

// A scorecard without a result (no attribute matched) that answers with
// its TargetValue defaultValue has no reason codes. Its reasonCode output
// read the codes the previous record left in the pooled scratch vector,
// so a later segment of the chain branched on another record's reasons.
func TestScorecardDefaultHasNoReasonCodes(t *testing.T) {
	doc := `<PMML version="4.4"><DataDictionary>
<DataField name="x" optype="continuous" dataType="double"/>
<DataField name="y" optype="continuous" dataType="double"/>
</DataDictionary>
<MiningModel functionName="regression"><MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema>
<Segmentation multipleModelMethod="modelChain">
<Segment id="1"><True/><Scorecard functionName="regression" baselineScore="0">
<MiningSchema><MiningField name="x"/></MiningSchema>
<Output><OutputField name="r" feature="reasonCode" rank="1"/></Output>
<Targets><Target><TargetValue defaultValue="-1"/></Target></Targets>
<Characteristics><Characteristic reasonCode="RC1"><Attribute partialScore="1"><SimplePredicate field="x" operator="lessThan" value="5"/></Attribute></Characteristic></Characteristics>
</Scorecard></Segment>
<Segment id="2"><True/><TreeModel functionName="regression"><MiningSchema><MiningField name="r"/></MiningSchema>
<Node><True/><Node score="1"><SimplePredicate field="r" operator="equal" value="RC1"/></Node><Node score="2"><True/></Node></Node></TreeModel></Segment>
</Segmentation></MiningModel></PMML>`
	m := loadText(t, doc)
	for _, c := range []struct{ x, want float64 }{{1, 1}, {7, 2}, {1, 1}, {7, 2}} {
		if p := predict(t, m, map[string]any{"x": c.x}); p.Value != c.want {
			t.Errorf("x=%v: %v, want %v", c.x, p.Value, c.want)
		}
	}
}
