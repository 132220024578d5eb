// Command embed is the "Embed it" snippet of the README, kept compiling
// and running by its test, as are the README's other snippets, in this
// package's other files: Serve (kafka.go, "Serve a Kafka stream") and
// Rules (scorer.go, "Writing your own Scorer").
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/modelstream/modelstream/serving"
	_ "github.com/modelstream/modelstream/serving/formats/linear" // import the formats you serve
)

func main() {
	ctx := context.Background()
	srv, err := serving.NewServer()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	// A model is data: a format name and the bytes its own tools wrote.
	model := []byte(`{"kind":"logistic","features":2,"feature_names":["amount","hour"],"weights":[[0.004,-0.05]],"bias":[-1]}`)
	ref, err := srv.Activate(ctx, serving.Descriptor{Name: "fraud", Format: "linear", Bytes: model}) // Version 0: the next one
	if err != nil {
		log.Fatal(err)
	}

	// The slot always scores with the version live now; activating v2 swaps it in.
	res, err := srv.Model("fraud").Score(ctx, serving.Record{Features: []float64{250, 3}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s scored %.3f\n", ref, res.Value) // res.Provenance.Model is ref
}
