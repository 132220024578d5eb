package tensorflow_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/tensorflow"
)

// checkFuzzLoad loads b with f: the result must be a model that scores a
// zero vector and a batch, or an error of a documented kind.
func checkFuzzLoad(t *testing.T, f serving.Format, b []byte) {
	m, err := f.Load(context.Background(), serving.Descriptor{Bytes: b})
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
	rows := [][]float64{make([]float64, n), make([]float64, n), make([]float64, n)}
	if err := m.(serving.BatchPredictor).PredictBatch(context.Background(), rows, make([]serving.Prediction, len(rows))); err != nil {
		t.Fatalf("predict batch: %v", err)
	}
}

func fuzzFormat(f testing.TB) serving.Format {
	// Small limits keep each run fast; the bounds themselves are what is
	// tested.
	format, err := tensorflow.NewSavedModel(tensorflow.MaxArchiveBytes(1<<20), tensorflow.MaxElements(1<<16), tensorflow.MaxOps(1<<22), tensorflow.MaxNodes(512), tensorflow.BatchRows(3))
	if err != nil {
		f.Fatal(err)
	}
	return format
}

// FuzzLoadSavedModel feeds arbitrary archives to the SavedModel format.
// Seeds: the TF1 and TF2 half_plus_two archives, plain and gzipped.
func FuzzLoadSavedModel(f *testing.F) {
	for _, d := range []string{"half_plus_two_cpu", "half_plus_two_tf2_cpu"} {
		f.Add(tarDir(f, filepath.Join("testdata", "savedmodel", d), false))
		f.Add(tarDir(f, filepath.Join("testdata", "savedmodel", d), true))
	}
	format := fuzzFormat(f)
	f.Fuzz(func(t *testing.T, b []byte) { checkFuzzLoad(t, format, b) })
}

// FuzzSavedModelCheckpoint feeds arbitrary variables.index and data shard
// bytes beside the TF1 and TF2 half_plus_two graphs, so that the fuzzer
// works on the checkpoint reader (table blocks, Snappy, entries,
// offsets) rather than on the tar layer. Seeds: the models' own files.
func FuzzSavedModelCheckpoint(f *testing.F) {
	var pbs [][]byte
	for i, d := range []string{"half_plus_two_cpu", "half_plus_two_tf2_cpu"} {
		dir := filepath.Join("testdata", "savedmodel", d, "00000123")
		pb, err1 := os.ReadFile(filepath.Join(dir, "saved_model.pb"))
		index, err2 := os.ReadFile(filepath.Join(dir, "variables", "variables.index"))
		data, err3 := os.ReadFile(filepath.Join(dir, "variables", "variables.data-00000-of-00001"))
		if err := errors.Join(err1, err2, err3); err != nil {
			f.Fatal(err)
		}
		pbs = append(pbs, pb)
		f.Add(uint8(i), index, data)
	}
	format := fuzzFormat(f)
	f.Fuzz(func(t *testing.T, which uint8, index, data []byte) {
		checkFuzzLoad(t, format, archive(t, modelFiles(pbs[int(which)%len(pbs)], index, data)...))
	})
}
