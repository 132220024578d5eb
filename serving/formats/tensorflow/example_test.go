package tensorflow_test

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/tensorflow"
	"github.com/modelstream/modelstream/serving/formats/tensorflow/internal/tfpb"
)

// A frozen graph y = relu(x·W + b) over a [-1 2] placeholder, as
// TensorFlow writes it, served with its two inputs named by a label.
func Example() {
	graph := &tfpb.GraphDef{Node: []*tfpb.NodeDef{
		{Name: "x", Op: "Placeholder", Attr: map[string]*tfpb.AttrValue{
			"dtype": {Value: &tfpb.AttrValue_Type{Type: tfpb.DataType_DT_FLOAT}},
			"shape": {Value: &tfpb.AttrValue_Shape{Shape: &tfpb.TensorShapeProto{Dim: []*tfpb.TensorShapeProto_Dim{{Size: -1}, {Size: 2}}}}},
		}},
		{Name: "W", Op: "Const", Attr: map[string]*tfpb.AttrValue{
			"dtype": {Value: &tfpb.AttrValue_Type{Type: tfpb.DataType_DT_FLOAT}},
			"value": {Value: &tfpb.AttrValue_Tensor{Tensor: &tfpb.TensorProto{
				Dtype:       tfpb.DataType_DT_FLOAT,
				TensorShape: &tfpb.TensorShapeProto{Dim: []*tfpb.TensorShapeProto_Dim{{Size: 2}, {Size: 1}}},
				FloatVal:    []float32{0.5, -1},
			}}},
		}},
		{Name: "b", Op: "Const", Attr: map[string]*tfpb.AttrValue{
			"dtype": {Value: &tfpb.AttrValue_Type{Type: tfpb.DataType_DT_FLOAT}},
			"value": {Value: &tfpb.AttrValue_Tensor{Tensor: &tfpb.TensorProto{
				Dtype:       tfpb.DataType_DT_FLOAT,
				TensorShape: &tfpb.TensorShapeProto{Dim: []*tfpb.TensorShapeProto_Dim{{Size: 1}}},
				FloatVal:    []float32{1},
			}}},
		}},
		{Name: "MatMul", Op: "MatMul", Input: []string{"x", "W"}},
		{Name: "BiasAdd", Op: "BiasAdd", Input: []string{"MatMul", "b"}},
		{Name: "y", Op: "Relu", Input: []string{"BiasAdd"}},
	}}
	b, err := proto.Marshal(graph)
	if err != nil {
		panic(err)
	}
	m, err := serving.Load(context.Background(), serving.Descriptor{
		Name: "score", Format: tensorflow.FormatName, Bytes: b,
		Labels: map[string]string{tensorflow.LabelInputs: "income,debt"},
	})
	if err != nil {
		panic(err)
	}
	info := m.(serving.Describer).Describe()
	fmt.Println(info.Inputs, info.Input)
	p, err := m.Predict(context.Background(), []float64{4, 1.5})
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Value)
	// Output:
	// [{income []} {debt []}] x float32 [-1 2] (batch dimension -1)
	// 1.5
}
