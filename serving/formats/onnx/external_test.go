package onnx_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/onnx"
)

// externalTensor is a float32 TensorProto of the given dims whose data
// ONNX would read from the file at location: data_location EXTERNAL and
// external_data entries location, offset and length. With only set,
// the tensor carries just that one of the two markers ("data_location"
// or "external_data").
func externalTensor(name string, dims []int, location, only string) []byte {
	var t pb
	n := 1
	for _, d := range dims {
		t = t.varint(1, uint64(d))
		n *= d
	}
	t = t.varint(2, elemFloat).str(8, name)
	if only != "data_location" {
		entry := func(k, v string) []byte { return pb(nil).str(1, k).str(2, v) }
		t = t.bytes(13, entry("location", location))
		t = t.bytes(13, entry("offset", "0"))
		t = t.bytes(13, entry("length", []string{"0", "4", "8", "12", "16", "20", "24", "28", "32", "36", "40", "44", "48"}[min(n, 12)]))
	}
	if only != "external_data" {
		t = t.varint(14, 1) // DataLocation EXTERNAL
	}
	return t
}

// graphOf encodes a GraphProto, as a node attribute holds one.
func graphOf(name string, nodes, outputs [][]byte) []byte {
	var g pb
	for _, n := range nodes {
		g = g.bytes(1, n)
	}
	g = g.str(2, name)
	for _, o := range outputs {
		g = g.bytes(12, o)
	}
	return g
}

func attrTensor(name string, t []byte) []byte { return pb(nil).str(1, name).bytes(5, t).varint(20, 4) }

func attrGraph(name string, g []byte) []byte { return pb(nil).str(1, name).bytes(6, g).varint(20, 5) }

// externalModels are models that name a file for one of their tensors,
// each with the tensor name the refusal must give.
func externalModels() []struct {
	name, tensor string
	model        []byte
} {
	// The tiny classifier with W read from a file.
	classifier := func(w []byte) []byte {
		return model(13, graphSpec{
			nodes: [][]byte{
				node("Gemm", []string{"x", "W", "b"}, []string{"logits"}, attrFloat("alpha", 1), attrFloat("beta", 1)),
				node("Softmax", []string{"logits"}, []string{"probs"}, attrInt("axis", 1)),
			},
			inits:   [][]byte{w, initializer("b", []int{3}, tinyB)},
			inputs:  [][]byte{valueInfo("x", elemFloat, "N", 4)},
			outputs: [][]byte{valueInfo("probs", elemFloat, "N", 3)},
		})
	}
	// y = x + c, with c a sparse initializer (GraphProto field 15) whose
	// values are read from a file.
	sparse := func() []byte {
		idx := pb(nil).varint(1, 1).varint(2, elemInt64).bytes(7, []byte{0}).str(8, "c_indices")
		sp := pb(nil).bytes(1, externalTensor("c", []int{1}, "/etc/passwd", "")).bytes(2, idx).varint(3, 3)
		return model(13, graphSpec{
			nodes:       [][]byte{node("Add", []string{"x", "c"}, []string{"y"})},
			sparseInits: [][]byte{sp},
			inputs:      [][]byte{valueInfo("x", elemFloat, "N", 3)},
			outputs:     [][]byte{valueInfo("y", elemFloat, "N", 3)},
		})
	}
	// y = x + c, with c from a Constant node's value attribute.
	constant := func(c []byte) []byte {
		return model(13, graphSpec{
			nodes: [][]byte{
				node("Constant", nil, []string{"c"}, attrTensor("value", c)),
				node("Add", []string{"x", "c"}, []string{"y"}),
			},
			inputs:  [][]byte{valueInfo("x", elemFloat, "N", 3)},
			outputs: [][]byte{valueInfo("y", elemFloat, "N", 3)},
		})
	}
	// y = If(x[0] > 0) with branches that are Constants; the else branch
	// holds, one level further down, an If whose branch reads a file.
	branch := func(name string, c []byte) []byte {
		return graphOf(name, [][]byte{node("Constant", nil, []string{name + "_out"}, attrTensor("value", c))},
			[][]byte{valueInfo(name+"_out", elemFloat, 3)})
	}
	nested := func() []byte {
		inner := node("If", []string{"cond"}, []string{"else_out"},
			attrGraph("then_branch", branch("inner_then", initializer("t2", []int{3}, []float32{1, 2, 3}))),
			attrGraph("else_branch", branch("inner_else", externalTensor("deep", []int{3}, "/etc/passwd", ""))))
		elseG := graphOf("else", [][]byte{inner}, [][]byte{valueInfo("else_out", elemFloat, 3)})
		return model(13, graphSpec{
			nodes: [][]byte{
				node("ReduceSum", []string{"x"}, []string{"s"}, attrInt("keepdims", 0)),
				node("Greater", []string{"s", "zero"}, []string{"cond"}),
				node("If", []string{"cond"}, []string{"y"},
					attrGraph("then_branch", branch("then", initializer("t1", []int{3}, []float32{1, 2, 3}))),
					attrGraph("else_branch", elseG)),
			},
			inits:   [][]byte{initializer("zero", nil, []float32{0})},
			inputs:  [][]byte{valueInfo("x", elemFloat, 3)},
			outputs: [][]byte{valueInfo("y", elemFloat, 3)},
		})
	}
	// A Loop's body given in the graphs (plural) attribute field, as a
	// list: an unusual encoding every reader must still walk.
	graphsList := func() []byte {
		a := pb(nil).str(1, "body").bytes(11, branch("body", externalTensor("listed", []int{3}, "w.bin", ""))).varint(20, 10)
		return model(13, graphSpec{
			nodes:   [][]byte{node("Loop", []string{"", "cond"}, []string{"y"}, a)},
			inputs:  [][]byte{valueInfo("cond", 9)},
			outputs: [][]byte{valueInfo("y", elemFloat, 3)},
		})
	}
	return []struct {
		name, tensor string
		model        []byte
	}{
		{"initializer at an absolute path", "W", classifier(externalTensor("W", []int{4, 3}, "/etc/passwd", ""))},
		{"initializer at a relative path", "W", classifier(externalTensor("W", []int{4, 3}, "weights.bin", ""))},
		{"initializer escaping upwards", "W", classifier(externalTensor("W", []int{4, 3}, "../../../../etc/passwd", ""))},
		{"data_location alone", "W", classifier(externalTensor("W", []int{4, 3}, "", "data_location"))},
		{"external_data alone", "W", classifier(externalTensor("W", []int{4, 3}, "/etc/passwd", "external_data"))},
		{"sparse initializer", "c", sparse()},
		{"Constant attribute", "k", constant(externalTensor("k", []int{3}, "/etc/passwd", ""))},
		{"Constant attribute, relative", "k", constant(externalTensor("k", []int{3}, "k.bin", ""))},
		{"If branch two levels down", "deep", nested()},
		{"graphs list attribute", "listed", graphsList()},
	}
}

// TestRefusesExternalData: a model that names a file for a tensor's data
// is refused with serving.ErrUnsupportedModel naming the tensor, on both
// engines, before the engine sees it (for ONNX Runtime: no
// *onnx.RuntimeError), so that whoever can write to the models topic
// cannot make a scorer read files.
func TestRefusesExternalData(t *testing.T) {
	engines := []struct {
		name   string
		format func(t *testing.T) serving.Format
	}{
		{"pure-go", func(t *testing.T) serving.Format {
			f, err := onnx.Open(onnx.PureGo())
			if err != nil {
				t.Fatal(err)
			}
			return f
		}},
		{"onnxruntime", func(t *testing.T) serving.Format { return runtimeFormat(t) }},
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			f := e.format(t)
			for _, c := range externalModels() {
				t.Run(c.name, func(t *testing.T) {
					m, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: c.model})
					if err == nil {
						if cl, ok := m.(serving.Closer); ok {
							cl.Close()
						}
						t.Fatal("loaded")
					}
					want := `tensor "` + c.tensor + `" keeps its data in an external file`
					if !errors.Is(err, serving.ErrUnsupportedModel) || !strings.Contains(err.Error(), want) {
						t.Errorf("err = %v, want %v saying %q", err, serving.ErrUnsupportedModel, want)
					}
					if re := (*onnx.RuntimeError)(nil); errors.As(err, &re) {
						t.Errorf("err = %v: ONNX Runtime saw the model", err)
					}
				})
			}
		})
	}
}
