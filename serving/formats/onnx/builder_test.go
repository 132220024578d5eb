package onnx_test

import (
	"encoding/binary"
	"math"
)

// A minimal ONNX protobuf writer, so tests can build models in Go without
// any tool: onnx-go keeps its generated protobuf types in an internal
// package. Field numbers are those of onnx.proto.

const (
	elemFloat = 1
	elemInt64 = 7
)

type pb []byte

func (b pb) key(field, wire int) pb { return binary.AppendUvarint(b, uint64(field)<<3|uint64(wire)) }

func (b pb) varint(field int, v uint64) pb { return binary.AppendUvarint(b.key(field, 0), v) }

func (b pb) bytes(field int, data []byte) pb {
	b = binary.AppendUvarint(b.key(field, 2), uint64(len(data)))
	return append(b, data...)
}

func (b pb) str(field int, s string) pb { return b.bytes(field, []byte(s)) }

func (b pb) fixed32(field int, v uint32) pb {
	return binary.LittleEndian.AppendUint32(b.key(field, 5), v)
}

// valueInfo declares a tensor: dims are ints (fixed) or strings (symbolic).
func valueInfo(name string, elem int, dims ...any) []byte {
	var shape pb
	for _, d := range dims {
		var dim pb
		switch d := d.(type) {
		case int:
			dim = dim.varint(1, uint64(int64(d)))
		case string:
			dim = dim.str(2, d)
		}
		shape = shape.bytes(1, dim)
	}
	tt := pb(nil).varint(1, uint64(elem)).bytes(2, shape)
	typ := pb(nil).bytes(1, tt)
	return pb(nil).str(1, name).bytes(2, typ)
}

// initializer is a float32 TensorProto with packed float_data.
func initializer(name string, dims []int, data []float32) []byte {
	var t pb
	for _, d := range dims {
		t = t.varint(1, uint64(d))
	}
	t = t.varint(2, elemFloat)
	packed := make([]byte, 0, 4*len(data))
	for _, v := range data {
		packed = binary.LittleEndian.AppendUint32(packed, math.Float32bits(v))
	}
	t = t.bytes(4, packed)
	return t.str(8, name)
}

func attrInt(name string, v int64) []byte {
	return pb(nil).str(1, name).varint(3, uint64(v)).varint(20, 2)
}

func attrFloat(name string, v float32) []byte {
	return pb(nil).str(1, name).fixed32(2, math.Float32bits(v)).varint(20, 1)
}

func node(op string, inputs, outputs []string, attrs ...[]byte) []byte {
	var n pb
	for _, in := range inputs {
		n = n.str(1, in)
	}
	for _, out := range outputs {
		n = n.str(2, out)
	}
	n = n.str(3, op+"_"+outputs[0]).str(4, op)
	for _, a := range attrs {
		n = n.bytes(5, a)
	}
	return n
}

type graphSpec struct {
	nodes, inits, inputs, outputs [][]byte
	sparseInits                   [][]byte // SparseTensorProtos
	valueInfos                    [][]byte // GraphProto.value_info
}

// model encodes a ModelProto with the graph last, so that every strict
// prefix of the bytes is a truncated graph.
func model(opset int, g graphSpec) []byte {
	var gb pb
	for _, n := range g.nodes {
		gb = gb.bytes(1, n)
	}
	gb = gb.str(2, "test")
	for _, t := range g.inits {
		gb = gb.bytes(5, t)
	}
	for _, v := range g.inputs {
		gb = gb.bytes(11, v)
	}
	for _, v := range g.outputs {
		gb = gb.bytes(12, v)
	}
	for _, t := range g.sparseInits {
		gb = gb.bytes(15, t)
	}
	for _, v := range g.valueInfos {
		gb = gb.bytes(13, v)
	}
	var m pb
	m = m.varint(1, 8) // ir_version
	m = m.str(2, "modelstream-test")
	m = m.bytes(8, pb(nil).str(1, "").varint(2, uint64(opset)))
	return m.bytes(7, gb)
}

// The tiny classifier: probs = softmax(x·W + b) over 3 classes, for x of
// shape [N 4] with a symbolic batch dimension.
var (
	tinyW = []float32{
		0.5, -0.2, 0.1,
		-0.3, 0.8, 0.05,
		0.2, 0.1, -0.6,
		0.0, -0.4, 0.9,
	}
	tinyB = []float32{0.1, -0.1, 0.05}
)

func tinyClassifier() []byte {
	return model(13, graphSpec{
		nodes: [][]byte{
			node("Gemm", []string{"x", "W", "b"}, []string{"logits"}, attrFloat("alpha", 1), attrFloat("beta", 1)),
			node("Softmax", []string{"logits"}, []string{"probs"}, attrInt("axis", 1)),
		},
		inits:   [][]byte{initializer("W", []int{4, 3}, tinyW), initializer("b", []int{3}, tinyB)},
		inputs:  [][]byte{valueInfo("x", elemFloat, "N", 4)},
		outputs: [][]byte{valueInfo("probs", elemFloat, "N", 3)},
	})
}

// tinyReference computes the tiny classifier in float64.
func tinyReference(x []float64) []float64 {
	z := make([]float64, 3)
	max := math.Inf(-1)
	for k := range z {
		z[k] = float64(tinyB[k])
		for j := range 4 {
			z[k] += float64(float32(x[j])) * float64(tinyW[j*3+k])
		}
		max = math.Max(max, z[k])
	}
	var sum float64
	for k := range z {
		z[k] = math.Exp(z[k] - max)
		sum += z[k]
	}
	for k := range z {
		z[k] /= sum
	}
	return z
}

// A single-output model: y = sigmoid(x·w + c) for x of shape [1 2].
func tinyScorer() []byte {
	return model(13, graphSpec{
		nodes: [][]byte{
			node("MatMul", []string{"x", "w"}, []string{"xw"}),
			node("Add", []string{"xw", "c"}, []string{"z"}),
			node("Sigmoid", []string{"z"}, []string{"y"}),
		},
		inits:   [][]byte{initializer("w", []int{2, 1}, []float32{1.5, -0.5}), initializer("c", []int{1, 1}, []float32{0.25})},
		inputs:  [][]byte{valueInfo("x", elemFloat, 1, 2)},
		outputs: [][]byte{valueInfo("y", elemFloat, 1, 1)},
	})
}

func tinyScorerReference(x []float64) float64 {
	z := float64(float32(x[0]))*1.5 + float64(float32(x[1]))*-0.5 + 0.25
	return 1 / (1 + math.Exp(-z))
}
