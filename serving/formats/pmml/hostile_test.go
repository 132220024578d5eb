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

// priorOnlyTree is a classification tree whose target lists no Values, so
// its categories are gathered from the model: a and b from the
// ScoreDistributions, then c, which only the Targets' prior
// probabilities name. The leaves' distributions are compiled before c is
// known.
func priorOnlyTree(strategy string) string {
	return `<PMML version="4.4"><DataDictionary>
<DataField name="x" optype="continuous" dataType="double"/>
<DataField name="y" optype="categorical" dataType="string"/>
</DataDictionary>
<TreeModel functionName="classification" missingValueStrategy="` + strategy + `">
<MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema>
<Targets><Target field="y"><TargetValue value="c" priorProbability="1"/></Target></Targets>
<Node recordCount="8"><True/>
<Node recordCount="4" score="a"><SimplePredicate field="x" operator="lessThan" value="1"/>
<ScoreDistribution value="a" recordCount="3"/><ScoreDistribution value="b" recordCount="1"/></Node>
<Node recordCount="4" score="b"><SimplePredicate field="x" operator="greaterThan" value="5"/>
<ScoreDistribution value="a" recordCount="1"/><ScoreDistribution value="b" recordCount="3"/></Node>
</Node></TreeModel></PMML>`
}

// A leaf's distribution covered the categories known when the tree was
// compiled, not c: its copy into the probability slots left c's slot as
// the previous record in the pooled scratch had set it. After a record
// without a result (x=3: no child is true, so the prior answers c with
// probability 1), the next record's leaf answered a with Values
// [0.75 0.25 1].
func TestLeafOfCategoryAddedByPriors(t *testing.T) {
	m := loadText(t, priorOnlyTree("none"))
	ctx := context.Background()
	for range 20 { // the pool may drop the scratch: try it more than once
		p, err := m.Predict(ctx, []float64{3})
		if err != nil || p.Label != "c" {
			t.Fatalf("x=3: %+v, %v; want the prior, c", p, err)
		}
		p, err = m.Predict(ctx, []float64{0})
		if err != nil || p.Label != "a" || len(p.Values) != 3 || p.Values[0] != 0.75 || p.Values[1] != 0.25 || p.Values[2] != 0 {
			t.Fatalf("x=0 after x=3: %+v, %v; want a with Values [0.75 0.25 0]", p, err)
		}
	}
}

// aggregateNodes and weightedConfidence summed every leaf's distribution
// over all the categories, indexing past the end of a distribution
// compiled before c was known: a missing x panicked with index out of
// range in the scoring goroutine.
func TestAggregateOverCategoryAddedByPriors(t *testing.T) {
	for _, strategy := range []string{"aggregateNodes", "weightedConfidence"} {
		t.Run(strategy, func(t *testing.T) {
			m := loadText(t, priorOnlyTree(strategy))
			p, err := m.Predict(context.Background(), []float64{math.NaN()})
			if err != nil || p.Label != "b" && p.Label != "a" || len(p.Values) != 3 || p.Values[0] != 0.5 || p.Values[1] != 0.5 || p.Values[2] != 0 {
				t.Fatalf("x missing: %+v, %v; want Values [0.5 0.5 0]", p, err)
			}
		})
	}
}

// A binary generalizedLinear classification wrote the probabilities of
// its two categories only: a third, named only by the Targets' prior
// probabilities, kept what the previous record in the pooled scratch
// left there (the prior, 1, after a record with x missing).
func TestGeneralizedLinearCategoryAddedByPriors(t *testing.T) {
	doc := `<PMML version="4.4"><DataDictionary>
<DataField name="x" optype="continuous" dataType="double"/>
<DataField name="y" optype="categorical" dataType="string"/>
</DataDictionary>
<GeneralRegressionModel functionName="classification" modelType="generalizedLinear" linkFunction="logit" targetReferenceCategory="b">
<MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema>
<Targets><Target field="y"><TargetValue value="c" priorProbability="1"/></Target></Targets>
<ParameterList><Parameter name="p0"/><Parameter name="p1"/></ParameterList>
<CovariateList><Predictor name="x"/></CovariateList>
<PPMatrix><PPCell value="1" predictorName="x" parameterName="p1"/></PPMatrix>
<ParamMatrix><PCell targetCategory="a" parameterName="p0" beta="0"/><PCell targetCategory="a" parameterName="p1" beta="1"/></ParamMatrix>
</GeneralRegressionModel></PMML>`
	m := loadText(t, doc)
	ctx := context.Background()
	for range 20 { // the pool may drop the scratch: try it more than once
		p, err := m.Predict(ctx, []float64{math.NaN()})
		if err != nil || p.Label != "c" {
			t.Fatalf("x missing: %+v, %v; want the prior, c", p, err)
		}
		p, err = m.Predict(ctx, []float64{0})
		if err != nil || len(p.Values) != 3 || p.Values[0] != 0.5 || p.Values[1] != 0.5 || p.Values[2] != 0 {
			t.Fatalf("x=0 after x missing: %+v, %v; want Values [0.5 0.5 0]", p, err)
		}
	}
}

// A model chain's own LocalTransformations are computed before its
// segments run. A DerivedField there that reads a segment's OutputField
// (d below, first asked for by the second segment) read the slot of that
// output as the previous record in the pooled scratch left it: each
// record scored the one before it (x=5 after x=1 gave 1, not 5). It is
// refused, as the evaluator cannot compute it in order.
func TestDerivedFieldBeforeTheOutputItReads(t *testing.T) {
	doc := `<PMML version="4.4"><DataDictionary>
<DataField name="x" optype="continuous" dataType="double"/>
<DataField name="y" optype="continuous" dataType="double"/>
</DataDictionary>
<MiningModel functionName="regression">
<MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema>
<LocalTransformations><DerivedField name="d" optype="continuous" dataType="double"><FieldRef field="o"/></DerivedField></LocalTransformations>
<Segmentation multipleModelMethod="modelChain">
<Segment id="1"><True/><RegressionModel functionName="regression">
<MiningSchema><MiningField name="x"/></MiningSchema>
<Output><OutputField name="o" feature="predictedValue"/></Output>
<RegressionTable intercept="0"><NumericPredictor name="x" coefficient="1"/></RegressionTable>
</RegressionModel></Segment>
<Segment id="2"><True/><RegressionModel functionName="regression">
<MiningSchema><MiningField name="d"/></MiningSchema>
<RegressionTable intercept="0"><NumericPredictor name="d" coefficient="1"/></RegressionTable>
</RegressionModel></Segment>
</Segmentation></MiningModel></PMML>`
	m, err := pmml.Parse([]byte(doc))
	if err == nil {
		ctx := context.Background()
		p1, err1 := m.Predict(ctx, []float64{1})
		p5, err5 := m.Predict(ctx, []float64{5})
		t.Fatalf("loaded; x=1 gave %v, %v and x=5 then %v, %v", p1.Value, err1, p5.Value, err5)
	}
	if !errors.Is(err, serving.ErrUnsupportedModel) {
		t.Fatalf("err = %v, want unsupported", err)
	}
}

// A classification RegressionModel checked each table's targetCategory
// against every table before it: loading was quadratic in the tables.
// 100,000 tables (a 5.6 MB document) took 42 s, 200,000 (11 MB) minutes,
// holding up the feed. The deadline is a guard against that, not a
// timing assertion: the load takes a second or two.
func TestManyRegressionTables(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector slows the parser tenfold; nothing here races")
	}
	const n = 200_000
	var b strings.Builder
	b.WriteString(`<PMML version="4.4"><DataDictionary><DataField name="x" optype="continuous" dataType="double"/><DataField name="y" optype="categorical" dataType="string"/></DataDictionary>
<RegressionModel functionName="classification" normalizationMethod="softmax"><MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema>
<RegressionTable intercept="1" targetCategory="c0"><NumericPredictor name="x" coefficient="1"/></RegressionTable>`)
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, `<RegressionTable intercept="0" targetCategory="c%d"/>`, i)
	}
	b.WriteString(`</RegressionModel></PMML>`)
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
		pr, err := p.m.Predict(context.Background(), []float64{1})
		if err != nil || pr.Label != "c0" || len(pr.Values) != n {
			t.Fatalf("Predict: label %q, %d values, %v; want c0 of %d", pr.Label, len(pr.Values), err, n)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("loading %d RegressionTables (%d bytes) takes over a minute", n, b.Len())
	}
}

// A machine's decision value that is NaN (a linear kernel's dot products
// overflowing to +Inf and -Inf, valid finite inputs of 1e308 in the
// scikit-learn iris SVC) voted for the alternate category of every
// one-against-one machine: the record got setosa with probability 2/3
// whatever its sign. It has no result, as a classification whose
// probabilities come out NaN has none.
func TestSVMDecisionNaN(t *testing.T) {
	for _, file := range []string{"sklearn/svc-linear-iris.pmml", "sklearn/svc-poly-iris.pmml"} {
		m := loadFile(t, file)
		for _, v := range []float64{1e308, -1e308} {
			p, err := m.Predict(context.Background(), []float64{v, v, v, v})
			if !errors.Is(err, pmml.ErrNoResult) {
				t.Errorf("%s, all inputs %g: %+v, %v; want no result", file, v, p, err)
			}
		}
		if p, err := m.Predict(context.Background(), []float64{1e100, 1e100, 1e100, 1e100}); err != nil || p.Label == "" {
			t.Errorf("%s, all inputs 1e100: %+v, %v; want a category", file, p, err)
		}
	}
	// One against all: the machine with the smallest value wins, and a
	// NaN compared with it lost every comparison.
	doc := `<PMML version="4.4"><DataDictionary>
<DataField name="x" optype="continuous" dataType="double"/>
<DataField name="y" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/><Value value="c"/></DataField>
</DataDictionary>
<SupportVectorMachineModel functionName="classification" classificationMethod="OneAgainstAll">
<MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema>
<LinearKernelType/>
<VectorDictionary numberOfVectors="2"><VectorFields numberOfFields="1"><FieldRef field="x"/></VectorFields>
<VectorInstance id="p"><Array type="real" n="1">1e10</Array></VectorInstance>
<VectorInstance id="n"><Array type="real" n="1">-1e10</Array></VectorInstance></VectorDictionary>
<SupportVectorMachine targetCategory="a"><SupportVectors><SupportVector vectorId="p"/><SupportVector vectorId="n"/></SupportVectors>
<Coefficients absoluteValue="0"><Coefficient value="1"/><Coefficient value="1"/></Coefficients></SupportVectorMachine>
<SupportVectorMachine targetCategory="b"><SupportVectors><SupportVector vectorId="p"/></SupportVectors>
<Coefficients absoluteValue="0"><Coefficient value="1"/></Coefficients></SupportVectorMachine>
<SupportVectorMachine targetCategory="c"><SupportVectors><SupportVector vectorId="p"/></SupportVectors>
<Coefficients absoluteValue="0"><Coefficient value="-1"/></Coefficients></SupportVectorMachine>
</SupportVectorMachineModel></PMML>`
	m := loadText(t, doc)
	if p, err := m.Predict(context.Background(), []float64{1e300}); !errors.Is(err, pmml.ErrNoResult) {
		t.Errorf("one against all, a NaN machine: %+v, %v; want no result", p, err)
	}
	if p, err := m.Predict(context.Background(), []float64{1}); err != nil || p.Label != "c" {
		t.Errorf("one against all, x=1: %+v, %v; want c", p, err)
	}
}

// A UTF-8 document may begin with a byte order mark (XML 1.0, appendix
// F), as writers on Windows often do: it was refused as "text outside
// the root element". A mark anywhere else is still text.
func TestByteOrderMark(t *testing.T) {
	for _, doc := range []string{"\ufeff" + regDoc(""), "\ufeff" + `<?xml version="1.0" encoding="UTF-8"?>` + regDoc("")} {
		m, err := pmml.Parse([]byte(doc))
		if err != nil {
			t.Fatalf("%.60q: %v", doc, err)
		}
		if p := predict(t, m, map[string]any{"x": 2.0, "c": "b"}); p.Value != 15 {
			t.Fatalf("%.60q: x=2, c=b gave %v, want 15", doc, p.Value)
		}
	}
	if _, err := pmml.Parse([]byte(" \ufeff" + regDoc(""))); !errors.Is(err, serving.ErrCorruptModel) {
		t.Fatalf("a mark after a space: %v, want corrupt", err)
	}
}
