//go:build cgo && linux

package onnx_test

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/onnx"
)

// A program may load ONNX Runtime through onnxruntime_go itself before
// it starts the engine: the engine then finds that library among those
// loaded in the process, runs models on it, and a model that makes an
// output a scalar for some records scores them. It runs in a child
// process, where the library is not loaded yet.
func TestRuntimeLoadedElsewhere(t *testing.T) {
	lib := os.Getenv(onnx.LibraryEnv)
	if os.Getenv("ONNX_TEST_LOADED_ELSEWHERE") == "" {
		if lib == "" {
			runtimeFormat(t) // skips, or fails under CI
			t.Skipf("%s is not set", onnx.LibraryEnv)
		}
		cmd := exec.Command(os.Args[0], "-test.run", "^TestRuntimeLoadedElsewhere$", "-test.v")
		cmd.Env = append(os.Environ(), "ONNX_TEST_LOADED_ELSEWHERE=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	// The child: onnxruntime_go loads the library, and the engine is
	// started with no library named.
	os.Unsetenv(onnx.LibraryEnv)
	ort.SetSharedLibraryPath(lib)
	if err := ort.InitializeEnvironment(); err != nil {
		t.Fatal(err)
	}
	f, err := onnx.Open(onnx.Runtime())
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.Load(context.Background(), serving.Descriptor{Name: "m", Format: onnx.FormatName, Bytes: tinyScorer()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.(serving.Closer).Close()
	if p, err := m.Predict(context.Background(), []float64{1, 2}); err != nil || math.Abs(p.Value-tinyScorerReference([]float64{1, 2})) > 1e-6 {
		t.Errorf("Predict = %v, %v; want %v", p.Value, err, tinyScorerReference([]float64{1, 2}))
	}
	r := loadRuntime(t, f, rankFromData(true))
	if p, err := r.Predict(context.Background(), []float64{0, 0, 0}); err != nil || len(p.Values) != 4 || p.Value != 5 {
		t.Errorf("Predict([0 0 0]) = %+v, %v; want Values [5 0 0 0]", p, err)
	}
}

// The library found under one of its default names, through the dynamic
// loader's search path (no path given, nor ONNXRUNTIME_LIB): the engine
// finds the C API of that library, loaded by a bare name. It runs in a
// child process, whose loader reads LD_LIBRARY_PATH at start.
func TestRuntimeFoundByDefaultName(t *testing.T) {
	lib := os.Getenv(onnx.LibraryEnv)
	if os.Getenv("ONNX_TEST_DEFAULT_NAME") == "" {
		if lib == "" {
			runtimeFormat(t) // skips, or fails under CI
			t.Skipf("%s is not set", onnx.LibraryEnv)
		}
		if filepath.Base(lib) != "libonnxruntime.so.1" && filepath.Base(lib) != "libonnxruntime.so" {
			t.Skipf("%s is not named as one of the default names", lib)
		}
		cmd := exec.Command(os.Args[0], "-test.run", "^TestRuntimeFoundByDefaultName$", "-test.v")
		// CI makes runtimeFormat fail, not skip, when no library is found.
		cmd.Env = append(os.Environ(), "ONNX_TEST_DEFAULT_NAME=1", "CI=1", onnx.LibraryEnv+"=", "LD_LIBRARY_PATH="+filepath.Dir(lib))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	m := loadRuntime(t, runtimeFormat(t), rankFromData(true))
	if p, err := m.Predict(context.Background(), []float64{0, 0, 0}); err != nil || len(p.Values) != 4 || p.Value != 5 {
		t.Errorf("Predict([0 0 0]) = %+v, %v; want Values [5 0 0 0]", p, err)
	}
}
