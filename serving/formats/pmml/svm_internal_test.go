package pmml

import (
	"context"
	"testing"
)

// svmShared is a one-against-one SVM over three categories whose three
// machines share the three support vectors, as LIBSVM writes them: each
// vector serves the two machines of its category.
const svmShared = `<PMML version="4.4"><DataDictionary><DataField name="x" optype="continuous" dataType="double"/><DataField name="y" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/><Value value="c"/></DataField></DataDictionary>
<SupportVectorMachineModel functionName="classification" classificationMethod="OneAgainstOne">
<MiningSchema><MiningField name="x"/><MiningField name="y" usageType="target"/></MiningSchema>
<RadialBasisKernelType gamma="0.5"/>
<VectorDictionary><VectorFields><FieldRef field="x"/></VectorFields>
<VectorInstance id="va"><Array type="real">0</Array></VectorInstance>
<VectorInstance id="vb"><Array type="real">5</Array></VectorInstance>
<VectorInstance id="vc"><Array type="real">10</Array></VectorInstance>
<VectorInstance id="unused"><Array type="real">7</Array></VectorInstance>
</VectorDictionary>
<SupportVectorMachine targetCategory="a" alternateTargetCategory="b"><SupportVectors><SupportVector vectorId="va"/><SupportVector vectorId="vb"/></SupportVectors><Coefficients absoluteValue="0"><Coefficient value="-1"/><Coefficient value="1"/></Coefficients></SupportVectorMachine>
<SupportVectorMachine targetCategory="a" alternateTargetCategory="c"><SupportVectors><SupportVector vectorId="va"/><SupportVector vectorId="vc"/></SupportVectors><Coefficients absoluteValue="0"><Coefficient value="-1"/><Coefficient value="1"/></Coefficients></SupportVectorMachine>
<SupportVectorMachine targetCategory="b" alternateTargetCategory="c"><SupportVectors><SupportVector vectorId="vb"/><SupportVector vectorId="vc"/></SupportVectors><Coefficients absoluteValue="0"><Coefficient value="-1"/><Coefficient value="1"/></Coefficients></SupportVectorMachine>
</SupportVectorMachineModel></PMML>`

// The kernel of the record with a support vector is computed once per
// Predict, however many machines share the vector: it was computed once
// per machine, so LIBSVM's one-against-one models over k categories did
// the work k-1 times, and a document referencing one long vector many
// times made a Predict cost the product of its two sizes (quadratic in the
// document's).
func TestSVMKernelOncePerVector(t *testing.T) {
	m, err := parse([]byte(svmShared))
	if err != nil {
		t.Fatal(err)
	}
	sm := m.top.core.(*svmModel)
	calls := 0
	kern := sm.kern
	sm.kern = func(x, y []float64) float64 { calls++; return kern(x, y) }
	// Each machine votes for the category of the nearer vector: the
	// smaller value (-K(x, first) + K(x, second)) picks targetCategory.
	for x, want := range map[float64]string{1: "a", 4: "b", 9: "c"} {
		calls = 0
		p, err := m.Predict(context.Background(), []float64{x})
		if err != nil || p.Label != want {
			t.Fatalf("x=%v: %+v, %v; want %s", x, p, err, want)
		}
		if calls != 3 {
			t.Errorf("x=%v: %d kernel evaluations, want 3 (one per vector in use)", x, calls)
		}
	}
}
