package pmml_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/pmml"
)

// load parses a document given as text or read from testdata.
func loadFile(tb testing.TB, name string) *pmml.Model {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	m, err := pmml.Parse(b)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return m
}

func loadText(tb testing.TB, doc string) *pmml.Model {
	tb.Helper()
	m, err := pmml.Parse([]byte(doc))
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// vec builds the feature vector of a record given by field name: a number
// is fed as is, a string as its category code, an absent field as NaN.
func vec(tb testing.TB, m *pmml.Model, rec map[string]any) []float64 {
	tb.Helper()
	in := m.Describe().Inputs
	x := make([]float64, len(in))
	for i, f := range in {
		v, ok := rec[f.Name]
		if !ok {
			x[i] = math.NaN()
			continue
		}
		switch v := v.(type) {
		case string:
			k := slices.Index(f.Categories, v)
			if k < 0 {
				tb.Fatalf("field %q: %q is not among %q", f.Name, v, f.Categories)
			}
			x[i] = float64(k)
		case int:
			x[i] = float64(v)
		case float64:
			x[i] = v
		default:
			tb.Fatalf("field %q: value of type %T", f.Name, v)
		}
	}
	return x
}

func predict(tb testing.TB, m *pmml.Model, rec map[string]any) serving.Prediction {
	tb.Helper()
	p, err := m.Predict(context.Background(), vec(tb, m, rec))
	if err != nil {
		tb.Fatalf("Predict(%v): %v", rec, err)
	}
	return p
}

// close reports whether got is within rel relative error of want.
func near(got, want, rel float64) bool {
	if got == want {
		return true
	}
	d := math.Abs(got - want)
	return d <= rel*math.Max(math.Abs(want), math.Abs(got)) || d < 1e-300
}
