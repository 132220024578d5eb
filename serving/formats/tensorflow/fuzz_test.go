package tensorflow_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/tensorflow"
)

// FuzzLoadGraphDef feeds arbitrary bytes to the format. Each input must
// give a model or an error wrapping ErrCorruptModel,
// ErrUnsupportedModel or ErrInvalidDescriptor, and a model must score a
// zero vector and a small batch: nothing may panic, hang or exhaust
// memory. Seeds: an MLP, a small convolutional network and a graph of
// every shape op.
func FuzzLoadGraphDef(f *testing.F) {
	f.Add(smallMLP(f))
	f.Add(convNet(f))
	f.Add(shapeGraph(f))
	f.Add(nchwNet(f))
	// A small limit keeps each run fast; the bound itself is what is tested.
	format, err := tensorflow.New(tensorflow.MaxElements(1<<16), tensorflow.MaxOps(1<<22), tensorflow.MaxNodes(256), tensorflow.BatchRows(3))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := format.Load(context.Background(), serving.Descriptor{Bytes: b})
		if err != nil {
			if !errors.Is(err, serving.ErrCorruptModel) && !errors.Is(err, serving.ErrUnsupportedModel) && !errors.Is(err, serving.ErrInvalidDescriptor) {
				t.Fatalf("untyped load error: %v", err)
			}
			return
		}
		n := m.(serving.Describer).Describe().Features
		if _, err := m.Predict(context.Background(), make([]float64, n)); err != nil {
			t.Fatalf("predict: %v", err)
		}
		rows := [][]float64{make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)}
		if err := m.(serving.BatchPredictor).PredictBatch(context.Background(), rows, make([]serving.Prediction, len(rows))); err != nil {
			t.Fatalf("predict batch: %v", err)
		}
	})
}

// convNet is a small convolutional classifier: Conv2D, BiasAdd, Relu,
// MaxPool, AvgPool, Reshape, MatMul and Softmax.
func convNet(tb testing.TB) []byte {
	rng := rand.New(rand.NewPCG(4, 4))
	g := &gb{}
	x := g.placeholder("image", f32, -1, 6, 6, 1)
	k := g.constF32("conv/kernel", randVals(rng, 3*3*1*4), 3, 3, 1, 4)
	c := g.op("conv/Conv2D", "Conv2D", attrs{"T": aType(f32), "padding": aStr("SAME"), "strides": aInts(1, 1, 1, 1)}, x, k)
	c = g.op("conv/BiasAdd", "BiasAdd", attrs{"T": aType(f32)}, c, g.constF32("conv/bias", randVals(rng, 4), 4))
	c = g.op("conv/Relu", "Relu", attrs{"T": aType(f32)}, c)
	p := g.op("pool", "MaxPool", attrs{"T": aType(f32), "padding": aStr("VALID"), "ksize": aInts(1, 2, 2, 1), "strides": aInts(1, 2, 2, 1)}, c)
	p = g.op("avg", "AvgPool", attrs{"T": aType(f32), "padding": aStr("SAME"), "ksize": aInts(1, 2, 2, 1), "strides": aInts(1, 1, 1, 1)}, p)
	r := g.op("flatten", "Reshape", attrs{"T": aType(f32)}, p, g.constI32("flatten/shape", false, -1, 36))
	d := g.op("dense/MatMul", "MatMul", attrs{"T": aType(f32)}, r, g.constF32("dense/kernel", randVals(rng, 36*3), 36, 3))
	g.op("probs", "Softmax", attrs{"T": aType(f32)}, d)
	return g.bytes(tb)
}

// shapeGraph uses ExpandDims, Squeeze, ConcatV2, Mean, Sum, ArgMax and
// Cast on two placeholders.
func shapeGraph(tb testing.TB) []byte {
	g := &gb{}
	a := g.placeholder("a", f64, -1, 3)
	b := g.placeholder("b", f64, -1, 3)
	e := g.op("e", "ExpandDims", attrs{"T": aType(f64)}, a, g.constI32("d", true, 1))
	e = g.op("sq", "Squeeze", attrs{"T": aType(f64), "squeeze_dims": aInts(1)}, e)
	c := g.op("cat", "ConcatV2", attrs{"T": aType(f64), "N": aInt(2)}, e, b, g.constI32("ax", true, 1))
	m := g.op("mean", "Mean", attrs{"T": aType(f64), "keep_dims": aBool(true)}, c, g.constI32("ax1", false, 1))
	s := g.op("sum", "Sum", attrs{"T": aType(f64)}, c, g.constI32("ax2", false, -1))
	am := g.op("am", "ArgMax", attrs{"T": aType(f64)}, c, g.constI32("ax3", true, 1))
	am = g.op("amf", "Cast", attrs{"SrcT": aType(i64), "DstT": aType(f64)}, am)
	x := g.op("x", "AddV2", attrs{"T": aType(f64)}, s, am)
	g.op("out", "Sub", attrs{"T": aType(f64)}, m, x)
	return g.bytes(tb)
}

// nchwNet is a convolution, bias and pooling in the NCHW data format.
func nchwNet(tb testing.TB) []byte {
	rng := rand.New(rand.NewPCG(5, 5))
	g := &gb{}
	x := g.placeholder("image", f32, -1, 2, 4, 4)
	k := g.constF32("kernel", randVals(rng, 2*2*2*3), 2, 2, 2, 3)
	c := g.op("conv", "Conv2D", attrs{"T": aType(f32), "padding": aStr("VALID"), "data_format": aStr("NCHW"), "strides": aInts(1, 1, 1, 1)}, x, k)
	c = g.op("bias", "BiasAdd", attrs{"T": aType(f32), "data_format": aStr("NCHW")}, c, g.constF32("b", randVals(rng, 3), 3))
	g.op("pool", "AvgPool", attrs{"T": aType(f32), "padding": aStr("SAME"), "data_format": aStr("NCHW"), "ksize": aInts(1, 1, 2, 2), "strides": aInts(1, 1, 2, 2)}, c)
	return g.bytes(tb)
}
