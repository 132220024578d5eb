package tensorflow_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/tensorflow"
)

// A SavedModel directory, as TensorFlow writes it, archived with tar and
// served: TensorFlow Serving's half_plus_two test model, y = 0.5·x + 2,
// whose serving_default signature has one input, "x".
func Example_savedModel() {
	var archive bytes.Buffer
	tw := tar.NewWriter(&archive)
	if err := tw.AddFS(os.DirFS("testdata/savedmodel/half_plus_two_tf2_cpu/00000123")); err != nil {
		panic(err)
	}
	if err := tw.Close(); err != nil {
		panic(err)
	}

	ctx := context.Background()
	m, err := serving.Load(ctx, serving.Descriptor{
		Name:   "half_plus_two",
		Format: tensorflow.SavedModelFormatName,
		Bytes:  archive.Bytes(),
		// The default; any other signature of the model is named so.
		Labels: map[string]string{tensorflow.LabelSignature: "serving_default"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("inputs:", m.(serving.Describer).Describe().Inputs[0].Name)
	for _, x := range []float64{1, 3} {
		p, err := m.Predict(ctx, []float64{x})
		if err != nil {
			panic(err)
		}
		fmt.Printf("f(%v) = %v\n", x, p.Value)
	}
	// Output:
	// inputs: x
	// f(1) = 2.5
	// f(3) = 3.5
}
