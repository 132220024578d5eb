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

// A tensor whose raw_data does not hold exactly its elements is refused
// as corrupt, wherever it is. Before, an int64 axis of 6 bytes, as an
// initializer or a Constant's value, read by a Squeeze killed the process
// with SIGSEGV when ONNX Runtime created the session; FuzzLoadRuntime
// found it within 20 s (testdata/fuzz/FuzzLoadRuntime/e46cf16ee9e231e0).
// It runs in a child process, since the crash kills it.
func TestRefusesRawDataOfOtherLength(t *testing.T) {
	if os.Getenv("ONNX_TEST_RAW_DATA") == "" {
		runtimeFormat(t) // skips without the library, or fails under CI
		cmd := exec.Command(os.Args[0], "-test.run", "^TestRefusesRawDataOfOtherLength$", "-test.v")
		cmd.Env = append(os.Environ(), "ONNX_TEST_RAW_DATA=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	f := runtimeFormat(t)
	axis := func(name string, raw []byte) []byte {
		t := pb(nil).varint(1, 1).varint(2, elemInt64)
		if name != "" {
			t = t.str(8, name)
		}
		return t.bytes(9, raw)
	}
	x, y := valueInfo("x", elemFloat, 1, 1), valueInfo("y", elemFloat, 1)
	squeeze := node("Squeeze", []string{"x", "ax"}, []string{"y"})
	byConstant := func(raw []byte) []byte {
		return opsetModel([][]byte{node("Constant", nil, []string{"ax"}, attrTensor("value", axis("", raw))), squeeze}, nil, [][]byte{x}, [][]byte{y})
	}
	byInitializer := func(raw []byte) []byte {
		return opsetModel([][]byte{squeeze}, [][]byte{axis("ax", raw)}, [][]byte{x}, [][]byte{y})
	}
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"Constant, 6 bytes for an int64", byConstant([]byte("transB"))},
		{"initializer, 6 bytes for an int64", byInitializer([]byte("transB"))},
		{"initializer, 9 bytes for an int64", byInitializer([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0})},
		{"initializer, no bytes for an int64", byInitializer(nil)},
	} {
		m, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: c.b})
		if !errors.Is(err, serving.ErrCorruptModel) {
			if m != nil {
				m.(serving.Closer).Close()
			}
			t.Errorf("%s: Load = %v; want serving.ErrCorruptModel", c.name, err)
			continue
		}
		t.Logf("%s: %v", c.name, err)
	}
	for name, b := range map[string][]byte{"Constant": byConstant([]byte{1, 0, 0, 0, 0, 0, 0, 0}), "initializer": byInitializer([]byte{1, 0, 0, 0, 0, 0, 0, 0})} {
		m := loadRuntime(t, f, b)
		if p, err := m.Predict(context.Background(), []float64{3}); err != nil || p.Value != 3 {
			t.Errorf("%s, 8 bytes for an int64: Predict([3]) = %v, %v; want 3", name, p.Value, err)
		}
	}
}
