package pmml_test

import (
	"context"
	"errors"
	"testing"

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
