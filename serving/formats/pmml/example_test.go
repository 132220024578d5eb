package pmml_test

import (
	"context"
	"fmt"

	"github.com/modelstream/modelstream/serving"
	_ "github.com/modelstream/modelstream/serving/formats/pmml"
)

// A PMML document, as an exporter writes it, is loaded by format name; its
// inputs are the MiningSchema's active fields, and a categorical field is
// fed the index of its value in the Input's Categories.
func Example() {
	doc := []byte(`<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">
  <DataDictionary>
    <DataField name="temperature" optype="continuous" dataType="double"/>
    <DataField name="outlook" optype="categorical" dataType="string">
      <Value value="sunny"/><Value value="overcast"/><Value value="rain"/>
    </DataField>
    <DataField name="play" optype="categorical" dataType="string">
      <Value value="yes"/><Value value="no"/>
    </DataField>
  </DataDictionary>
  <TreeModel functionName="classification">
    <MiningSchema>
      <MiningField name="temperature" missingValueReplacement="20"/>
      <MiningField name="outlook"/>
      <MiningField name="play" usageType="target"/>
    </MiningSchema>
    <Node><True/>
      <Node score="no"><SimplePredicate field="outlook" operator="equal" value="rain"/>
        <ScoreDistribution value="yes" recordCount="1"/><ScoreDistribution value="no" recordCount="3"/>
      </Node>
      <Node score="yes"><SimplePredicate field="temperature" operator="lessThan" value="30"/>
        <ScoreDistribution value="yes" recordCount="9"/><ScoreDistribution value="no" recordCount="1"/>
      </Node>
      <Node score="no"><True/></Node>
    </Node>
  </TreeModel>
</PMML>`)
	ctx := context.Background()
	m, err := serving.Load(ctx, serving.Descriptor{Name: "golf", Format: "pmml", Bytes: doc})
	if err != nil {
		fmt.Println(err)
		return
	}
	info := m.(serving.Describer).Describe()
	for _, in := range info.Inputs {
		fmt.Println(in.Name, in.Categories)
	}
	p, _ := m.Predict(ctx, []float64{25, 0}) // 25 degrees, sunny
	fmt.Printf("%s %.2f %v\n", p.Label, p.Confidence, p.Values)
	p, _ = m.Predict(ctx, []float64{25, 2}) // rain
	fmt.Printf("%s %.2f %v\n", p.Label, p.Confidence, p.Values)

	_, err = m.Predict(ctx, []float64{25, 7}) // no seventh outlook
	fmt.Println(err)
	// Output:
	// temperature []
	// outlook [sunny overcast rain]
	// yes 0.90 [0.9 0.1]
	// no 0.75 [0.25 0.75]
	// serving: bad field value: category code 7 is not one of the 3 categories: "outlook"
}
