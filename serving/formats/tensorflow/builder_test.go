package tensorflow_test

import (
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/tensorflow"
	"github.com/modelstream/modelstream/serving/formats/tensorflow/internal/tfpb"
)

// gb builds a GraphDef from the public proto definitions, node by node,
// as TensorFlow's Python API would write it.
type gb struct{ nodes []*tfpb.NodeDef }

const (
	f32 = tfpb.DataType_DT_FLOAT
	f64 = tfpb.DataType_DT_DOUBLE
	i32 = tfpb.DataType_DT_INT32
	i64 = tfpb.DataType_DT_INT64
)

func aType(t tfpb.DataType) *tfpb.AttrValue {
	return &tfpb.AttrValue{Value: &tfpb.AttrValue_Type{Type: t}}
}
func aBool(b bool) *tfpb.AttrValue { return &tfpb.AttrValue{Value: &tfpb.AttrValue_B{B: b}} }
func aStr(s string) *tfpb.AttrValue {
	return &tfpb.AttrValue{Value: &tfpb.AttrValue_S{S: []byte(s)}}
}
func aInt(i int64) *tfpb.AttrValue { return &tfpb.AttrValue{Value: &tfpb.AttrValue_I{I: i}} }
func aInts(v ...int64) *tfpb.AttrValue {
	return &tfpb.AttrValue{Value: &tfpb.AttrValue_List{List: &tfpb.AttrValue_ListValue{I: v}}}
}
func aShape(dims ...int64) *tfpb.AttrValue {
	return &tfpb.AttrValue{Value: &tfpb.AttrValue_Shape{Shape: shapeProto(dims)}}
}

func shapeProto(dims []int64) *tfpb.TensorShapeProto {
	s := &tfpb.TensorShapeProto{}
	for _, d := range dims {
		s.Dim = append(s.Dim, &tfpb.TensorShapeProto_Dim{Size: d})
	}
	return s
}

type attrs = map[string]*tfpb.AttrValue

// op adds a node and returns its name.
func (g *gb) op(name, op string, a attrs, inputs ...string) string {
	g.nodes = append(g.nodes, &tfpb.NodeDef{Name: name, Op: op, Input: inputs, Attr: a})
	return name
}

func (g *gb) placeholder(name string, t tfpb.DataType, dims ...int64) string {
	return g.op(name, "Placeholder", attrs{"dtype": aType(t), "shape": aShape(dims...)})
}

// constTensor adds a Const node holding p.
func (g *gb) constTensor(name string, p *tfpb.TensorProto) string {
	return g.op(name, "Const", attrs{"dtype": aType(p.Dtype), "value": {Value: &tfpb.AttrValue_Tensor{Tensor: p}}})
}

// constF32 adds a float32 constant in tensor_content form, as
// convert_variables_to_constants writes weights.
func (g *gb) constF32(name string, vals []float64, dims ...int64) string {
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(v)))
	}
	return g.constTensor(name, &tfpb.TensorProto{Dtype: f32, TensorShape: shapeProto(dims), TensorContent: b})
}

// constF64 adds a float64 constant in double_val form.
func (g *gb) constF64(name string, vals []float64, dims ...int64) string {
	return g.constTensor(name, &tfpb.TensorProto{Dtype: f64, TensorShape: shapeProto(dims), DoubleVal: vals})
}

// constFloat adds a constant of type t.
func (g *gb) constFloat(name string, t tfpb.DataType, vals []float64, dims ...int64) string {
	if t == f32 {
		return g.constF32(name, vals, dims...)
	}
	return g.constF64(name, vals, dims...)
}

// constI32 adds an int32 vector (or, with scalar, a scalar) in int_val
// form.
func (g *gb) constI32(name string, scalar bool, vals ...int32) string {
	p := &tfpb.TensorProto{Dtype: i32, IntVal: vals, TensorShape: &tfpb.TensorShapeProto{}}
	if !scalar {
		p.TensorShape = shapeProto([]int64{int64(len(vals))})
	}
	return g.constTensor(name, p)
}

func (g *gb) bytes(tb testing.TB) []byte {
	tb.Helper()
	b, err := proto.Marshal(&tfpb.GraphDef{Node: g.nodes})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// load loads b through serving.Load, as a Server would.
func load(b []byte, labels map[string]string) (*tensorflow.Model, error) {
	m, err := serving.Load(context.Background(), serving.Descriptor{Name: "tf", Format: tensorflow.FormatName, Bytes: b, Labels: labels})
	if err != nil {
		return nil, err
	}
	return m.(*tensorflow.Model), nil
}

func mustLoad(tb testing.TB, g *gb, labels map[string]string) *tensorflow.Model {
	tb.Helper()
	m, err := load(g.bytes(tb), labels)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// randVals returns n values in [-2, 2).
func randVals(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.Float64()*4 - 2
	}
	return v
}

// rounded returns v rounded to float32 when t is DT_FLOAT, so that a
// reference computed in float64 starts from the values the graph holds.
func rounded(t tfpb.DataType, v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		if t == f32 {
			x = float64(float32(x))
		}
		out[i] = x
	}
	return out
}

// tol is the relative tolerance of a graph of type t against a float64
// reference.
func tol(t tfpb.DataType) float64 {
	if t == f32 {
		return 2e-5
	}
	return 1e-12
}

func near(got, want, tol float64) bool {
	if math.IsNaN(got) || math.IsNaN(want) {
		return math.IsNaN(got) && math.IsNaN(want)
	}
	if math.IsInf(want, 0) {
		return got == want
	}
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

// outputs returns all outputs of m for x.
func outputs(tb testing.TB, m serving.Model, x []float64) []float64 {
	tb.Helper()
	p, err := m.Predict(context.Background(), x)
	if err != nil {
		tb.Fatal(err)
	}
	return p.Outputs()
}

func checkNear(tb testing.TB, what string, got, want []float64, tol float64) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("%s: %d outputs, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !near(got[i], want[i], tol) {
			tb.Fatalf("%s: output %d = %v, want %v (all: %v, want %v)", what, i, got[i], want[i], got, want)
		}
	}
}
