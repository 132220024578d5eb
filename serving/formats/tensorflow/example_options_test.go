package tensorflow_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/tensorflow"
)

// NewSavedModel builds a SavedModel format with other limits than the
// registered one: here archives of at most 16 KiB, which refuses the
// half_plus_two archive (its saved_model.pb alone is 37,987 bytes).
// Register such a format under a name of your own (serving.Register) to
// serve with it.
func ExampleNewSavedModel() {
	var archive bytes.Buffer
	tw := tar.NewWriter(&archive)
	if err := tw.AddFS(os.DirFS("testdata/savedmodel/half_plus_two_tf2_cpu/00000123")); err != nil {
		panic(err)
	}
	if err := tw.Close(); err != nil {
		panic(err)
	}
	small, err := tensorflow.NewSavedModel(tensorflow.MaxArchiveBytes(16 << 10))
	if err != nil {
		panic(err)
	}
	d := serving.Descriptor{Name: "half_plus_two", Version: 1, Format: tensorflow.SavedModelFormatName, Bytes: archive.Bytes()}
	_, err = small.Load(context.Background(), d)
	fmt.Println("16 KiB bound: too large:", errors.Is(err, serving.ErrTooLarge))

	_, err = serving.Load(context.Background(), d) // the registered format: 256 MiB
	fmt.Println("default bound: loaded:", err == nil)

	_, err = tensorflow.NewSavedModel(tensorflow.MaxArchiveBytes(0))
	fmt.Println("bound 0: configuration error:", errors.Is(err, serving.ErrConfig))
	// Output:
	// 16 KiB bound: too large: true
	// default bound: loaded: true
	// bound 0: configuration error: true
}
