package tensorflow_test

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkLoadSavedModel measures Load of the test SavedModels from
// their tar archives: reading the archive, decoding saved_model.pb,
// inlining the functions, reading the checkpoint and compiling.
func BenchmarkLoadSavedModel(b *testing.B) {
	for _, d := range []string{"half_plus_two_cpu", "half_plus_two_tf2_cpu", "keras_single_input"} {
		for _, zip := range []bool{false, true} {
			name := d
			if zip {
				name += "/gzip"
			}
			arch := tarDir(b, filepath.Join("testdata", "savedmodel", d), zip)
			b.Run(name, func(b *testing.B) {
				b.SetBytes(int64(len(arch)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := loadSavedModel(b, arch, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkSavedModelKerasPredict scores one record with the Keras
// SavedModel, which compiles to the same plan as a frozen graph of the
// network.
func BenchmarkSavedModelKerasPredict(b *testing.B) {
	m, err := loadSavedModel(b, tarDir(b, filepath.Join("testdata", "savedmodel", "keras_single_input"), false), nil)
	if err != nil {
		b.Fatal(err)
	}
	x := []float64{0.1, 0.2, 0.3, 0.4, 0.5}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Predict(ctx, x); err != nil {
			b.Fatal(err)
		}
	}
}
