package onnx

import (
	"fmt"
	"reflect"

	onnxgo "github.com/owulveryck/onnx-go"
	"github.com/owulveryck/onnx-go/backend/x/gorgonnx"
	"gorgonia.org/gorgonia"
)

// Softmax is the one op found (by running the ONNX backend test suite)
// where gorgonnx loads and runs a model yet computes something else than
// the model means. gorgonnx implements the opset 1-12 definition with the
// axis taken as is: the input is flattened to 2-D at axis, softmax runs
// over each row, and a 2-D input is never flattened. Opset 13 redefined
// Softmax to run along the one axis given (default -1), and negative axes
// were never normalised. checkSoftmax compares the groups of elements the
// two definitions normalise together, once the graph's shapes are known,
// and refuses the model where they differ.

// checkSoftmax verifies every Softmax node of a built graph.
func checkSoftmax(om *onnxgo.Model, opset int64, nodes []softmaxNode) error {
	for _, sm := range nodes {
		gn, ok := om.GetNodeByName(sm.input)
		var shape []int
		if n, isG := gn.(*gorgonnx.Node); ok && isG {
			if en := gorgoniaNodeOf(n); en != nil {
				shape = en.Shape()
			}
		}
		if shape == nil {
			return fmt.Errorf("cannot find the shape of Softmax input %q, so cannot check gorgonnx's Softmax matches opset %d", sm.input, opset)
		}
		if !softmaxAgrees(opset, sm, shape) {
			return fmt.Errorf("Softmax on %q (shape %v, axis %s, opset %d): gorgonnx would normalise over different elements than the model means", sm.input, shape, axisString(sm), opset)
		}
	}
	return nil
}

func axisString(sm softmaxNode) string {
	if !sm.hasAxis {
		return "default"
	}
	return fmt.Sprint(sm.axis)
}

// softmaxAgrees reports whether gorgonnx's Softmax over a tensor of the
// given shape normalises the same groups of elements as the ONNX
// definition for opset. Both group contiguous, equal-sized blocks of the
// row-major data when they agree, so comparing block sizes is enough.
func softmaxAgrees(opset int64, sm softmaxNode, shape []int) bool {
	r := len(shape)
	if r == 0 {
		return false
	}
	prod := func(ds []int) int {
		p := 1
		for _, d := range ds {
			p *= d
		}
		return p
	}
	// What gorgonnx does.
	var got int
	if r == 2 {
		got = shape[1]
	} else {
		k := 1
		if sm.hasAxis {
			k = int(sm.axis)
		}
		if k > r {
			return false // gorgonnx fails on this itself
		}
		got = prod(shape[max(k, 0):])
	}
	// What the model means.
	axis := int64(1)
	if opset >= 13 {
		axis = -1
	}
	if sm.hasAxis {
		axis = sm.axis
	}
	if axis < 0 {
		axis += int64(r)
	}
	if axis < 0 || axis >= int64(r) {
		return false
	}
	var want int
	if opset >= 13 {
		if prod(shape[axis+1:]) != 1 {
			return false // not contiguous blocks: gorgonnx never does this
		}
		want = shape[axis]
	} else {
		want = prod(shape[axis:])
	}
	return got == want
}

// gorgoniaNodeOf returns the expression-graph node gorgonnx built for n,
// or nil. gorgonnx keeps it in an unexported field; this reads it by
// reflection, for the shape only. It is pinned to onnx-go v0.5.0 by
// go.mod, and if a later version renames the field, the result is nil
// and models with Softmax are refused rather than risked.
func gorgoniaNodeOf(n *gorgonnx.Node) *gorgonia.Node {
	v := reflect.ValueOf(n).Elem().FieldByName("gorgoniaNode")
	if !v.IsValid() || v.Type() != reflect.TypeFor[*gorgonia.Node]() || v.IsNil() {
		return nil
	}
	return (*gorgonia.Node)(v.UnsafePointer())
}
