package tensorflow_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/tensorflow"
	"github.com/modelstream/modelstream/serving/formats/tensorflow/internal/tfpb"
)

// The SavedModels under testdata/savedmodel were written by TensorFlow
// for TensorFlow Serving's own tests (see testdata/README.md). Each is
// sent here as Load receives it: a tar archive of its directory, built
// by tarDir from the files as they are in the repository.

// tarDir archives the directory dir as `tar -C dir -c .` would, with
// entries in lexical order; zip compresses the archive with gzip.
func tarDir(t testing.TB, dir string, zip bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if !zip {
		return buf.Bytes()
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	if _, err := zw.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

func loadSavedModel(t testing.TB, b []byte, labels map[string]string) (serving.Model, error) {
	t.Helper()
	return serving.Load(context.Background(), serving.Descriptor{Name: "sm", Format: tensorflow.SavedModelFormatName, Bytes: b, Labels: labels})
}

// TestSavedModelHalfPlusTwo serves TensorFlow Serving's half_plus_two
// models, a TF1 graph (VariableV2 variables read through Identity, the
// serving input an Identity of a ParseExample that feeding cuts away) and
// a TF2 one (resource variables, the signature a StatefulPartitionedCall
// of a traced function), and checks each signature against the function
// the models document: y = a·x + b with a = 0.5 and b = 2 (signature
// serving_default, regress_x_to_y), b = 3 for y2 and y3
// (regress_x_to_y2, regress_x2_to_y3). The values are exact in float32.
func TestSavedModelHalfPlusTwo(t *testing.T) {
	type sig struct {
		name    string
		offset  float64
		input   string
		batched bool
	}
	cases := []struct {
		dir  string
		sigs []sig
		// refused lists signatures fed by serialized tf.Example
		// strings, which a record cannot feed.
		refused []string
	}{
		{"half_plus_two_cpu", []sig{{"serving_default", 2, "x", true}, {"regress_x2_to_y3", 3, "inputs", true}},
			[]string{"classify_x_to_y", "regress_x_to_y", "regress_x_to_y2"}},
		{"half_plus_two_tf2_cpu", []sig{{"serving_default", 2, "x", false}, {"regress_x2_to_y3", 3, "inputs", false}, {"classify_x2_to_y3", 3, "inputs", false}},
			[]string{"classify_x_to_y", "regress_x_to_y", "regress_x_to_y2"}},
	}
	for _, c := range cases {
		for _, zip := range []bool{false, true} {
			b := tarDir(t, filepath.Join("testdata", "savedmodel", c.dir), zip)
			for _, s := range c.sigs {
				labels := map[string]string{}
				if s.name != "serving_default" {
					labels[tensorflow.LabelSignature] = s.name
				}
				m, err := loadSavedModel(t, b, labels)
				if err != nil {
					t.Fatalf("%s %s: %v", c.dir, s.name, err)
				}
				info := m.(serving.Describer).Describe()
				if info.Features != 1 || len(info.Inputs) != 1 || info.Inputs[0].Name != s.input {
					t.Fatalf("%s %s: inputs %+v, want one named %q", c.dir, s.name, info.Inputs, s.input)
				}
				if got := tensorflow.Batched(m.(*tensorflow.Model)); got != s.batched {
					t.Errorf("%s %s: batched %v, want %v", c.dir, s.name, got, s.batched)
				}
				xs := []float64{0, 1, 2, 5, -3, 1e3, 0.25}
				rows := make([][]float64, len(xs))
				for i, x := range xs {
					rows[i] = []float64{x}
					p, err := m.Predict(context.Background(), rows[i])
					if err != nil {
						t.Fatal(err)
					}
					if want := 0.5*x + s.offset; p.Value != want {
						t.Errorf("%s %s: f(%v) = %v, want %v", c.dir, s.name, x, p.Value, want)
					}
				}
				out := make([]serving.Prediction, len(rows))
				if err := m.(serving.BatchPredictor).PredictBatch(context.Background(), rows, out); err != nil {
					t.Fatal(err)
				}
				for i, x := range xs {
					if want := 0.5*x + s.offset; out[i].Value != want {
						t.Errorf("%s %s: batch f(%v) = %v, want %v", c.dir, s.name, x, out[i].Value, want)
					}
				}
			}
			for _, s := range c.refused {
				_, err := loadSavedModel(t, b, map[string]string{tensorflow.LabelSignature: s})
				wantLoadError(t, err, serving.ErrUnsupportedModel, "DT_STRING")
			}
		}
	}
}

// TestSavedModelUnknownShape serves half_plus_three, whose
// serving_default signature declares no shape for its input, an Identity
// of a ParseExample: a record cannot feed a tensor of unknown shape, and
// Load says so. Its input x2, a scalar placeholder that no signature
// names, is not reachable either.
func TestSavedModelUnknownShape(t *testing.T) {
	b := tarDir(t, filepath.Join("testdata", "savedmodel", "half_plus_three"), false)
	_, err := loadSavedModel(t, b, nil)
	wantLoadError(t, err, serving.ErrUnsupportedModel, `"feed/x"`, "unknown shape")
}

// TestSavedModelLabels checks the errors of labels that name no
// signature or output.
func TestSavedModelLabels(t *testing.T) {
	b := tarDir(t, filepath.Join("testdata", "savedmodel", "half_plus_two_cpu"), false)
	_, err := loadSavedModel(t, b, map[string]string{tensorflow.LabelSignature: "nope"})
	wantLoadError(t, err, serving.ErrInvalidDescriptor, `"nope"`, `"serving_default"`)
	_, err = loadSavedModel(t, b, map[string]string{tensorflow.LabelOutput: "z"})
	wantLoadError(t, err, serving.ErrInvalidDescriptor, `no output "z"`, `"y"`)
	m, err := loadSavedModel(t, b, map[string]string{tensorflow.LabelOutput: "y", tensorflow.LabelInputs: "celsius"})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.(serving.Describer).Describe().Inputs; len(got) != 1 || got[0].Name != "celsius" {
		t.Fatalf("inputs %+v", got)
	}
}

// TestSavedModelKeras serves a Keras Sequential model saved by
// model.save(save_format="tf") (testdata/savedmodel/keras_single_input:
// Dense 5 relu, Dense 5 relu, Dense 1 sigmoid, trained one Adam step):
// its serving_default signature calls nested traced functions, and its
// checkpoint holds the Adam slots and metrics beside the weights under
// object-graph keys. The model's output must match the network computed
// with plain loops from the weights in the checkpoint, and the input is
// named by the signature's key.
func TestSavedModelKeras(t *testing.T) {
	dir := filepath.Join("testdata", "savedmodel", "keras_single_input")
	index, err := os.ReadFile(filepath.Join(dir, "variables", "variables.index"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "variables", "variables.data-00000-of-00001"))
	if err != nil {
		t.Fatal(err)
	}
	type dense struct {
		kernel, bias []float32
		in, out      int
	}
	layers := make([]dense, 3)
	for i := range layers {
		prefix := "layer_with_weights-" + strconv.Itoa(i) + "/"
		k, ks, err := tensorflow.CheckpointFloats(index, data, prefix+"kernel/.ATTRIBUTES/VARIABLE_VALUE")
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := tensorflow.CheckpointFloats(index, data, prefix+"bias/.ATTRIBUTES/VARIABLE_VALUE")
		if err != nil {
			t.Fatal(err)
		}
		layers[i] = dense{kernel: k, bias: b, in: ks[0], out: ks[1]}
	}
	forward := func(x []float64) float64 {
		for i, l := range layers {
			y := make([]float64, l.out)
			for j := range y {
				s := float64(l.bias[j])
				for k := range l.in {
					s += x[k] * float64(l.kernel[k*l.out+j])
				}
				if i < 2 {
					s = max(s, 0)
				} else {
					s = 1 / (1 + math.Exp(-s))
				}
				y[j] = s
			}
			x = y
		}
		return x[0]
	}

	m, err := loadSavedModel(t, tarDir(t, dir, true), nil)
	if err != nil {
		t.Fatal(err)
	}
	info := m.(serving.Describer).Describe()
	if info.Features != 5 || info.Inputs[0].Name != "test_in_input:0" || info.Inputs[4].Name != "test_in_input:4" {
		t.Fatalf("inputs %+v", info.Inputs)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	rows := [][]float64{{0.1, 0.2, 0.3, 0.4, 0.5}}
	for range 40 {
		r := make([]float64, 5)
		for j := range r {
			r[j] = rng.Float64()*4 - 2
		}
		rows = append(rows, r)
	}
	out := make([]serving.Prediction, len(rows))
	if err := m.(serving.BatchPredictor).PredictBatch(context.Background(), rows, out); err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		p, err := m.Predict(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		want := forward(r)
		if math.Abs(p.Value-want) > 1e-6 || math.Abs(out[i].Value-want) > 1e-6 {
			t.Errorf("row %d %v: got %v (batch %v), want %v", i, r, p.Value, out[i].Value, want)
		}
	}
}

// TestSavedModelInputOrder gives half_plus_two's serving_default a
// second input, "b", fed where the graph reads variable b: the record
// feeds the inputs in the order of their keys ("b" before "x"), the
// fed tensor replaces the variable, and Inputs names both.
func TestSavedModelInputOrder(t *testing.T) {
	pb, index, data := halfPlusTwo(t)
	pb = editGraph(t, pb, func(mg *tfpb.MetaGraphDef) {
		sig := mg.GetSignatureDef()["serving_default"]
		x := sig.GetInputs()["x"]
		sig.GetInputs()["b"] = &tfpb.TensorInfo{Name: "b/read:0", Dtype: x.GetDtype(), TensorShape: x.GetTensorShape()}
	})
	m, err := loadSavedModel(t, archive(t, modelFiles(pb, index, data)...), nil)
	if err != nil {
		t.Fatal(err)
	}
	info := m.(serving.Describer).Describe()
	if info.Features != 2 || info.Inputs[0].Name != "b" || info.Inputs[1].Name != "x" {
		t.Fatalf("inputs %+v", info.Inputs)
	}
	p, err := m.Predict(context.Background(), []float64{3, 4})
	if err != nil {
		t.Fatal(err)
	}
	if p.Value != 0.5*4+3 {
		t.Fatalf("f(b=3, x=4) = %v, want 5", p.Value)
	}
}

// TestSavedModelInlinesOnlyWhatIsRead loads the TF2 half_plus_two with
// MaxNodes(60): its graph calls seven traced functions (six signatures,
// save and restore), which inlined together exceed 60 nodes, but only
// serving_default's function and the restore function are inlined.
func TestSavedModelInlinesOnlyWhatIsRead(t *testing.T) {
	f, err := tensorflow.NewSavedModel(tensorflow.MaxNodes(60))
	if err != nil {
		t.Fatal(err)
	}
	b := tarDir(t, filepath.Join("testdata", "savedmodel", "half_plus_two_tf2_cpu"), false)
	if _, err := f.Load(context.Background(), serving.Descriptor{Bytes: b}); err != nil {
		t.Fatal(err)
	}
}
