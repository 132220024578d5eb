package onnx_test

import (
	"context"
	"fmt"
	"os"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/onnx"
)

// A three-class classifier, softmax(x·W + b), built in Go as ONNX
// protobuf bytes (see builder_test.go) and loaded the way a model message
// is: through serving.Load with the format's name.
func Example() {
	b := tinyClassifier()
	m, err := serving.Load(context.Background(), serving.Descriptor{
		Name:   "iris-like",
		Format: onnx.FormatName,
		Bytes:  b,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	info := m.(serving.Describer).Describe()
	fmt.Println("input:", info.Input)
	fmt.Println("features:", info.Features, "outputs:", info.Outputs)

	p, err := m.Predict(context.Background(), []float64{1, 0.5, -1, 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("class %s, p=%.3f, all %.3f\n", p.Label, p.Value, p.Values)

	_, err = m.Predict(context.Background(), []float64{1, 2})
	fmt.Println(err)
	// Output:
	// input: float32 tensor [1 4] (symbolic N fixed to 1)
	// features: 4 outputs: 3
	// class 2, p=0.883, all [0.086 0.030 0.883]
	// serving: feature count mismatch: model expects 4, got 2
}

// A model that uses an op gorgonnx does not implement is refused when it
// loads, not when it first scores.
func ExampleOpen_unsupported() {
	b := model(13, graphSpec{
		nodes:   [][]byte{node("Erf", []string{"x"}, []string{"y"})},
		inputs:  [][]byte{valueInfo("x", elemFloat, 1, 3)},
		outputs: [][]byte{valueInfo("y", elemFloat, 1, 3)},
	})
	f, err := onnx.Open(onnx.PureGo())
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = f.Load(context.Background(), serving.Descriptor{Name: "erf", Format: onnx.FormatName, Bytes: b})
	fmt.Println(err)
	// Output:
	// serving: unsupported model (onnx): onnx: operator Erf not implemented ()
}

// The service picks the engine once at start-up; model messages keep
// saying format "onnx". RuntimeOrPureGo runs models on ONNX Runtime when
// its shared library loads (here from ONNXRUNTIME_LIB), and on the pure-Go
// engine otherwise: either way this MLP exported by torch.onnx.export
// gives the same probabilities.
func ExampleUseEngine() {
	if err := onnx.UseEngine(onnx.RuntimeOrPureGo()); err != nil {
		fmt.Println(err)
		return
	}
	defer onnx.UseEngine(onnx.PureGo()) // back to the default, for the other examples

	b, err := os.ReadFile("testdata/torch_mlp.onnx")
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := serving.Load(context.Background(), serving.Descriptor{Name: "mlp", Format: onnx.FormatName, Bytes: b})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.(serving.Closer).Close()
	p, err := m.Predict(context.Background(), []float64{0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8, 0.9, 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%.4f\n", p.Values)
	// Output:
	// [0.3515 0.3071 0.3415]
}
