package pmml_test

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelstream/modelstream/serving"
)

// TestServerNamedRecords serves a PMML document through a Server: named
// records carrying a category as text reach the model as codes; a record
// without a field the model reads, or with a category the model has never
// seen, gets a typed error naming the field; a hostile document offered
// as the next version is refused and the live version keeps serving.
func TestServerNamedRecords(t *testing.T) {
	ctx := context.Background()
	srv, err := serving.NewServer(serving.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	good, err := os.ReadFile(filepath.Join("testdata", "sklearn", "tree-categorical.pmml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Activate(ctx, serving.Descriptor{Name: "m", Format: "pmml", Version: 1, Bytes: good}); err != nil {
		t.Fatal(err)
	}
	rows := readTruth(t, "tree-categorical.csv")
	// The stream's fields: an extra one, then the model's in another order.
	layout, err := serving.NewLayout("extra", "x", "color")
	if err != nil {
		t.Fatal(err)
	}
	sc := srv.Model("m")
	score := func(x float64, color string) (serving.Result, error) {
		return sc.Score(ctx, serving.Record{Layout: layout, Features: []float64{1, x, math.NaN()}, Text: []string{"", "", color}})
	}
	for i, r := range rows[:20] {
		res, err := score(r.rec["x"].(float64), r.rec["color"].(string))
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if res.Prediction.Label != r.label {
			t.Fatalf("row %d: %q, sklearn %q", i, res.Prediction.Label, r.label)
		}
	}

	var fe *serving.FieldError
	_, err = score(0.5, "purple")
	if !errors.Is(err, serving.ErrFieldType) || !errors.As(err, &fe) || fe.Field != "color" {
		t.Fatalf("unseen category: %v", err)
	}
	short, _ := serving.NewLayout("x")
	_, err = sc.Score(ctx, serving.Record{Layout: short, Features: []float64{0.5}})
	if !errors.Is(err, serving.ErrMissingField) || !errors.As(err, &fe) || fe.Field != "color" {
		t.Fatalf("missing field: %v", err)
	}

	hostile := []byte(`<!DOCTYPE PMML [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><PMML>&b;</PMML>`)
	if _, err := srv.Activate(ctx, serving.Descriptor{Name: "m", Format: "pmml", Version: 2, Bytes: hostile}); !errors.Is(err, serving.ErrCorruptModel) {
		t.Fatalf("hostile version: %v", err)
	}
	res, err := score(rows[0].rec["x"].(float64), rows[0].rec["color"].(string))
	if err != nil || res.Provenance.Model.Version != 1 || res.Prediction.Label != rows[0].label {
		t.Fatalf("after the refused version: %+v, %v", res, err)
	}
}
