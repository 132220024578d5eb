package onnx_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	onnxgo "github.com/owulveryck/onnx-go"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/onnx"
)

// The ONNX project's backend test suite, as packaged by Debian in
// libonnx-testdata: for each case a model.onnx and test_data_set_*/
// holding input_*.pb and output_*.pb TensorProto files. No one here wrote
// these files. .ci/run installs the package where apt-get is available.

// onnxTestdata returns the suite's data directory, or skips the test.
func onnxTestdata(t *testing.T) string {
	t.Helper()
	dirs := []string{
		os.Getenv("ONNX_TESTDATA"),
		"/usr/share/libonnx-testdata/data",
		"/usr/include/onnx/backend/test/data",
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if fi, err := os.Stat(filepath.Join(d, "node")); err == nil && fi.IsDir() {
			return d
		}
	}
	t.Skip("the ONNX backend test data is absent: install the Debian package libonnx-testdata " +
		"(apt-get install libonnx-testdata, as .ci/run does) or set ONNX_TESTDATA to its data directory")
	return ""
}

// testCase is one test_data_set: the flattened inputs and the first
// expected output.
type testCase struct {
	set      string
	features []float64
	want     []float64
}

// readTensor decodes a TensorProto file into float64s and its shape.
func readTensor(path string) ([]float64, []int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	t, err := onnxgo.NewTensor(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []float64
	switch d := t.Data().(type) {
	case []float32:
		for _, v := range d {
			out = append(out, float64(v))
		}
	case []float64:
		out = append(out, d...)
	case []int64:
		for _, v := range d {
			out = append(out, float64(v))
		}
	case []int32:
		for _, v := range d {
			out = append(out, float64(v))
		}
	case []bool:
		for _, v := range d {
			out = append(out, map[bool]float64{false: 0, true: 1}[v])
		}
	case float32:
		out = []float64{float64(d)}
	case float64:
		out = []float64{d}
	default:
		return nil, nil, fmt.Errorf("%s: element type %v not handled by this test", path, t.Dtype())
	}
	return out, []int(t.Shape().Clone()), nil
}

// readCases reads every test_data_set of a case directory.
func readCases(dir string) ([]testCase, error) {
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	slices.Sort(sets)
	var cases []testCase
	for _, set := range sets {
		c := testCase{set: filepath.Base(set)}
		for i := 0; ; i++ {
			p := filepath.Join(set, fmt.Sprintf("input_%d.pb", i))
			if _, err := os.Stat(p); err != nil {
				break
			}
			v, _, err := readTensor(p)
			if err != nil {
				return nil, err
			}
			c.features = append(c.features, v...)
		}
		want, _, err := readTensor(filepath.Join(set, "output_0.pb"))
		if err != nil {
			return nil, err
		}
		c.want = want
		cases = append(cases, c)
	}
	return cases, nil
}

// checkCase loads dir's model through serving.Load and scores every test
// set twice (a second pass catches state left behind by the first).
func checkCase(t *testing.T, dir string) (loaded bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := serving.Load(context.Background(), serving.Descriptor{Name: filepath.Base(dir), Format: onnx.FormatName, Bytes: b})
	if err != nil {
		if errors.Is(err, serving.ErrUnsupportedModel) {
			return false
		}
		t.Fatalf("%s: load: %v (a model from the ONNX suite must load or be unsupported, never corrupt)", dir, err)
	}
	cases, err := readCases(dir)
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	if len(cases) == 0 {
		t.Fatalf("%s: no test data sets", dir)
	}
	info := m.(serving.Describer).Describe()
	for pass := range 2 {
		for _, c := range cases {
			if len(c.features) != info.Features {
				t.Fatalf("%s/%s: the test feeds %d values, the model describes %d features (%s)", dir, c.set, len(c.features), info.Features, info.Input)
			}
			p, err := m.Predict(context.Background(), c.features)
			if err != nil {
				t.Fatalf("%s/%s pass %d: %v", dir, c.set, pass, err)
			}
			got := p.Outputs()
			if len(got) != len(c.want) {
				t.Fatalf("%s/%s: %d outputs, want %d", dir, c.set, len(got), len(c.want))
			}
			for i := range got {
				if !close32(got[i], c.want[i]) {
					t.Fatalf("%s/%s pass %d: output[%d] = %v, want %v", dir, c.set, pass, i, got[i], c.want[i])
				}
			}
		}
	}
	return true
}

// A curated set that must load and match: the ops a tabular or small
// vision model is made of.
var mustRun = []string{
	"node/test_relu",
	"node/test_add",
	"node/test_add_bcast",
	"node/test_mul_bcast",
	"node/test_matmul_2d",
	"node/test_gemm_all_attributes",
	"node/test_gemm_default_vector_bias",
	"node/test_gemm_transposeB",
	"node/test_sigmoid",
	"node/test_tanh",
	"node/test_softmax_example",
	"node/test_softmax_large_number",
	"node/test_softmax_axis_2",
	"node/test_basic_conv_with_padding",
	"node/test_conv_with_strides_padding",
	"node/test_maxpool_2d_default",
	"node/test_globalaveragepool",
	"node/test_batchnorm_example",
	"node/test_flatten_axis1",
	"node/test_transpose_all_permutations_3",
	"node/test_concat_3d_axis_1",
	"node/test_leakyrelu",
	"node/test_exp",
	"node/test_log",
	"node/test_sqrt",
	"pytorch-converted/test_Linear",
	"pytorch-converted/test_Conv2d",
	"pytorch-converted/test_Conv2d_strided",
	"pytorch-converted/test_BatchNorm2d_eval",
	"pytorch-converted/test_MaxPool2d",
	"pytorch-converted/test_Softmax",
	"pytorch-converted/test_PixelShuffle",
	"pytorch-operator/test_operator_addmm",
	"pytorch-operator/test_operator_conv",
	"simple/test_single_relu_model",
	"simple/test_sign_model",
}

func TestBackendSuiteModelsMatch(t *testing.T) {
	data := onnxTestdata(t)
	for _, name := range mustRun {
		t.Run(name, func(t *testing.T) {
			if !checkCase(t, filepath.Join(data, name)) {
				t.Fatalf("%s: refused as unsupported, but onnx-go runs it", name)
			}
		})
	}
}

// Models the backend cannot run must be refused at load, with
// ErrUnsupportedModel, never at the first Predict.
func TestBackendSuiteUnsupportedRejectedAtLoad(t *testing.T) {
	data := onnxTestdata(t)
	cases := map[string]string{
		"node/test_argmax_default_axis_example":               "ArgMax",  // op not in gorgonnx
		"node/test_averagepool_2d_default":                    "Average", // op not in gorgonnx
		"pytorch-converted/test_LogSoftmax":                   "LogSoftmax",
		"node/test_reduce_mean_default_axes_keepdims_example": "ReduceMean",
		"node/test_softmax_axis_0":                            "Softmax",  // runs, but would compute the wrong groups
		"node/test_softmax_default_axis":                      "Softmax",  // ditto
		"node/test_add_uint8":                                 "uint8",    // input type
		"node/test_concat_1d_axis_negative_1":                 "panicked", // gorgonia panics on axis -1
	}
	for name, reason := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(data, name, "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = onnx.Parse(b)
			if !errors.Is(err, serving.ErrUnsupportedModel) {
				t.Fatalf("err = %v, want ErrUnsupportedModel", err)
			}
			if !strings.Contains(err.Error(), reason) {
				t.Errorf("err = %v, want it to mention %q", err, reason)
			}
		})
	}
}

// Every model of the suite either loads and reproduces all its test sets,
// or is refused at load as unsupported. None may load and then compute
// something else, crash the process, or be called corrupt.
func TestBackendSuiteSweep(t *testing.T) {
	data := onnxTestdata(t)
	dirs, _ := filepath.Glob(filepath.Join(data, "*", "*"))
	slices.Sort(dirs)
	ran, refused := 0, 0
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "model.onnx")); err != nil {
			continue
		}
		rel, _ := filepath.Rel(data, dir)
		if strings.HasPrefix(rel, "real/") {
			continue // the large zoo models are not shipped, only pointers
		}
		t.Run(rel, func(t *testing.T) {
			if checkCase(t, dir) {
				ran++
			} else {
				refused++
			}
		})
	}
	t.Logf("ONNX backend suite: %d models run and match, %d refused as unsupported", ran, refused)
	// A floor, so that a regression that refuses everything fails.
	if ran < 120 {
		t.Errorf("only %d models ran; onnx-go v0.5.0 with this format runs about 140", ran)
	}
}
