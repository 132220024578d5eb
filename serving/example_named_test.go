package serving_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/modelstream/modelstream/serving"
)

// sumModel names its inputs and answers their weighted sum.
type sumModel struct {
	inputs  []serving.Input
	weights []float64
}

func (m sumModel) Predict(_ context.Context, x []float64) (serving.Prediction, error) {
	var s float64
	for i, v := range x {
		s += m.weights[i] * v
	}
	return serving.Prediction{Value: s}, nil
}

func (m sumModel) Describe() serving.ModelInfo {
	return serving.ModelInfo{Features: len(m.inputs), Inputs: m.inputs, Outputs: 1}
}

// Records with named fields are bound by name to whatever the live
// version reads: v2 reads other fields, in another order, with no change
// to the code that scores. A version needing a field the declared stream
// lacks is refused at activation.
func ExampleServer_namedInputs() {
	ctx := context.Background()
	srv, _ := serving.NewServer(serving.WithLogger(slog.New(slog.DiscardHandler)),
		serving.WithStreamFields("price", "rooms", "area", "floor", "city"))
	defer srv.Close()

	// One Layout per distinct set of fields; codecs share it across records.
	layout, _ := serving.NewLayout("rooms", "area", "floor", "city")
	rec := serving.Record{Layout: layout, Features: []float64{3, 70, 2, 0}, Text: []string{"", "", "", "Lyon"}}
	scorer := srv.Model("price")

	v1 := sumModel{inputs: []serving.Input{{Name: "area"}, {Name: "rooms"}}, weights: []float64{2, 10}}
	srv.ActivateModel(ctx, serving.ModelRef{Name: "price", Version: 1}, v1)
	res, _ := scorer.Score(ctx, rec)
	fmt.Println(res.Provenance.Model, res.Value)

	// v2 reads a categorical field too: the text "Lyon" reaches it as its
	// code, 1.
	v2 := sumModel{inputs: []serving.Input{{Name: "floor"}, {Name: "city", Categories: []string{"Paris", "Lyon"}}, {Name: "area"}},
		weights: []float64{5, 100, 1}}
	srv.ActivateModel(ctx, serving.ModelRef{Name: "price", Version: 2}, v2)
	res, _ = scorer.Score(ctx, rec)
	fmt.Println(res.Provenance.Model, res.Value)

	v3 := sumModel{inputs: []serving.Input{{Name: "balcony"}}, weights: []float64{1}}
	_, err := srv.ActivateModel(ctx, serving.ModelRef{Name: "price", Version: 3}, v3)
	var fe *serving.FieldError
	fmt.Println(errors.As(err, &fe), fe.Field, errors.Is(err, serving.ErrMissingField))
	live, _ := srv.Current("price")
	fmt.Println("live:", live)
	// Output:
	// price@v1 170
	// price@v2 180
	// true balcony true
	// live: price@v2
}

// An Admitter sees every model the Server is asked to activate, before
// anything is fetched; package governance's Verifier is one.
func ExampleWithAdmission() {
	ctx := context.Background()
	onlyLinear := serving.AdmitterFunc(func(_ context.Context, d serving.Descriptor) error {
		if d.Format != "linear" {
			return fmt.Errorf("format %q is not allowed here", d.Format)
		}
		return nil
	})
	srv, _ := serving.NewServer(serving.WithLogger(slog.New(slog.DiscardHandler)), serving.WithAdmission(onlyLinear))
	defer srv.Close()

	_, err := srv.Activate(ctx, serving.Descriptor{Name: "m", Format: "onnx", Location: "https://example.com/m.onnx"})
	fmt.Println(errors.Is(err, serving.ErrNotAdmitted))
	fmt.Println(err)
	// Output:
	// true
	// serving: load m (format "onnx"): serving: model not admitted: format "onnx" is not allowed here
}

// Bind makes a Scorer of a Model outside any Server, for tests and for
// combinators; Version 0 on Activate means "the next version".
func ExampleBind() {
	ctx := context.Background()
	m := sumModel{inputs: []serving.Input{{Name: "x"}}, weights: []float64{2}}
	sc := serving.Bind(serving.ModelRef{Name: "double", Version: 1}, m)
	res, _ := sc.Score(ctx, serving.Record{Features: []float64{21}})
	fmt.Println(res.Provenance.Model, res.Value)

	// A nil Model is refused when scoring, like a name with nothing live.
	_, err := serving.Bind(serving.ModelRef{Name: "none", Version: 1}, nil).Score(ctx, serving.Record{})
	fmt.Println(errors.Is(err, serving.ErrNoModel))
	// Output:
	// double@v1 42
	// true
}

func init() {
	// A format of one's own registers like a database/sql driver, once.
	serving.Register("example-constant", serving.FormatFunc(func(_ context.Context, d serving.Descriptor) (serving.Model, error) {
		if len(d.Bytes) != 1 {
			return nil, serving.Corrupt("example-constant", fmt.Errorf("want 1 byte, got %d", len(d.Bytes)))
		}
		return constant(d.Bytes[0]), nil
	}))
}

// constant answers its own value, whatever the features.
type constant float64

func (c constant) Predict(context.Context, []float64) (serving.Prediction, error) {
	return serving.Prediction{Value: float64(c)}, nil
}

// A format is a Format registered under a name, usually from the init of
// its package (here, of this file); Load and the Server then accept model
// messages in it.
func ExampleRegister() {
	ctx := context.Background()
	srv, _ := serving.NewServer(serving.WithLogger(slog.New(slog.DiscardHandler)))
	defer srv.Close()
	ref, err := srv.Activate(ctx, serving.Descriptor{Name: "seven", Format: "example-constant", Bytes: []byte{7}})
	fmt.Println(ref.Name, ref.Version, err)
	res, _ := srv.Model("seven").Score(ctx, serving.Record{})
	fmt.Println(res.Value)
	_, err = serving.Load(ctx, serving.Descriptor{Name: "bad", Format: "example-constant", Bytes: []byte{1, 2}})
	fmt.Println(errors.Is(err, serving.ErrCorruptModel))
	// Output:
	// seven 1 <nil>
	// 7
	// true
}
