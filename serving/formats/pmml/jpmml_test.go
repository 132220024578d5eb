package pmml_test

import (
	"math"
	"testing"
)

// A document laid out the way JPMML-SparkML writes a classifier: a
// categorical target of dataType double, namespaced InlineTable columns,
// and OutputFields for the predicted value, its mapping back to the label
// index (a transformedValue MapValues over an output field) and the
// probabilities. Hand-written in that style, with hand-checked results.
const sparkStyle = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<PMML xmlns="http://www.dmg.org/PMML-4_3" xmlns:data="http://jpmml.org/jpmml-model/InlineTable" version="4.3">
	<Header><Application name="hand-written in the JPMML-SparkML layout"/></Header>
	<DataDictionary>
		<DataField name="quality" optype="categorical" dataType="double">
			<Value value="5.0"/><Value value="6.0"/><Value value="7.0"/>
		</DataField>
		<DataField name="alcohol" optype="continuous" dataType="double"/>
		<DataField name="sulphates" optype="continuous" dataType="double"/>
	</DataDictionary>
	<TransformationDictionary/>
	<TreeModel functionName="classification" missingValueStrategy="nullPrediction" noTrueChildStrategy="returnLastPrediction" splitCharacteristic="multiSplit">
		<MiningSchema>
			<MiningField name="quality" usageType="target"/>
			<MiningField name="alcohol"/>
			<MiningField name="sulphates"/>
		</MiningSchema>
		<Output>
			<OutputField name="pmml(prediction)" optype="categorical" dataType="double" feature="predictedValue" isFinalResult="false"/>
			<OutputField name="prediction" optype="continuous" dataType="double" feature="transformedValue">
				<MapValues outputColumn="data:output" dataType="double">
					<FieldColumnPair field="pmml(prediction)" column="data:input"/>
					<InlineTable>
						<row><data:input>5.0</data:input><data:output>0</data:output></row>
						<row><data:input>6.0</data:input><data:output>1</data:output></row>
						<row><data:input>7.0</data:input><data:output>2</data:output></row>
					</InlineTable>
				</MapValues>
			</OutputField>
			<OutputField name="probability(5.0)" optype="continuous" dataType="double" feature="probability" value="5.0"/>
			<OutputField name="probability(6.0)" optype="continuous" dataType="double" feature="probability" value="6.0"/>
			<OutputField name="probability(7.0)" optype="continuous" dataType="double" feature="probability" value="7.0"/>
		</Output>
		<Node>
			<True/>
			<Node>
				<SimplePredicate field="alcohol" operator="lessOrEqual" value="10.5"/>
				<Node score="5.0" recordCount="60.0">
					<SimplePredicate field="sulphates" operator="lessOrEqual" value="0.575"/>
					<ScoreDistribution value="5.0" recordCount="45.0"/>
					<ScoreDistribution value="6.0" recordCount="12.0"/>
					<ScoreDistribution value="7.0" recordCount="3.0"/>
				</Node>
				<Node score="6.0" recordCount="40.0">
					<SimplePredicate field="sulphates" operator="greaterThan" value="0.575"/>
					<ScoreDistribution value="5.0" recordCount="14.0"/>
					<ScoreDistribution value="6.0" recordCount="20.0"/>
					<ScoreDistribution value="7.0" recordCount="6.0"/>
				</Node>
			</Node>
			<Node score="7.0" recordCount="50.0">
				<SimplePredicate field="alcohol" operator="greaterThan" value="10.5"/>
				<ScoreDistribution value="5.0" recordCount="5.0"/>
				<ScoreDistribution value="6.0" recordCount="15.0"/>
				<ScoreDistribution value="7.0" recordCount="30.0"/>
			</Node>
		</Node>
	</TreeModel>
</PMML>`

func TestSparkStyleClassifier(t *testing.T) {
	m := loadText(t, sparkStyle)
	if got := m.Classes(); len(got) != 3 || got[0] != "5.0" || got[2] != "7.0" {
		t.Fatalf("classes %q", got)
	}
	in := m.Describe().Inputs
	if len(in) != 2 || in[0].Name != "alcohol" || in[1].Name != "sulphates" || in[0].Categories != nil {
		t.Fatalf("inputs %+v", in)
	}
	for _, c := range []struct {
		alcohol, sulphates float64
		label              string
		probs              []float64
	}{
		{9.5, 0.5, "5.0", []float64{0.75, 0.2, 0.05}},
		{9.5, 0.7, "6.0", []float64{0.35, 0.5, 0.15}},
		{12, 0.5, "7.0", []float64{0.1, 0.3, 0.6}},
	} {
		p := predict(t, m, map[string]any{"alcohol": c.alcohol, "sulphates": c.sulphates})
		if p.Label != c.label {
			t.Errorf("%v: label %q, want %q", c, p.Label, c.label)
		}
		for i, w := range c.probs {
			if math.Abs(p.Values[i]-w) > 1e-15 {
				t.Errorf("%v: P(%s) = %v, want %v", c, m.Classes()[i], p.Values[i], w)
			}
		}
	}
}
