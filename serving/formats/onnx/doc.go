// Package onnx is the "onnx" model format: ONNX models (the protobuf
// bytes of a ModelProto, as torch.onnx.export or skl2onnx write them) run
// in pure Go by onnx-go with its gorgonnx backend. Importing the package
// registers the format with serving:
//
//	import _ "github.com/modelstream/modelstream/serving/formats/onnx"
//
// ONNX brings heavy dependencies (onnx-go, gorgonia, gonum), which is why
// it lives apart: a program that never imports it pays nothing for it.
//
// # Loading
//
// [Format.Parse] (and serving.Load, which calls it) does everything that
// can fail before the model takes traffic. It reads the graph's declared
// interface, decodes the model with onnx-go, builds the gorgonia
// expression graph, which is where gorgonnx meets each op, and runs it
// once on zeros. A model that uses an op gorgonnx lacks, an element type
// it cannot feed, or a graph gorgonia chokes on, is refused there with an
// error wrapping serving.ErrUnsupportedModel (and onnx-go's
// *onnx.ErrNotImplemented where that is the cause), never at the first
// Predict. Bytes that are not an ONNX model are refused with
// serving.ErrCorruptModel.
//
// One op is checked beyond that: Softmax. gorgonnx implements its opset
// 1-12 meaning, and opset 13 changed it, so a Softmax whose two meanings
// differ for the shape at hand is refused rather than computed wrongly.
//
// Against the ONNX project's own backend test suite (Debian's
// libonnx-testdata, 1072 models), about 140 models load and reproduce
// their expected outputs; every other one is refused at load. The ops
// that run include Add, Sub, Mul, Div, MatMul, Gemm, Conv, MaxPool,
// GlobalAveragePool, BatchNormalization, Relu, LeakyRelu, Sigmoid, Tanh,
// Softmax, Exp, Log, Sqrt, Abs, Neg, Ceil, Floor, Sign, Concat, Flatten,
// Reshape, Transpose, Unsqueeze, Dropout, Identity and Constant, for
// float32 and float64 tensors.
//
// # Input
//
// A feature vector fills the graph's inputs (those that are not
// initializers) in their declared order, each row-major, converted to
// the input's element type (float32 or float64). A symbolic dimension,
// such as a batch dimension "N", is fixed to 1: a Model scores one row at
// a time. The model says what it expects through serving.Describer:
// Features is the total number of input elements, the product of the
// input's dimensions, and Input spells out the shape, for example
//
//	float32 tensor [1 4] (symbolic N fixed to 1)
//
// A feature vector of another length is refused with a
// *serving.FeatureCountError. NaN and ±Inf pass through to the graph as
// they are; the Server's NonFinite policy decides whether they get here.
//
// # Output
//
// Predict reads the graph's first output; further outputs are not read.
// When it has one element, that element is the Prediction's Value and
// Values is nil. When it has several (class probabilities, logits, an
// image), Values holds all of them in row-major order, Value is the
// largest, and Label is the index of the largest, in decimal. Confidence
// is left at 0: the format cannot tell probabilities from scores.
// Outputs of an integer or boolean type are converted to float64.
//
// # Concurrency
//
// A [Model] is safe for concurrent use. A gorgonnx graph holds its inputs
// and outputs as state, so each backend instance serves one call at a
// time. A model keeps up to [Instances] of them (default 1, so calls take
// turns), built on demand, each with its own copy of the weights; a call
// waits for a free instance, or returns ctx.Err() if its context ends
// first. A running graph cannot be interrupted.
//
// Graphs are executed by this package, op by op, in the calling
// goroutine, and not by gorgonia's tape machine: that machine runs ops on
// a goroutine of its own, where a panic (gorgonia panics on shapes it did
// not expect) would kill the process beyond any recover. Here a panic
// becomes an error: serving.ErrUnsupportedModel at load, [ErrBackend] at
// Predict. gorgonnx also names graph nodes from an unguarded global
// counter, so building graphs is serialised across the process.
//
// # Limits
//
// onnx-go allocates every tensor shape a model declares when it decodes
// it; shapes larger than [MaxTensorElements] (default 16 Mi elements) are
// refused first. Initializers are bounded by the model's own size. A
// model keeps a copy of its bytes, to build further instances. Values are
// allocated afresh for each call, so allocations grow with the graph.
// Nothing bounds the size of intermediate values that broadcasting can
// produce from small declared shapes.
package onnx
