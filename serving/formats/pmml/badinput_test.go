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

// regDoc is a small regression document whose MiningSchema attributes
// for x are given by attrs.
func regDoc(attrs string) string {
	return `<PMML version="4.4" xmlns="http://www.dmg.org/PMML-4_4">
<DataDictionary>
  <DataField name="x" optype="continuous" dataType="double"><Interval closure="closedClosed" leftMargin="0" rightMargin="10"/><Value value="-1" property="missing"/></DataField>
  <DataField name="c" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/><Value value="?" property="missing"/><Value value="z" property="invalid"/></DataField>
  <DataField name="y" optype="continuous" dataType="double"/>
</DataDictionary>
<RegressionModel functionName="regression">
  <MiningSchema><MiningField name="x" ` + attrs + `/><MiningField name="c"/><MiningField name="y" usageType="target"/></MiningSchema>
  <RegressionTable intercept="1"><NumericPredictor name="x" coefficient="2"/><CategoricalPredictor name="c" value="b" coefficient="10"/></RegressionTable>
</RegressionModel>
</PMML>`
}

func TestLoadRefusals(t *testing.T) {
	deep := "<PMML>" + strings.Repeat("<Extension>", pmml.MaxDepth+1) + strings.Repeat("</Extension>", pmml.MaxDepth+1) + "</PMML>"
	cases := []struct {
		name, doc string
		kind      error
		says      string
	}{
		{"entity", `<?xml version="1.0"?><!DOCTYPE PMML [<!ENTITY x "boom">]><PMML>&x;</PMML>`, serving.ErrCorruptModel, "DOCTYPE"},
		{"billion laughs", `<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><PMML>&b;</PMML>`, serving.ErrCorruptModel, "DOCTYPE"},
		{"external entity", `<!DOCTYPE PMML SYSTEM "file:///etc/passwd"><PMML/>`, serving.ErrCorruptModel, "DOCTYPE"},
		{"undeclared entity", `<PMML>&x;</PMML>`, serving.ErrCorruptModel, "XML"},
		{"deep", deep, serving.ErrCorruptModel, "nested deeper"},
		{"huge attribute", `<PMML version="` + strings.Repeat("4", pmml.MaxAttrBytes+1) + `"/>`, serving.ErrCorruptModel, "over the limit"},
		// XML allows an attribute once per element (encoding/xml does not
		// check it): the first was read, where another reader may take
		// the last or refuse the document.
		{"attribute twice", regDoc(`invalidValueTreatment="asIs" invalidValueTreatment="returnInvalid"`), serving.ErrCorruptModel, "attribute invalidValueTreatment twice"},
		{"attribute twice in namespaces", strings.Replace(regDoc(`a:outliers="asIs" b:outliers="asExtremeValues"`), "<PMML", `<PMML xmlns:a="urn:a" xmlns:b="urn:b"`, 1), serving.ErrCorruptModel, "attribute outliers twice"},
		{"many attributes, one twice", `<PMML ` + manyAttrs(40) + ` a7=""/>`, serving.ErrCorruptModel, "attribute a7 twice"},
		// Elements PMML allows once, of which the compiler read the first
		// (the last, for the DataDictionary) and ignored the others.
		{"second DataDictionary", strings.Replace(regDoc(""), "<RegressionModel", `<DataDictionary><DataField name="x" optype="continuous" dataType="double"/></DataDictionary><RegressionModel`, 1), serving.ErrCorruptModel, "a second <DataDictionary>"},
		{"second MiningSchema", strings.Replace(regDoc(""), "<RegressionTable", `<MiningSchema><MiningField name="c"/></MiningSchema><RegressionTable`, 1), serving.ErrCorruptModel, "a second <MiningSchema>"},
		{"second Targets", strings.Replace(regDoc(""), "<RegressionTable", `<Targets/><Targets><Target rescaleFactor="2"/></Targets><RegressionTable`, 1), serving.ErrCorruptModel, "a second <Targets>"},
		{"second root Node", `<PMML><DataDictionary><DataField name="x" optype="continuous" dataType="double"/></DataDictionary><TreeModel functionName="regression"><MiningSchema><MiningField name="x"/></MiningSchema><Node score="1"><True/></Node><Node score="2"><True/></Node></TreeModel></PMML>`, serving.ErrCorruptModel, "a second <Node>"},
		{"second predicate", `<PMML><DataDictionary><DataField name="x" optype="continuous" dataType="double"/></DataDictionary><TreeModel functionName="regression"><MiningSchema><MiningField name="x"/></MiningSchema><Node score="1"><True/><Node score="2"><SimplePredicate field="x" operator="lessThan" value="0"/><False/></Node></Node></TreeModel></PMML>`, serving.ErrCorruptModel, "a second predicate <False>"},
		{"empty", ``, serving.ErrCorruptModel, "no root"},
		{"not xml", `{"kind":"linear"}`, serving.ErrCorruptModel, "outside the root"},
		{"truncated", regDoc("")[:300], serving.ErrCorruptModel, "XML"},
		{"other root", `<html/>`, serving.ErrCorruptModel, "want <PMML>"},
		{"two roots", `<PMML/><PMML/>`, serving.ErrCorruptModel, "second root"},
		{"no model", `<PMML><DataDictionary/></PMML>`, serving.ErrCorruptModel, "no model"},
		{"unknown field", strings.Replace(regDoc(""), `<NumericPredictor name="x"`, `<NumericPredictor name="z"`, 1), serving.ErrCorruptModel, `"z" is not defined`},
		{"bad number", strings.Replace(regDoc(""), `coefficient="2"`, `coefficient="two"`, 1), serving.ErrCorruptModel, "not a number"},
		{"bad treatment", regDoc(`invalidValueTreatment="sometimes"`), serving.ErrCorruptModel, "invalidValueTreatment"},
		{"naive bayes", strings.Replace(strings.Replace(regDoc(""), "RegressionModel", "NaiveBayesModel", 2), `<RegressionTable intercept="1"><NumericPredictor name="x" coefficient="2"/><CategoricalPredictor name="c" value="b" coefficient="10"/></RegressionTable>`, "", 1), serving.ErrUnsupportedModel, "NaiveBayesModel"},
		{"clustering", strings.Replace(regDoc(""), "RegressionModel functionName=\"regression\"", "RegressionModel functionName=\"clustering\"", 1), serving.ErrUnsupportedModel, "clustering"},
		{"string function", strings.Replace(regDoc(""), "<RegressionModel", `<TransformationDictionary><DerivedField name="u" optype="categorical" dataType="string"><Apply function="uppercase"><FieldRef field="c"/></Apply></DerivedField></TransformationDictionary><RegressionModel`, 1), serving.ErrUnsupportedModel, `"uppercase"`},
		{"define function", strings.Replace(regDoc(""), "<RegressionModel", `<TransformationDictionary><DefineFunction name="f" optype="continuous"/></TransformationDictionary><RegressionModel`, 1), serving.ErrUnsupportedModel, "DefineFunction"},
		{"unknown element", strings.Replace(regDoc(""), "<RegressionTable", `<Frobnicate/><RegressionTable`, 1), serving.ErrUnsupportedModel, "Frobnicate"},
		{"cycle", strings.Replace(regDoc(""), "<RegressionModel", `<TransformationDictionary><DerivedField name="p" optype="continuous" dataType="double"><FieldRef field="q"/></DerivedField><DerivedField name="q" optype="continuous" dataType="double"><FieldRef field="p"/></DerivedField></TransformationDictionary><RegressionModel`, 1), serving.ErrCorruptModel, "itself"},
		{"date field", strings.Replace(regDoc(""), `dataType="double"/>`, `dataType="date"/>`, 1), serving.ErrUnsupportedModel, "date"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := serving.Load(context.Background(), serving.Descriptor{Name: "m", Format: pmml.FormatName, Bytes: []byte(c.doc)})
			if len(c.doc) == 0 {
				_, err = pmml.Parse(nil)
			}
			if !errors.Is(err, c.kind) {
				t.Fatalf("err = %v, want %v", err, c.kind)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Fatalf("err = %v, want it to say %q", err, c.says)
			}
		})
	}
}

func TestRecordErrors(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name  string
		attrs string
		x     []float64
		want  float64 // when err is nil
		err   error
		field string
	}{
		{"valid", ``, []float64{3, 1}, 17, nil, ""},
		{"missing, no treatment", ``, []float64{nan, 0}, 0, serving.ErrMissingField, "x"},
		{"declared missing value", ``, []float64{-1, 0}, 0, serving.ErrMissingField, "x"},
		{"missing replaced", `missingValueReplacement="4"`, []float64{nan, 0}, 9, nil, ""},
		{"declared missing replaced", `missingValueReplacement="4"`, []float64{-1, 0}, 9, nil, ""},
		{"missing returnInvalid", `missingValueTreatment="returnInvalid"`, []float64{nan, 0}, 0, serving.ErrMissingField, "x"},
		{"invalid", ``, []float64{11, 0}, 0, serving.ErrFieldType, "x"},
		{"infinite", ``, []float64{math.Inf(1), 0}, 0, serving.ErrFieldType, "x"},
		{"invalid asIs", `invalidValueTreatment="asIs"`, []float64{11, 0}, 23, nil, ""},
		{"invalid asMissing replaced", `invalidValueTreatment="asMissing" missingValueReplacement="2"`, []float64{11, 0}, 5, nil, ""},
		{"invalid asValue", `invalidValueTreatment="asValue" invalidValueReplacement="5"`, []float64{11, 0}, 11, nil, ""},
		{"outlier extreme", `outliers="asExtremeValues" lowValue="1" highValue="8"`, []float64{9, 1}, 27, nil, ""},
		{"outlier missing", `outliers="asMissingValues" lowValue="1" highValue="8" missingValueReplacement="0"`, []float64{0.5, 0}, 1, nil, ""},
		{"unseen category", ``, []float64{1, 4}, 0, serving.ErrFieldType, "c"},
		{"declared invalid category", ``, []float64{1, 2}, 0, serving.ErrFieldType, "c"},
		{"declared missing category", ``, []float64{1, 3}, 0, serving.ErrMissingField, "c"},
		{"fractional category", ``, []float64{1, 0.5}, 0, serving.ErrFieldType, "c"},
		{"negative category", ``, []float64{1, -1}, 0, serving.ErrFieldType, "c"},
		{"missing category", ``, []float64{1, nan}, 0, serving.ErrMissingField, "c"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := loadText(t, regDoc(c.attrs))
			p, err := m.Predict(context.Background(), c.x)
			if c.err == nil {
				if err != nil || p.Value != c.want {
					t.Fatalf("Predict(%v) = %v, %v; want %v", c.x, p.Value, err, c.want)
				}
				return
			}
			var fe *serving.FieldError
			if !errors.Is(err, c.err) || !errors.As(err, &fe) || fe.Field != c.field {
				t.Fatalf("Predict(%v) err = %v, want %v naming %q", c.x, err, c.err, c.field)
			}
		})
	}
	m := loadText(t, regDoc(""))
	var fc *serving.FeatureCountError
	if _, err := m.Predict(context.Background(), []float64{1}); !errors.As(err, &fc) {
		t.Fatalf("short vector: %v", err)
	}
	in := m.Describe().Inputs
	if len(in) != 2 || in[0].Name != "x" || in[0].Categories != nil || in[1].Name != "c" || strings.Join(in[1].Categories, ",") != "a,b,z,?" {
		t.Fatalf("inputs %+v", in)
	}
}

// A tree whose missing-value strategy leaves no prediction names the
// missing input; with every input present, no result is ErrNoResult.
func TestNoResult(t *testing.T) {
	doc := `<PMML version="4.4"><DataDictionary>
<DataField name="x" optype="continuous" dataType="double"/>
<DataField name="y" optype="categorical" dataType="string"><Value value="lo"/><Value value="hi"/></DataField>
</DataDictionary>
<TreeModel functionName="classification" missingValueStrategy="nullPrediction">
<MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema>
<Node><True/>
  <Node score="lo"><SimplePredicate field="x" operator="lessThan" value="0"/></Node>
  <Node score="hi"><SimplePredicate field="x" operator="greaterThan" value="1"/></Node>
</Node></TreeModel></PMML>`
	m := loadText(t, doc)
	var fe *serving.FieldError
	if _, err := m.Predict(context.Background(), []float64{math.NaN()}); !errors.As(err, &fe) || fe.Field != "x" || !errors.Is(err, serving.ErrMissingField) {
		t.Fatalf("missing x: %v", err)
	}
	if _, err := m.Predict(context.Background(), []float64{0.5}); !errors.Is(err, pmml.ErrNoResult) {
		t.Fatalf("no true child: %v", err)
	}
	p, err := m.Predict(context.Background(), []float64{2})
	if err != nil || p.Label != "hi" || p.Confidence != 1 || len(p.Values) != 2 || p.Values[1] != 1 {
		t.Fatalf("x=2: %+v, %v", p, err)
	}
}

// A small document whose compiled plan would be huge (many segments over a
// target with many categories: one probability vector and one category
// map per segment) is refused before the memory is allocated.
func TestPlanBudget(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<PMML version="4.4"><DataDictionary><DataField name="x" optype="continuous" dataType="double"/><DataField name="y" optype="categorical" dataType="string">`)
	for i := range 3000 {
		fmt.Fprintf(&b, `<Value value="c%d"/>`, i)
	}
	b.WriteString(`</DataField></DataDictionary><MiningModel functionName="classification"><MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema><Segmentation multipleModelMethod="majorityVote">`)
	for i := range 1500 {
		fmt.Fprintf(&b, `<Segment id="%d"><True/><TreeModel functionName="classification"><MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema><Node score="c1"><True/></Node></TreeModel></Segment>`, i)
	}
	b.WriteString(`</Segmentation></MiningModel></PMML>`)
	if b.Len() > 1<<20 {
		t.Fatalf("the test document is %d bytes", b.Len())
	}
	_, err := pmml.Parse([]byte(b.String()))
	if !errors.Is(err, serving.ErrCorruptModel) || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("err = %v, want corrupt: plan too large", err)
	}
}

// A long chain of derived fields, each defined by the next, is refused
// instead of exhausting the stack.
func TestDerivedChain(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<PMML version="4.4"><DataDictionary><DataField name="x" optype="continuous" dataType="double"/><DataField name="y" optype="continuous" dataType="double"/></DataDictionary><TransformationDictionary>`)
	n := pmml.MaxDepth + 10
	for i := range n {
		fmt.Fprintf(&b, `<DerivedField name="d%d" optype="continuous" dataType="double"><FieldRef field="d%d"/></DerivedField>`, i, i+1)
	}
	fmt.Fprintf(&b, `<DerivedField name="d%d" optype="continuous" dataType="double"><FieldRef field="x"/></DerivedField>`, n)
	b.WriteString(`</TransformationDictionary><RegressionModel functionName="regression"><MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema><RegressionTable intercept="0"><NumericPredictor name="d0" coefficient="1"/></RegressionTable></RegressionModel></PMML>`)
	_, err := pmml.Parse([]byte(b.String()))
	if !errors.Is(err, serving.ErrCorruptModel) || !strings.Contains(err.Error(), "derived fields") {
		t.Fatalf("err = %v, want corrupt: derived fields chain", err)
	}
	// A chain within the bound compiles and computes.
	short := strings.Replace(b.String(), fmt.Sprintf(`<FieldRef field="d%d"/>`, 100), `<FieldRef field="x"/>`, 1)
	m, err := pmml.Parse([]byte(short))
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Predict(context.Background(), []float64{4})
	if err != nil || p.Value != 4 {
		t.Fatalf("short chain: %v, %v", p.Value, err)
	}
}

// TestManyInvalidValues: a categorical field may list any number of
// invalid (or missing) values; gathering them into the input's
// categories searched the list gathered so far for each, so 40,000 (a
// 1.7 MB document) took 1.7 s to load and 300,000 (13 MB) about 100 s,
// holding up the feed. The deadline is a guard against that, not a
// timing assertion: the load takes a second or two.
func TestManyInvalidValues(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector slows the parser tenfold; nothing here races")
	}
	const n = 300_000
	var b strings.Builder
	b.WriteString(`<PMML version="4.4"><DataDictionary><DataField name="c" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/>`)
	for i := range n {
		fmt.Fprintf(&b, `<Value value="x%d" property="invalid"/>`, i)
	}
	b.WriteString(`<Value value="a" property="invalid"/></DataField><DataField name="y" optype="continuous" dataType="double"/></DataDictionary>
<RegressionModel functionName="regression"><MiningSchema><MiningField name="c" invalidValueTreatment="asMissing"/><MiningField name="y" usageType="target"/></MiningSchema>
<RegressionTable intercept="1"><CategoricalPredictor name="c" value="a" coefficient="2"/></RegressionTable></RegressionModel></PMML>`)
	type parsed struct {
		m   *pmml.Model
		err error
	}
	done := make(chan parsed, 1)
	go func() {
		m, err := pmml.Parse([]byte(b.String()))
		done <- parsed{m, err}
	}()
	select {
	case p := <-done:
		if p.err != nil {
			t.Fatal(p.err)
		}
		cats := p.m.Describe().Inputs[0].Categories
		if len(cats) != n+2 || cats[0] != "a" || cats[2] != "x0" || cats[n+1] != fmt.Sprintf("x%d", n-1) {
			t.Errorf("%d categories (%q, %q, ..., %q), want a, b, then x0..x%d", len(cats), cats[0], cats[min(2, len(cats)-1)], cats[len(cats)-1], n-1)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("loading a field with %d invalid values (%d bytes) takes over a minute", n, b.Len())
	}
}

// manyAttrs returns n attributes a0="" to a<n-1>="".
func manyAttrs(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, ` a%d=""`, i)
	}
	return b.String()
}
