package pmml_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
)

// Hand-checked documents for what the exported fixtures do not reach.

func TestTreePredicates(t *testing.T) {
	doc := `<PMML version="4.4"><DataDictionary>
<DataField name="x" optype="continuous" dataType="double"/>
<DataField name="c" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/><Value value="c"/></DataField>
<DataField name="y" optype="categorical" dataType="string"><Value value="p"/><Value value="q"/><Value value="r"/><Value value="z"/></DataField>
</DataDictionary>
<TreeModel functionName="classification" noTrueChildStrategy="returnLastPrediction">
<MiningSchema><MiningField name="x"/><MiningField name="c"/><MiningField name="y" usageType="target"/></MiningSchema>
<Node score="z"><True/>
  <Node score="p"><CompoundPredicate booleanOperator="surrogate">
    <SimplePredicate field="x" operator="lessThan" value="0"/>
    <SimpleSetPredicate field="c" booleanOperator="isIn"><Array type="string">a "b"</Array></SimpleSetPredicate>
  </CompoundPredicate></Node>
  <Node score="q"><CompoundPredicate booleanOperator="and">
    <SimplePredicate field="x" operator="greaterOrEqual" value="0"/>
    <SimplePredicate field="c" operator="notEqual" value="c"/>
  </CompoundPredicate></Node>
  <Node score="r"><CompoundPredicate booleanOperator="xor">
    <SimplePredicate field="x" operator="greaterThan" value="5"/>
    <SimplePredicate field="c" operator="equal" value="c"/>
  </CompoundPredicate></Node>
</Node></TreeModel></PMML>`
	m := loadText(t, doc)
	nan := math.NaN()
	for _, c := range []struct {
		x    float64
		c    string
		want string
	}{
		{-1, "c", "p"},  // surrogate: the first predicate decides
		{nan, "a", "p"}, // surrogate: the first is unknown, the second decides
		{nan, "c", "z"}, // nothing true (unknown counts as false): the last prediction
		{1, "b", "q"},   // and
		{6, "c", "z"},   // xor of two trues is false
		{2, "c", "r"},   // xor
	} {
		p := predict(t, m, map[string]any{"x": c.x, "c": c.c})
		if p.Label != c.want || p.Confidence != 1 {
			t.Errorf("x=%v c=%s: %+v, want %s", c.x, c.c, p, c.want)
		}
	}
}

// segDoc is a MiningModel over constant regressions 1, 2 and 6 (weights 1,
// 1, 2) and, when x > 0, 10 (weight 1).
func segDoc(method string) string {
	seg := func(id int, pred string, w, v float64) string {
		return fmt.Sprintf(`<Segment id="%d" weight="%g">%s<RegressionModel functionName="regression"><MiningSchema><MiningField name="x"/></MiningSchema><RegressionTable intercept="%g"/></RegressionModel></Segment>`, id, w, pred, v)
	}
	return `<PMML version="4.4"><DataDictionary><DataField name="x" optype="continuous" dataType="double"/><DataField name="y" optype="continuous" dataType="double"/></DataDictionary>
<MiningModel functionName="regression"><MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema>
<Segmentation multipleModelMethod="` + method + `">` +
		seg(1, "<True/>", 1, 1) + seg(2, "<True/>", 1, 2) + seg(3, "<True/>", 2, 6) +
		seg(4, `<SimplePredicate field="x" operator="greaterThan" value="0"/>`, 1, 10) +
		`</Segmentation></MiningModel></PMML>`
}

func TestSegmentationRegression(t *testing.T) {
	for _, c := range []struct {
		method       string
		minus, plus1 float64 // at x = -1 and x = 1
	}{
		{"sum", 9, 19},
		{"average", 3, 4.75},
		{"weightedAverage", 3.75, 5},
		{"median", 2, 4},
		{"max", 6, 10},
		{"weightedSum", 15, 25},
		{"selectFirst", 1, 1},
		{"modelChain", 6, 10},
	} {
		m := loadText(t, segDoc(c.method))
		for x, want := range map[float64]float64{-1: c.minus, 1: c.plus1} {
			p, err := m.Predict(context.Background(), []float64{x})
			if err != nil || math.Abs(p.Value-want) > 1e-12 {
				t.Errorf("%s at x=%v: %v, %v; want %v", c.method, x, p.Value, err, want)
			}
		}
	}
}

// voteDoc is a MiningModel over three one-node trees: P(yes) 0.9, 0.4 and
// 0.3, with weights 3, 1 and 1.
func voteDoc(method string) string {
	tree := func(id int, w, yes float64) string {
		return fmt.Sprintf(`<Segment id="%d" weight="%g"><True/><TreeModel functionName="classification"><MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema><Node><True/><ScoreDistribution value="yes" recordCount="%g"/><ScoreDistribution value="no" recordCount="%g"/></Node></TreeModel></Segment>`, id, w, yes*10, (1-yes)*10)
	}
	return `<PMML version="4.4"><DataDictionary><DataField name="x" optype="continuous" dataType="double"/><DataField name="y" optype="categorical" dataType="string"><Value value="yes"/><Value value="no"/></DataField></DataDictionary>
<MiningModel functionName="classification"><MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema>
<Segmentation multipleModelMethod="` + method + `">` + tree(1, 3, 0.9) + tree(2, 1, 0.4) + tree(3, 1, 0.3) + `</Segmentation></MiningModel></PMML>`
}

func TestSegmentationClassification(t *testing.T) {
	for _, c := range []struct {
		method string
		label  string
		pyes   float64
	}{
		{"majorityVote", "no", 1.0 / 3},
		{"weightedMajorityVote", "yes", 0.6},
		{"average", "yes", (0.9 + 0.4 + 0.3) / 3},
		{"weightedAverage", "yes", (2.7 + 0.4 + 0.3) / 5},
		{"max", "yes", 0.9},
		{"selectFirst", "yes", 0.9},
		{"modelChain", "no", 0.3},
	} {
		m := loadText(t, voteDoc(c.method))
		p, err := m.Predict(context.Background(), []float64{0})
		if err != nil || p.Label != c.label || math.Abs(p.Values[0]-c.pyes) > 1e-12 {
			t.Errorf("%s: %+v, %v; want %s with P(yes) %v", c.method, p, err, c.label, c.pyes)
		}
	}
}

func TestNeuralNetworkHand(t *testing.T) {
	// NormContinuous input, a tanh layer overriding the logistic default,
	// an identity output layer, NormContinuous denormalised output.
	doc := `<PMML version="4.4"><DataDictionary><DataField name="x" optype="continuous" dataType="double"/><DataField name="y" optype="continuous" dataType="double"/></DataDictionary>
<NeuralNetwork functionName="regression" activationFunction="logistic">
<MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema>
<NeuralInputs><NeuralInput id="i"><DerivedField optype="continuous" dataType="double"><NormContinuous field="x"><LinearNorm orig="0" norm="0"/><LinearNorm orig="10" norm="1"/></NormContinuous></DerivedField></NeuralInput></NeuralInputs>
<NeuralLayer activationFunction="tanh"><Neuron id="h1" bias="0.5"><Con from="i" weight="2"/></Neuron><Neuron id="h2" bias="-1"><Con from="i" weight="1"/></Neuron></NeuralLayer>
<NeuralLayer activationFunction="identity"><Neuron id="o" bias="0"><Con from="h1" weight="1"/><Con from="h2" weight="-1"/></Neuron></NeuralLayer>
<NeuralOutputs><NeuralOutput outputNeuron="o"><DerivedField optype="continuous" dataType="double"><NormContinuous field="y"><LinearNorm orig="100" norm="0"/><LinearNorm orig="200" norm="1"/></NormContinuous></DerivedField></NeuralOutput></NeuralOutputs>
</NeuralNetwork></PMML>`
	m := loadText(t, doc)
	p, err := m.Predict(context.Background(), []float64{5})
	want := 100 + 100*(math.Tanh(1.5)-math.Tanh(-0.5))
	if err != nil || math.Abs(p.Value-want) > 1e-12 {
		t.Errorf("tanh network: %v, %v; want %v", p.Value, err, want)
	}

	// radialBasis: exp(fan-in·ln(altitude) − Σ(x−w)²/(2·width²)).
	rbf := strings.NewReplacer(
		`<NeuralLayer activationFunction="tanh"><Neuron id="h1" bias="0.5"><Con from="i" weight="2"/></Neuron><Neuron id="h2" bias="-1"><Con from="i" weight="1"/></Neuron></NeuralLayer>`,
		`<NeuralLayer activationFunction="radialBasis" width="2" altitude="1.5"><Neuron id="h1"><Con from="i" weight="0.2"/><Con from="j" weight="2"/></Neuron><Neuron id="h2" bias="0"><Con from="i" weight="0"/></Neuron></NeuralLayer>`,
		`<NeuralInputs>`, `<NeuralInputs><NeuralInput id="j"><DerivedField optype="continuous" dataType="double"><Constant>3</Constant></DerivedField></NeuralInput>`,
	).Replace(doc)
	m = loadText(t, rbf)
	p, err = m.Predict(context.Background(), []float64{5})
	h1 := math.Exp(2*math.Log(1.5) - ((0.5-0.2)*(0.5-0.2)+(3-2)*(3-2))/(2*4))
	h2 := math.Exp(math.Log(1.5) - 0.5*0.5/(2*4))
	want = 100 + 100*(h1-h2)
	if err != nil || math.Abs(p.Value-want) > 1e-12 {
		t.Errorf("radialBasis network: %v, %v; want %v", p.Value, err, want)
	}

	// Classification: a simplemax output layer; NormDiscrete names the
	// category of each output neuron.
	cls := `<PMML version="4.4"><DataDictionary><DataField name="x" optype="continuous" dataType="double"/><DataField name="y" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/></DataField></DataDictionary>
<NeuralNetwork functionName="classification" activationFunction="identity">
<MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema>
<NeuralInputs><NeuralInput id="i"><DerivedField optype="continuous" dataType="double"><FieldRef field="x"/></DerivedField></NeuralInput></NeuralInputs>
<NeuralLayer normalizationMethod="simplemax"><Neuron id="na" bias="0"><Con from="i" weight="1"/></Neuron><Neuron id="nb" bias="1"/></NeuralLayer>
<NeuralOutputs>
<NeuralOutput outputNeuron="nb"><DerivedField optype="categorical" dataType="string"><NormDiscrete field="y" value="b"/></DerivedField></NeuralOutput>
<NeuralOutput outputNeuron="na"><DerivedField optype="categorical" dataType="string"><NormDiscrete field="y" value="a"/></DerivedField></NeuralOutput>
</NeuralOutputs></NeuralNetwork></PMML>`
	m = loadText(t, cls)
	p, err = m.Predict(context.Background(), []float64{3})
	if err != nil || p.Label != "a" || math.Abs(p.Values[0]-0.75) > 1e-15 || math.Abs(p.Values[1]-0.25) > 1e-15 {
		t.Errorf("simplemax network: %+v, %v", p, err)
	}
}

func TestGeneralizedLinearLinks(t *testing.T) {
	eta := 0.25 + 0.5*2 + 0.5 // intercept + beta·x + offset, at x = 2
	cases := []struct {
		link, extra string
		want        float64
	}{
		{"identity", "", eta},
		{"log", "", math.Exp(eta)},
		{"logit", "", 1 / (1 + math.Exp(-eta))},
		{"probit", "", 0.5 * math.Erfc(-eta/math.Sqrt2)},
		{"cloglog", "", 1 - math.Exp(-math.Exp(eta))},
		{"loglog", "", math.Exp(-math.Exp(-eta))},
		{"logc", "", 1 - math.Exp(eta)},
		{"cauchit", "", 0.5 + math.Atan(eta)/math.Pi},
		{"power", `linkParameter="2"`, math.Sqrt(eta)},
		{"power", `linkParameter="0"`, math.Exp(eta)},
		{"oddspower", `linkParameter="0.5"`, math.Pow(1+0.5*eta, 2) / (1 + math.Pow(1+0.5*eta, 2))},
		{"oddspower", `linkParameter="0"`, 1 / (1 + math.Exp(-eta))},
		{"negbin", `distParameter="2"`, 1 / (2 * (math.Exp(-eta) - 1))},
	}
	for _, c := range cases {
		doc := `<PMML version="4.4"><DataDictionary><DataField name="x" optype="continuous" dataType="double"/><DataField name="y" optype="continuous" dataType="double"/></DataDictionary>
<GeneralRegressionModel functionName="regression" modelType="generalizedLinear" linkFunction="` + c.link + `" offsetValue="0.5" ` + c.extra + `>
<MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema>
<ParameterList><Parameter name="p0"/><Parameter name="p1"/></ParameterList>
<CovariateList><Predictor name="x"/></CovariateList>
<PPMatrix><PPCell value="1" predictorName="x" parameterName="p1"/></PPMatrix>
<ParamMatrix><PCell parameterName="p0" beta="0.25"/><PCell parameterName="p1" beta="0.5"/></ParamMatrix>
</GeneralRegressionModel></PMML>`
		m := loadText(t, doc)
		p, err := m.Predict(context.Background(), []float64{2})
		if err != nil || math.Abs(p.Value-c.want) > 1e-12*math.Max(1, math.Abs(c.want)) {
			t.Errorf("%s %s: %v, %v; want %v", c.link, c.extra, p.Value, err, c.want)
		}
	}
}

func TestMultinomialLogistic(t *testing.T) {
	doc := `<PMML version="4.4"><DataDictionary><DataField name="x" optype="continuous" dataType="double"/><DataField name="f" optype="categorical" dataType="string"><Value value="u"/><Value value="v"/></DataField>
<DataField name="y" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/><Value value="c"/></DataField></DataDictionary>
<GeneralRegressionModel functionName="classification" modelType="multinomialLogistic" targetReferenceCategory="c">
<MiningSchema><MiningField name="x"/><MiningField name="f"/><MiningField name="y" usageType="target"/></MiningSchema>
<ParameterList><Parameter name="p0"/><Parameter name="p1"/><Parameter name="p2"/><Parameter name="p3"/></ParameterList>
<FactorList><Predictor name="f"/></FactorList><CovariateList><Predictor name="x"/></CovariateList>
<PPMatrix><PPCell value="1" predictorName="x" parameterName="p1"/><PPCell value="2" predictorName="x" parameterName="p3"/><PPCell value="v" predictorName="f" parameterName="p2"/></PPMatrix>
<ParamMatrix>
<PCell targetCategory="a" parameterName="p0" beta="1"/><PCell targetCategory="a" parameterName="p1" beta="1"/><PCell targetCategory="a" parameterName="p2" beta="-0.5"/>
<PCell targetCategory="b" parameterName="p1" beta="2"/><PCell targetCategory="b" parameterName="p3" beta="-0.25"/>
</ParamMatrix></GeneralRegressionModel></PMML>`
	m := loadText(t, doc)
	x := 0.5
	ea := math.Exp(1 + x - 0.5) // f = v
	eb := math.Exp(2*x - 0.25*x*x)
	sum := ea + eb + 1
	p := predict(t, m, map[string]any{"x": x, "f": "v"})
	want := []float64{ea / sum, eb / sum, 1 / sum}
	for i := range want {
		if math.Abs(p.Values[i]-want[i]) > 1e-15 {
			t.Fatalf("%v, want %v", p.Values, want)
		}
	}
	if p.Label != "a" {
		t.Fatalf("label %q", p.Label)
	}
}

func TestSVMOneAgainstAll(t *testing.T) {
	doc := func(maxWins string) string {
		return `<PMML version="4.4"><DataDictionary><DataField name="x" optype="continuous" dataType="double"/><DataField name="y" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/></DataField></DataDictionary>
<SupportVectorMachineModel functionName="classification" maxWins="` + maxWins + `">
<MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema>
<LinearKernelType/>
<VectorDictionary><VectorFields><FieldRef field="x"/></VectorFields><VectorInstance id="v"><REAL-SparseArray n="1"><Indices>1</Indices><REAL-Entries>1</REAL-Entries></REAL-SparseArray></VectorInstance></VectorDictionary>
<SupportVectorMachine targetCategory="a"><SupportVectors><SupportVector vectorId="v"/></SupportVectors><Coefficients absoluteValue="-1"><Coefficient value="1"/></Coefficients></SupportVectorMachine>
<SupportVectorMachine targetCategory="b"><SupportVectors><SupportVector vectorId="v"/></SupportVectors><Coefficients absoluteValue="1"><Coefficient value="-1"/></Coefficients></SupportVectorMachine>
</SupportVectorMachineModel></PMML>`
	}
	// At x = 3: f_a = 2, f_b = -2. The smallest value wins, or with maxWins
	// the largest.
	for maxWins, want := range map[string]string{"false": "b", "true": "a"} {
		m := loadText(t, doc(maxWins))
		p, err := m.Predict(context.Background(), []float64{3})
		if err != nil || p.Label != want {
			t.Errorf("maxWins=%s: %+v, %v; want %s", maxWins, p, err, want)
		}
	}
}

// A float field is compared in float32, as its dataType says and as
// XGBoost and LightGBM split: 0.1000000005 rounds to the float32 nearest
// 0.1, so it is ≤ 0.1 as a float and > 0.1 as a double.
func TestFloatFieldSplits(t *testing.T) {
	doc := func(dt string) string {
		return `<PMML version="4.4"><DataDictionary><DataField name="x" optype="continuous" dataType="` + dt + `"/><DataField name="y" optype="continuous" dataType="double"/></DataDictionary>
<TreeModel functionName="regression"><MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema>
<Node><True/>
<Node score="1"><SimplePredicate field="x" operator="lessOrEqual" value="0.1"/></Node>
<Node score="2"><SimplePredicate field="x" operator="greaterThan" value="0.1"/></Node>
</Node></TreeModel></PMML>`
	}
	for dt, want := range map[string]float64{"float": 1, "double": 2} {
		for _, variant := range []string{"split", "predicates"} {
			d := doc(dt)
			if variant == "predicates" { // not a complementary pair: no split fast path
				d = strings.Replace(d, `operator="greaterThan" value="0.1"`, `operator="greaterThan" value="0.05"`, 1)
			}
			m := loadText(t, d)
			p, err := m.Predict(context.Background(), []float64{0.1000000005})
			if err != nil || p.Value != want {
				t.Errorf("%s %s: %v, %v; want %v", dt, variant, p.Value, err, want)
			}
		}
	}
}

func TestActivationFunctions(t *testing.T) {
	z := 0.7 // the hidden neuron's input: bias 0.2 + 0.5·x at x = 1
	cases := map[string]float64{
		"threshold":   1, // z > 0.5
		"logistic":    1 / (1 + math.Exp(-z)),
		"tanh":        math.Tanh(z),
		"identity":    z,
		"exponential": math.Exp(z),
		"reciprocal":  1 / z,
		"square":      z * z,
		"Gauss":       math.Exp(-z * z),
		"sine":        math.Sin(z),
		"cosine":      math.Cos(z),
		"Elliott":     z / (1 + math.Abs(z)),
		"arctan":      2 * math.Atan(z) / math.Pi,
		"rectifier":   z,
	}
	for act, want := range cases {
		doc := `<PMML version="4.4"><DataDictionary><DataField name="x" optype="continuous" dataType="double"/><DataField name="y" optype="continuous" dataType="double"/></DataDictionary>
<NeuralNetwork functionName="regression" activationFunction="identity" threshold="0.5">
<MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema>
<NeuralInputs><NeuralInput id="i"><DerivedField optype="continuous" dataType="double"><FieldRef field="x"/></DerivedField></NeuralInput></NeuralInputs>
<NeuralLayer activationFunction="` + act + `"><Neuron id="h" bias="0.2"><Con from="i" weight="0.5"/></Neuron></NeuralLayer>
<NeuralLayer><Neuron id="o"><Con from="h" weight="1"/></Neuron></NeuralLayer>
<NeuralOutputs><NeuralOutput outputNeuron="o"><DerivedField optype="continuous" dataType="double"><FieldRef field="y"/></DerivedField></NeuralOutput></NeuralOutputs>
</NeuralNetwork></PMML>`
		m := loadText(t, doc)
		p, err := m.Predict(context.Background(), []float64{1})
		if err != nil || math.Abs(p.Value-want) > 1e-15 {
			t.Errorf("%s: %v, %v; want %v", act, p.Value, err, want)
		}
	}
}

// A segment's own MiningSchema treatment applies inside that segment
// only; DerivedField dataType conversions between numbers and strings.
func TestNestedTreatmentAndConversions(t *testing.T) {
	doc := `<PMML version="4.4"><DataDictionary><DataField name="x" optype="continuous" dataType="double"/><DataField name="y" optype="continuous" dataType="double"/></DataDictionary>
<TransformationDictionary>
<DerivedField name="xs" optype="categorical" dataType="string"><FieldRef field="x"/></DerivedField>
<DerivedField name="back" optype="continuous" dataType="double"><MapValues outputColumn="o"><FieldColumnPair field="xs" column="i"/><InlineTable><row><i>2</i><o>2.5</o></row><row><i>3</i><o>x</o></row></InlineTable></MapValues></DerivedField>
</TransformationDictionary>
<MiningModel functionName="regression"><MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema>
<Segmentation multipleModelMethod="sum" missingPredictionTreatment="skipSegment">
<Segment><True/><RegressionModel functionName="regression"><MiningSchema><MiningField name="x" missingValueReplacement="10"/></MiningSchema><RegressionTable intercept="0"><NumericPredictor name="x" coefficient="1"/></RegressionTable></RegressionModel></Segment>
<Segment><True/><TreeModel functionName="regression" noTrueChildStrategy="returnLastPrediction"><MiningSchema><MiningField name="x"/></MiningSchema>
<Node score="0"><True/><Node score="100"><SimplePredicate field="xs" operator="equal" value="2"/></Node></Node></TreeModel></Segment>
<Segment><True/><RegressionModel functionName="regression"><MiningSchema><MiningField name="x"/></MiningSchema><RegressionTable intercept="0"><NumericPredictor name="back" coefficient="1000"/></RegressionTable></RegressionModel></Segment>
</Segmentation></MiningModel></PMML>`
	m := loadText(t, doc)
	// x = 2: 2 + 100 ("2" equals "2") + 1000·2.5.
	if p, err := m.Predict(context.Background(), []float64{2}); err != nil || p.Value != 2602 {
		t.Errorf("x=2: %v, %v; want 2602", p.Value, err)
	}
	// x missing: the first segment replaces it by 10; the tree sees it
	// missing (no child is true: its root's 0); the third has no result
	// and is skipped.
	if p, err := m.Predict(context.Background(), []float64{math.NaN()}); err != nil || p.Value != 10 {
		t.Errorf("x missing: %v, %v; want 10", p.Value, err)
	}
	// x = 3: "3" maps to "x", which is not a number: the third segment has
	// no result and is skipped.
	if p, err := m.Predict(context.Background(), []float64{3}); err != nil || p.Value != 3 {
		t.Errorf("x=3: %v, %v; want 3", p.Value, err)
	}
}

// The DMG ordinal multinomial example: P(Y ≤ k) = logistic(θ_k + xβ).
func TestOrdinalMultinomial(t *testing.T) {
	m := loadFile(t, "pmml4s/dmg_general_ordinal_multinomial.xml")
	p := predict(t, m, map[string]any{"sex": 1, "minority": 0, "age": 25, "work": 4})
	xb := 1.149 - 0.067*25 + 0.060*4 // [MINORITY=0]([SEX=1]), age, work
	F := func(z float64) float64 { return 1 / (1 + math.Exp(-z)) }
	theta := []float64{-0.683, 0.723, 1.104, 1.922, 3.386, 4.006}
	prev := 0.0
	for k := range 7 {
		cum := 1.0
		if k < 6 {
			cum = F(theta[k] + xb)
		}
		if math.Abs(p.Values[k]-(cum-prev)) > 1e-15 {
			t.Errorf("P(%s) = %v, want %v", m.Classes()[k], p.Values[k], cum-prev)
		}
		prev = cum
	}
	if p.Label != "2" {
		t.Errorf("label %q", p.Label)
	}
}

// Targets answer for a model without a result: a regression's TargetValue
// defaultValue, a classification's prior probabilities.
func TestTargetDefaults(t *testing.T) {
	tree := func(fn, targets, scores string) string {
		return `<PMML version="4.4"><DataDictionary><DataField name="x" optype="continuous" dataType="double"/><DataField name="y" optype="` + map[string]string{"regression": "continuous", "classification": "categorical"}[fn] + `" dataType="string"/></DataDictionary>
<TreeModel functionName="` + fn + `"><MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema>` + targets + `
<Node><True/><Node score="` + scores + `"><SimplePredicate field="x" operator="greaterThan" value="0"/></Node></Node></TreeModel></PMML>`
	}
	reg := strings.Replace(tree("regression", `<Targets><Target field="y" rescaleFactor="2"><TargetValue defaultValue="-7"/></Target></Targets>`, "5"), `dataType="string"/></DataDictionary>`, `dataType="double"/></DataDictionary>`, 1)
	m := loadText(t, reg)
	for x, want := range map[float64]float64{1: 10, -1: -7} {
		p, err := m.Predict(context.Background(), []float64{x})
		if err != nil || p.Value != want {
			t.Errorf("regression x=%v: %v, %v; want %v", x, p.Value, err, want)
		}
	}
	cls := tree("classification", `<Targets><Target field="y"><TargetValue value="a" priorProbability="0.25"/><TargetValue value="b" priorProbability="0.75"/></Target></Targets>`, "a")
	m = loadText(t, cls)
	p, err := m.Predict(context.Background(), []float64{-1})
	if err != nil || p.Label != "b" || p.Values[0] != 0.25 || p.Values[1] != 0.75 {
		t.Errorf("priors: %+v, %v", p, err)
	}
	p, err = m.Predict(context.Background(), []float64{1})
	if err != nil || p.Label != "a" || p.Values[0] != 1 {
		t.Errorf("x=1: %+v, %v", p, err)
	}
}

// TestModelChainSkippedSegment: a later segment of a model chain that
// reads the output of an earlier segment whose predicate was false reads
// it as missing, not as what that segment computed for an earlier record.
func TestModelChainSkippedSegment(t *testing.T) {
	doc := `<PMML version="4.4"><DataDictionary><DataField name="x" optype="continuous" dataType="double"/><DataField name="y" optype="continuous" dataType="double"/></DataDictionary>
<MiningModel functionName="regression"><MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema>
<Segmentation multipleModelMethod="modelChain">
<Segment id="1"><SimplePredicate field="x" operator="greaterThan" value="0"/>
 <RegressionModel functionName="regression"><MiningSchema><MiningField name="x"/></MiningSchema>
 <Output><OutputField name="a" optype="continuous" dataType="double" feature="predictedValue"/></Output>
 <RegressionTable intercept="100"><NumericPredictor name="x" coefficient="1"/></RegressionTable></RegressionModel></Segment>
<Segment id="2"><True/>
 <RegressionModel functionName="regression"><MiningSchema><MiningField name="a" missingValueReplacement="-5"/></MiningSchema>
 <RegressionTable intercept="0"><NumericPredictor name="a" coefficient="1"/></RegressionTable></RegressionModel></Segment>
</Segmentation></MiningModel></PMML>`
	m := loadText(t, doc)
	for i := range 4 {
		for _, c := range []struct{ x, want float64 }{{1, 101}, {-1, -5}, {2, 102}, {-2, -5}} {
			p, err := m.Predict(context.Background(), []float64{c.x})
			if err != nil || p.Value != c.want {
				t.Fatalf("round %d, x=%v: %v, %v; want %v", i, c.x, p.Value, err, c.want)
			}
		}
	}
}
