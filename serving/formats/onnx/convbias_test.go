//go:build cgo && linux

package onnx_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/onnx"
)

// filled is n float32s of v.
func filled(n int, v float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// rawInitializer is a TensorProto of element type elem and raw data.
func rawInitializer(name string, elem int, dims []int, raw []byte) []byte {
	var t pb
	for _, d := range dims {
		t = t.varint(1, uint64(d))
	}
	return t.varint(2, uint64(elem)).str(8, name).bytes(9, raw)
}

// int8Initializer is an int8 TensorProto of raw data.
func int8Initializer(name string, dims []int, data []int8) []byte {
	raw := make([]byte, len(data))
	for i, v := range data {
		raw[i] = byte(v)
	}
	return rawInitializer(name, 3, dims, raw)
}

// A Conv, ConvTranspose or QLinearConv whose bias does not hold one
// element per output channel is refused at load, as is one whose bias or
// weights the load-time walk cannot size. ONNX Runtime 1.24 reads the
// bias by the output channels without checking its length: before, a
// Conv with a bias of 1 element for 2^20 channels loaded and scored the
// memory after the bias (values like 1.9e31 and NaN), a ConvTranspose so
// made killed the process with SIGSEGV at its load-time run, and a bias
// fed by the record was read past the same way. It runs in a child
// process, since a read past the bias may kill it.
func TestRuntimeRefusesConvBiasOfOtherLength(t *testing.T) {
	if os.Getenv("ONNX_TEST_CONV_BIAS") == "" {
		runtimeFormat(t) // skips without the library, or fails under CI
		cmd := exec.Command(os.Args[0], "-test.run", "^TestRuntimeRefusesConvBiasOfOtherLength$", "-test.v")
		cmd.Env = append(os.Environ(), "ONNX_TEST_CONV_BIAS=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	f := runtimeFormat(t)
	ctx := context.Background()
	const big = 1 << 20
	img := func(c int) []byte { return valueInfo("x", elemFloat, 1, c, 1, 1) }
	out := func(name string, c int) []byte { return valueInfo(name, elemFloat, 1, c, 1, 1) }
	conv := func(op string, attrs ...[]byte) func(string) []byte {
		return func(o string) []byte { return node(op, []string{"x", "w", "b"}, []string{o}, attrs...) }
	}
	refused := []struct {
		name   string
		pre    [][]byte                // nodes before the convolution
		conv   func(out string) []byte // the convolution, making out
		inits  [][]byte
		inputs [][]byte
		c      int // output channels
		elem   int // of the output; 0 for float
	}{
		{"Conv, bias of 1 for 4 channels",
			nil, conv("Conv"),
			[][]byte{initializer("w", []int{4, 4, 1, 1}, filled(16, 1)), initializer("b", []int{1}, []float32{10})},
			[][]byte{img(4)}, 4, 0},
		{"Conv, bias of 1 for 2^20 channels",
			nil, conv("Conv"),
			[][]byte{initializer("w", []int{big, 1, 1, 1}, filled(big, 1)), initializer("b", []int{1}, []float32{10})},
			[][]byte{img(1)}, big, 0},
		{"Conv, bias of 5 for 4 channels",
			nil, conv("Conv"),
			[][]byte{initializer("w", []int{4, 4, 1, 1}, filled(16, 1)), initializer("b", []int{5}, filled(5, 10))},
			[][]byte{img(4)}, 4, 0},
		{"ConvTranspose, bias of 1 for 2^20 channels",
			nil, conv("ConvTranspose"),
			[][]byte{initializer("w", []int{1, big, 1, 1}, filled(big, 1)), initializer("b", []int{1}, []float32{10})},
			[][]byte{img(1)}, big, 0},
		{"ConvTranspose of group 2, bias of 2 for 4 channels",
			nil, conv("ConvTranspose", attrInt("group", 2)),
			[][]byte{initializer("w", []int{4, 2, 1, 1}, filled(8, 1)), initializer("b", []int{2}, []float32{10, 20})},
			[][]byte{img(4)}, 4, 0},
		{"Conv, bias fed by the record",
			nil, conv("Conv"),
			[][]byte{initializer("w", []int{big, 1, 1, 1}, filled(big, 1))},
			[][]byte{img(1), valueInfo("b", elemFloat, 1)}, big, 0},
		{"Conv, bias of 1 for 4 channels, weights dequantized",
			[][]byte{node("DequantizeLinear", []string{"wq", "scale"}, []string{"w"})}, conv("Conv"),
			[][]byte{int8Initializer("wq", []int{4, 4, 1, 1}, make([]int8, 16)), initializer("scale", nil, []float32{1}), initializer("b", []int{1}, []float32{10})},
			[][]byte{img(4)}, 4, 0},
		{"QLinearConv, bias of 1 for 2^16 channels",
			[][]byte{node("QuantizeLinear", []string{"x", "s", "zp"}, []string{"xq"})},
			func(o string) []byte {
				return node("QLinearConv", []string{"xq", "s", "zp", "wq", "s", "zp", "s", "zp", "b"}, []string{o})
			},
			[][]byte{initializer("s", nil, []float32{1}), rawInitializer("zp", 2, nil, []byte{0}),
				rawInitializer("wq", 2, []int{1 << 16, 1, 1, 1}, make([]byte, 1<<16)), rawInitializer("b", 6, []int{1}, []byte{10, 0, 0, 0})},
			[][]byte{img(1)}, 1 << 16, 2},
	}
	for _, c := range refused {
		elem := c.elem
		if elem == 0 {
			elem = elemFloat
		}
		for _, nested := range []bool{false, true} {
			if nested && c.elem != 0 {
				continue // inIf's else branch passes the float x on
			}
			nodes := append(c.pre[:len(c.pre):len(c.pre)], c.conv("y"))
			inits := c.inits
			name := c.name
			if nested {
				name += ", in an If"
				nodes = append(c.pre[:len(c.pre):len(c.pre)], inIf(c.conv("inner"), elem, 1, c.c, 1, 1))
				inits = append(inits[:len(inits):len(inits)], boolInitializer("cond", true))
			}
			b := opsetModel(nodes, inits, c.inputs, [][]byte{valueInfo("y", elem, 1, c.c, 1, 1)})
			m, err := f.Load(ctx, serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: b})
			if !errors.Is(err, serving.ErrUnsupportedModel) {
				if m != nil {
					p, perr := m.Predict(ctx, make([]float64, m.(serving.Describer).Describe().Features))
					m.(serving.Closer).Close()
					vals := p.Values
					if len(vals) > 8 {
						vals = vals[:8]
					}
					t.Errorf("%s: loaded; Predict(zeros) = %v..., %v", name, vals, perr)
				}
				t.Errorf("%s: Load = %v; want serving.ErrUnsupportedModel", name, err)
				continue
			}
			t.Logf("%s: %v", name, err)
		}
	}
	// A bias of one element per channel loads and is added, with float
	// weights and with dequantized ones.
	loaded := []struct {
		name  string
		nodes [][]byte
		inits [][]byte
		want  []float64 // for x of ones
	}{
		{"Conv",
			[][]byte{node("Conv", []string{"x", "w", "b"}, []string{"y"})},
			[][]byte{initializer("w", []int{4, 4, 1, 1}, filled(16, 1)), initializer("b", []int{4}, []float32{10, 20, 30, 40})},
			[]float64{14, 24, 34, 44}},
		{"ConvTranspose of group 2",
			[][]byte{node("ConvTranspose", []string{"x", "w", "b"}, []string{"y"}, attrInt("group", 2))},
			[][]byte{initializer("w", []int{4, 2, 1, 1}, filled(8, 1)), initializer("b", []int{4}, []float32{10, 20, 30, 40})},
			[]float64{12, 22, 32, 42}},
		{"Conv, weights dequantized",
			[][]byte{
				node("DequantizeLinear", []string{"wq", "scale"}, []string{"w"}),
				node("Conv", []string{"x", "w", "b"}, []string{"y"}),
			},
			[][]byte{int8Initializer("wq", []int{4, 4, 1, 1}, []int8{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}), initializer("scale", nil, []float32{1}), initializer("b", []int{4}, []float32{10, 20, 30, 40})},
			[]float64{14, 24, 34, 44}},
	}
	for _, c := range loaded {
		m := loadRuntime(t, f, opsetModel(c.nodes, c.inits, [][]byte{img(4)}, [][]byte{out("y", 4)}))
		p, err := m.Predict(ctx, []float64{1, 1, 1, 1})
		if err != nil || !nearAll(p.Values, c.want) {
			t.Errorf("%s: Predict(ones) = %v, %v; want %v", c.name, p.Values, err, c.want)
		}
	}
}

// A Conv or ConvTranspose whose input's rank is not its weights' is
// refused at load, and so is one without kernel_shape whose input's rank
// the load-time walk does not know. ONNX Runtime 1.24 indexes the input's
// dimensions by the kernel of the weights unchecked when kernel_shape is
// absent: before, an input of rank 3 for weights of rank 4 failed an
// assertion in ONNX Runtime and aborted the process (SIGABRT) at session
// creation, directly, through a Relu, and with weights a graph input;
// FuzzLoadRuntime found it within a second of its Conv seed. A node with
// kernel_shape, or whose input is a graph input of the weights' rank,
// loads. It runs in a child process, since the abort kills it.
func TestRuntimeRefusesConvOfOtherRank(t *testing.T) {
	if os.Getenv("ONNX_TEST_CONV_RANK") == "" {
		runtimeFormat(t) // skips without the library, or fails under CI
		cmd := exec.Command(os.Args[0], "-test.run", "^TestRuntimeRefusesConvOfOtherRank$", "-test.v")
		cmd.Env = append(os.Environ(), "ONNX_TEST_CONV_RANK=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	f := runtimeFormat(t)
	ctx := context.Background()
	w := initializer("w", []int{4, 4, 1, 1}, filled(16, 1))
	x3, y3 := valueInfo("x", elemFloat, 1, 4, 2), valueInfo("y", elemFloat, 1, 4, 2)
	x4, y4 := valueInfo("x", elemFloat, 1, 4, 2, 2), valueInfo("y", elemFloat, 1, 4, 2, 2)
	conv := func(op, in, wn string, attrs ...[]byte) []byte {
		return node(op, []string{in, wn}, []string{"y"}, attrs...)
	}
	relu := node("Relu", []string{"x"}, []string{"r"})
	refused := []struct {
		name          string
		nodes, inits  [][]byte
		inputs, outpt [][]byte
	}{
		{"Conv, input of rank 3, weights of rank 4", [][]byte{conv("Conv", "x", "w")}, [][]byte{w}, [][]byte{x3}, [][]byte{y3}},
		{"ConvTranspose, input of rank 3, weights of rank 4", [][]byte{conv("ConvTranspose", "x", "w")}, [][]byte{w}, [][]byte{x3}, [][]byte{y3}},
		{"Conv after a Relu of rank 3, no kernel_shape", [][]byte{relu, conv("Conv", "r", "w")}, [][]byte{w}, [][]byte{x3}, [][]byte{y3}},
		{"Conv, weights a graph input of rank 4, input of rank 3", [][]byte{conv("Conv", "x", "wi")}, nil, [][]byte{x3, valueInfo("wi", elemFloat, 4, 4, 1, 1)}, [][]byte{y3}},
		{"Conv, kernel_shape of 1 value, weights of rank 4", [][]byte{conv("Conv", "x", "w", attrInts("kernel_shape", 1))}, [][]byte{w}, [][]byte{x3}, [][]byte{y3}},
		{"ConvTranspose, kernel_shape of 2 values, input of rank 3", [][]byte{conv("ConvTranspose", "x", "w", attrInts("kernel_shape", 1, 1))}, [][]byte{w}, [][]byte{x3}, [][]byte{y3}},
	}
	for _, c := range refused {
		m, err := f.Load(ctx, serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: opsetModel(c.nodes, c.inits, c.inputs, c.outpt)})
		if !errors.Is(err, serving.ErrUnsupportedModel) {
			if m != nil {
				m.(serving.Closer).Close()
			}
			t.Errorf("%s: Load = %v; want serving.ErrUnsupportedModel", c.name, err)
			continue
		}
		t.Logf("%s: %v", c.name, err)
	}
	for _, c := range []struct {
		name  string
		nodes [][]byte
	}{
		{"Conv, input of rank 4", [][]byte{conv("Conv", "x", "w")}},
		{"Conv after a Relu, kernel_shape of 2 values", [][]byte{relu, conv("Conv", "r", "w", attrInts("kernel_shape", 1, 1))}},
		{"ConvTranspose, input of rank 4", [][]byte{conv("ConvTranspose", "x", "w")}},
	} {
		m := loadRuntime(t, f, opsetModel(c.nodes, [][]byte{w}, [][]byte{x4}, [][]byte{y4}))
		x := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
		p, err := m.Predict(ctx, x)
		want := []float64{28, 32, 36, 40, 28, 32, 36, 40, 28, 32, 36, 40, 28, 32, 36, 40}
		if err != nil || !nearAll(p.Values, want) {
			t.Errorf("%s: Predict = %v, %v; want %v", c.name, p.Values, err, want)
		}
	}
}
