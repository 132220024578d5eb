package onnx_test

import (
	"context"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/onnx"
)

// A model the pure-Go engine refuses comes back as a nil Model, through
// Open(PureGo()) and through the registered format. Before, it was a nil
// *Model inside a non-nil Model, so a caller's "if m != nil { close it }"
// panicked (TestRefusesTypedDataOfOtherCount did, on a nil pointer in
// Close).
func TestPureGoRefusedModelIsNil(t *testing.T) {
	pure, err := onnx.Open(onnx.PureGo())
	if err != nil {
		t.Fatal(err)
	}
	if err := onnx.UseEngine(onnx.PureGo()); err != nil {
		t.Fatal(err)
	}
	d := serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: []byte("not a model")}
	for name, load := range map[string]func() (serving.Model, error){
		"Open(PureGo())": func() (serving.Model, error) { return pure.Load(context.Background(), d) },
		"serving.Load":   func() (serving.Model, error) { return serving.Load(context.Background(), d) },
	} {
		m, err := load()
		if err == nil || m != nil {
			t.Errorf("%s: Load = %#v, %v; want a nil Model and an error", name, m, err)
		}
	}
}
