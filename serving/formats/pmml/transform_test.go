package pmml_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving/formats/pmml"
)

// exprDoc is a regression whose value is the DerivedField d defined by
// expr, over the inputs x (number), w (number) and c (category a, b, c).
func exprDoc(expr, extra string) string {
	return `<PMML version="4.4"><DataDictionary>
<DataField name="x" optype="continuous" dataType="double"/>
<DataField name="w" optype="continuous" dataType="double"/>
<DataField name="c" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/><Value value="c"/></DataField>
<DataField name="y" optype="continuous" dataType="double"/>
</DataDictionary>
<TransformationDictionary>
<DerivedField name="d" optype="continuous" dataType="double">` + expr + `</DerivedField>
</TransformationDictionary>
<RegressionModel functionName="regression">
<MiningSchema><MiningField name="x"/><MiningField name="w"/><MiningField name="c"/><MiningField name="y" usageType="target"/></MiningSchema>` + extra + `
<RegressionTable intercept="0"><NumericPredictor name="d" coefficient="1"/></RegressionTable>
</RegressionModel></PMML>`
}

// TestExpressions checks each transformation on hand-computed values.
func TestExpressions(t *testing.T) {
	nan := math.NaN()
	const a, b, c = 0, 1, 2
	norm := `<NormContinuous field="x"><LinearNorm orig="0" norm="0"/><LinearNorm orig="10" norm="1"/><LinearNorm orig="20" norm="3"/></NormContinuous>`
	cases := []struct {
		name, expr string
		x, w, c    float64
		want       float64 // NaN: the model has no result
	}{
		{"constant", `<Constant>2.5</Constant>`, 0, 0, a, 2.5},
		{"fieldref", `<FieldRef field="x"/>`, 7, 0, a, 7},
		{"fieldref mapMissingTo", `<FieldRef field="x" mapMissingTo="-3"/>`, nan, 0, a, -3},
		{"norm first segment", norm, 5, 0, a, 0.5},
		{"norm second segment", norm, 15, 0, a, 2},
		{"norm extrapolates", norm, 30, 0, a, 5},
		{"norm extreme", `<NormContinuous field="x" outliers="asExtremeValues"><LinearNorm orig="0" norm="0"/><LinearNorm orig="10" norm="1"/></NormContinuous>`, 30, 0, a, 1},
		{"norm missing", `<NormContinuous field="x" mapMissingTo="9"><LinearNorm orig="0" norm="0"/><LinearNorm orig="10" norm="1"/></NormContinuous>`, nan, 0, a, 9},
		{"normdiscrete hit", `<NormDiscrete field="c" value="b"/>`, 0, 0, b, 1},
		{"normdiscrete miss", `<NormDiscrete field="c" value="b"/>`, 0, 0, c, 0},
		{"discretize", `<Discretize field="x" defaultValue="-1"><DiscretizeBin binValue="10"><Interval closure="closedOpen" leftMargin="0" rightMargin="5"/></DiscretizeBin><DiscretizeBin binValue="20"><Interval closure="closedOpen" leftMargin="5"/></DiscretizeBin></Discretize>`, 5, 0, a, 20},
		{"discretize default", `<Discretize field="x" defaultValue="-1"><DiscretizeBin binValue="10"><Interval closure="closedOpen" leftMargin="0" rightMargin="5"/></DiscretizeBin></Discretize>`, -2, 0, a, -1},
		{"mapvalues", `<MapValues outputColumn="out" defaultValue="0"><FieldColumnPair field="c" column="in"/><InlineTable><row><in>a</in><out>1.5</out></row><row><in>c</in><out>4</out></row></InlineTable></MapValues>`, 0, 0, c, 4},
		{"mapvalues default", `<MapValues outputColumn="out" defaultValue="0"><FieldColumnPair field="c" column="in"/><InlineTable><row><in>a</in><out>1.5</out></row></InlineTable></MapValues>`, 0, 0, b, 0},
		{"mapvalues two keys", `<MapValues outputColumn="out"><FieldColumnPair field="c" column="k1"/><FieldColumnPair field="x" column="k2"/><InlineTable><row><k1>a</k1><k2>1</k2><out>7</out></row><row><k1>a</k1><k2>2</k2><out>8</out></row></InlineTable></MapValues>`, 2, 0, a, 8},
		{"arithmetic", `<Apply function="+"><Apply function="*"><FieldRef field="x"/><Constant>3</Constant></Apply><Apply function="/"><FieldRef field="w"/><Constant>4</Constant></Apply></Apply>`, 2, 2, a, 6.5},
		{"division by zero", `<Apply function="/"><FieldRef field="x"/><FieldRef field="w"/></Apply>`, 1, 0, a, nan},
		{"functions", `<Apply function="sum"><Apply function="ln"><Apply function="exp"><FieldRef field="x"/></Apply></Apply><Apply function="pow"><Constant>2</Constant><Constant>3</Constant></Apply><Apply function="abs"><Constant>-1</Constant></Apply><Apply function="threshold"><FieldRef field="x"/><Constant>1</Constant></Apply></Apply>`, 2, 0, a, 12},
		{"min max avg median", `<Apply function="sum"><Apply function="min"><FieldRef field="x"/><FieldRef field="w"/></Apply><Apply function="max"><FieldRef field="x"/><FieldRef field="w"/></Apply><Apply function="avg"><FieldRef field="x"/><FieldRef field="w"/></Apply><Apply function="median"><Constant>1</Constant><Constant>9</Constant><Constant>4</Constant></Apply></Apply>`, 2, 6, a, 2 + 6 + 4 + 4},
		{"if then", `<Apply function="if"><Apply function="greaterThan"><FieldRef field="x"/><Constant>0</Constant></Apply><Constant>1</Constant><Constant>2</Constant></Apply>`, 1, 0, a, 1},
		{"if else", `<Apply function="if"><Apply function="greaterThan"><FieldRef field="x"/><Constant>0</Constant></Apply><Constant>1</Constant><Constant>2</Constant></Apply>`, -1, 0, a, 2},
		{"if on string", `<Apply function="if"><Apply function="equal"><FieldRef field="c"/><Constant>b</Constant></Apply><Constant>1</Constant><Constant>2</Constant></Apply>`, 0, 0, b, 1},
		{"isMissing", `<Apply function="if"><Apply function="isMissing"><FieldRef field="x"/></Apply><Constant>5</Constant><FieldRef field="x"/></Apply>`, nan, 0, a, 5},
		{"isNotMissing", `<Apply function="isNotMissing"><FieldRef field="x"/></Apply>`, nan, 0, a, 0},
		{"boolean", `<Apply function="and"><Apply function="or"><Apply function="lessThan"><FieldRef field="x"/><Constant>0</Constant></Apply><Apply function="notEqual"><FieldRef field="c"/><Constant>a</Constant></Apply></Apply><Apply function="not"><Apply function="equal"><FieldRef field="w"/><Constant>1</Constant></Apply></Apply></Apply>`, 3, 0, b, 1},
		{"isIn", `<Apply function="isIn"><FieldRef field="c"/><Constant>a</Constant><Constant>c</Constant></Apply>`, 0, 0, c, 1},
		{"missing propagates", `<Apply function="+"><FieldRef field="x"/><Constant>1</Constant></Apply>`, nan, 0, a, nan},
		{"apply mapMissingTo", `<Apply function="+" mapMissingTo="-1"><FieldRef field="x"/><Constant>1</Constant></Apply>`, nan, 0, a, -1},
		{"apply defaultValue", `<Apply function="/" defaultValue="0" invalidValueTreatment="asMissing"><FieldRef field="x"/><FieldRef field="w"/></Apply>`, 1, 0, a, 0},
		// isIn of a missing value is false (isNotIn true), unless the
		// list holds a missing value, as JPMML evaluates it; not missing.
		{"isIn missing", `<Apply function="isIn"><FieldRef field="c"/><Constant>a</Constant><Constant>c</Constant></Apply>`, 0, 0, nan, 0},
		{"isNotIn missing", `<Apply function="isNotIn"><FieldRef field="c"/><Constant>a</Constant><Constant>c</Constant></Apply>`, 0, 0, nan, 1},
		{"isIn missing listed", `<Apply function="isIn"><FieldRef field="x"/><Constant>1</Constant><Constant missing="true"/></Apply>`, nan, 0, a, 1},
		{"isNotIn missing listed", `<Apply function="isNotIn"><FieldRef field="x"/><Constant>1</Constant><Constant missing="true"/></Apply>`, nan, 0, a, 0},
		{"isIn present not missing", `<Apply function="isIn"><FieldRef field="x"/><Constant>1</Constant><Constant missing="true"/></Apply>`, 2, 0, a, 0},
	}
	for _, k := range cases {
		t.Run(k.name, func(t *testing.T) {
			m := loadText(t, exprDoc(k.expr, ""))
			p, err := m.Predict(context.Background(), []float64{k.x, k.w, k.c})
			if math.IsNaN(k.want) {
				if err == nil {
					t.Fatalf("got %v, want no result", p.Value)
				}
				return
			}
			if err != nil || math.Abs(p.Value-k.want) > 1e-12 {
				t.Fatalf("got %v, %v; want %v", p.Value, err, k.want)
			}
		})
	}
}

func TestTargets(t *testing.T) {
	tg := `<Targets><Target field="y" rescaleFactor="2" rescaleConstant="1" min="0" max="10" castInteger="round"/></Targets>`
	m := loadText(t, exprDoc(`<FieldRef field="x"/>`, tg))
	for _, c := range []struct{ x, want float64 }{{2.3, 6}, {-5, 1}, {50, 21}} {
		p, err := m.Predict(context.Background(), []float64{c.x, 0, 0})
		if err != nil || p.Value != c.want {
			t.Errorf("x=%v: %v, %v; want %v", c.x, p.Value, err, c.want)
		}
	}
}

// classDoc is a two-table classification RegressionModel over x with the
// given normalization: y_yes = x, y_no = 0.
func classDoc(method string) string {
	return `<PMML version="4.4"><DataDictionary>
<DataField name="x" optype="continuous" dataType="double"/>
<DataField name="y" optype="categorical" dataType="string"><Value value="no"/><Value value="yes"/></DataField>
</DataDictionary>
<RegressionModel functionName="classification" normalizationMethod="` + method + `">
<MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema>
<RegressionTable intercept="0" targetCategory="yes"><NumericPredictor name="x" coefficient="1"/></RegressionTable>
<RegressionTable intercept="0" targetCategory="no"/>
</RegressionModel></PMML>`
}

func TestNormalizationMethods(t *testing.T) {
	x := 0.3
	cases := map[string]float64{ // P(yes) at x
		"logit":     1 / (1 + math.Exp(-x)),
		"probit":    0.5 * math.Erfc(-x/math.Sqrt2),
		"cloglog":   1 - math.Exp(-math.Exp(x)),
		"loglog":    math.Exp(-math.Exp(-x)),
		"cauchit":   0.5 + math.Atan(x)/math.Pi,
		"softmax":   math.Exp(x) / (math.Exp(x) + 1),
		"simplemax": x / (x + 0),
		"none":      x,
	}
	for method, want := range cases {
		m := loadText(t, classDoc(method))
		p, err := m.Predict(context.Background(), []float64{x})
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		if math.Abs(p.Values[1]-want) > 1e-15 {
			t.Errorf("%s: P(yes) = %v, want %v", method, p.Values[1], want)
		}
		if method != "simplemax" && math.Abs(p.Values[0]+p.Values[1]-1) > 1e-15 {
			t.Errorf("%s: probabilities %v do not sum to 1", method, p.Values)
		}
	}
}

// TestApplyInvalidResults checks invalidValueTreatment of Apply: a
// result that is not a finite number although every argument is present
// (ln(-1), 0/0, x/0, an overflow) is invalid. returnInvalid, the default,
// fails the record with ErrNoResult naming the function, as JPMML fails
// the evaluation, and so does asIs, as JPMML re-throws the invalid
// result; asMissing gives a missing value; a missing argument stays a
// missing result under every treatment. Each document
// reads the result through isMissing, so that a missing result is a
// value the test sees, not an error.
func TestApplyInvalidResults(t *testing.T) {
	nan := math.NaN()
	isMissing := func(inner string) string {
		return `<Apply function="if"><Apply function="isMissing">` + inner + `</Apply><Constant>7</Constant><Constant>1</Constant></Apply>`
	}
	ln := func(attrs string) string {
		return `<Apply function="ln"` + attrs + `><FieldRef field="x"/></Apply>`
	}
	cases := []struct {
		name, expr string
		x, w       float64
		want       float64 // NaN: the record fails with ErrNoResult
	}{
		{"ln(-1) returnInvalid by default", isMissing(ln("")), -1, 0, nan},
		{"ln(-1) returnInvalid", isMissing(ln(` invalidValueTreatment="returnInvalid"`)), -1, 0, nan},
		{"ln(-1) asMissing", isMissing(ln(` invalidValueTreatment="asMissing"`)), -1, 0, 7},
		// asIs passes the invalid result on, and JPMML re-throws it: the
		// evaluation fails as under returnInvalid.
		{"ln(-1) asIs", isMissing(ln(` invalidValueTreatment="asIs"`)), -1, 0, nan},
		{"ln(missing) asIs is missing", isMissing(ln(` invalidValueTreatment="asIs"`)), nan, 0, 7},
		{"ln(2) is valid", isMissing(ln("")), 2, 0, 1},
		{"ln(missing) is missing, not invalid", isMissing(ln("")), nan, 0, 7},
		{"0/0", isMissing(`<Apply function="/"><FieldRef field="x"/><FieldRef field="w"/></Apply>`), 0, 0, nan},
		{"x/0", isMissing(`<Apply function="/"><FieldRef field="x"/><FieldRef field="w"/></Apply>`), 1, 0, nan},
		{"x/0 asMissing defaultValue", `<Apply function="/" invalidValueTreatment="asMissing" defaultValue="3"><FieldRef field="x"/><FieldRef field="w"/></Apply>`, 1, 0, 3},
		{"overflow", isMissing(`<Apply function="exp"><FieldRef field="x"/></Apply>`), 1000, 0, nan},
		{"sum overflow", isMissing(`<Apply function="sum"><FieldRef field="x"/><FieldRef field="w"/></Apply>`), 1.5e308, 1.5e308, nan},
		{"inner invalid, outer asMissing", isMissing(`<Apply function="+" invalidValueTreatment="asMissing">` + ln("") + `<Constant>1</Constant></Apply>`), -1, 0, nan},
		{"inner asMissing, outer default", isMissing(`<Apply function="+">` + ln(` invalidValueTreatment="asMissing"`) + `<Constant>1</Constant></Apply>`), -1, 0, 7},
	}
	for _, k := range cases {
		t.Run(k.name, func(t *testing.T) {
			m := loadText(t, exprDoc(k.expr, ""))
			p, err := m.Predict(context.Background(), []float64{k.x, k.w, 0})
			if math.IsNaN(k.want) {
				if !errors.Is(err, pmml.ErrNoResult) {
					t.Fatalf("got %v, %v; want ErrNoResult", p.Value, err)
				}
				return
			}
			if err != nil || p.Value != k.want {
				t.Fatalf("got %v, %v; want %v", p.Value, err, k.want)
			}
			// The pooled state carries no failure over to the next record.
			if _, err := m.Predict(context.Background(), []float64{2, 1, 0}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestUnusedDerivedFieldIsNotEvaluated: a DerivedField the model never
// reads (in the TransformationDictionary or a model's
// LocalTransformations) is not computed, as JPMML computes a field only
// when the model first asks for it. Its Apply's invalid result (x/0
// under the default returnInvalid) failed every such record with
// ErrNoResult, although nothing in the answer depends on it.
func TestUnusedDerivedFieldIsNotEvaluated(t *testing.T) {
	ratio := `<DerivedField name="ratio" optype="continuous" dataType="double"><Apply function="/"><FieldRef field="x"/><FieldRef field="w"/></Apply></DerivedField>`
	doc := func(global, local string) string {
		return `<PMML version="4.4"><DataDictionary>
<DataField name="x" optype="continuous" dataType="double"/>
<DataField name="w" optype="continuous" dataType="double"/>
<DataField name="y" optype="continuous" dataType="double"/>
</DataDictionary>
<TransformationDictionary>` + global + `</TransformationDictionary>
<RegressionModel functionName="regression">
<MiningSchema><MiningField name="x"/><MiningField name="w"/><MiningField name="y" usageType="target"/></MiningSchema>
<LocalTransformations>` + local + `</LocalTransformations>
<RegressionTable intercept="1"><NumericPredictor name="x" coefficient="2"/></RegressionTable>
</RegressionModel></PMML>`
	}
	for name, d := range map[string]string{
		"TransformationDictionary": doc(ratio, ""),
		"LocalTransformations":     doc("", ratio),
	} {
		t.Run(name, func(t *testing.T) {
			m := loadText(t, d)
			p, err := m.Predict(context.Background(), []float64{3, 0})
			if err != nil || p.Value != 7 {
				t.Fatalf("x=3, w=0: got %v, %v; want 7 (ratio is never read)", p.Value, err)
			}
		})
	}
	// A field that is read still fails the record.
	m := loadText(t, strings.Replace(doc(ratio, ""), `<NumericPredictor name="x" coefficient="2"/>`, `<NumericPredictor name="x" coefficient="2"/><NumericPredictor name="ratio" coefficient="1"/>`, 1))
	if _, err := m.Predict(context.Background(), []float64{3, 0}); !errors.Is(err, pmml.ErrNoResult) {
		t.Fatalf("ratio read: %v, want ErrNoResult", err)
	}
	// An unused field is still checked at load.
	bad := `<DerivedField name="bad" optype="continuous" dataType="double"><FieldRef field="nowhere"/></DerivedField>`
	for _, d := range []string{doc(bad, ""), doc("", bad)} {
		if _, err := pmml.Parse([]byte(d)); err == nil {
			t.Errorf("an unused DerivedField naming an undefined field loads")
		}
	}
}
