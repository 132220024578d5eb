package pmml_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/pmml"
)

// FuzzLoad feeds bytes to Parse and checks the contract: an error is
// corrupt or unsupported, never a panic; a document that compiles scores
// vectors of zeros, NaNs, negatives, huge values and infinities, and
// category codes in and out of range, with a typed error or a result.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.*ml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 20<<10 {
			f.Add(b)
		}
	}
	f.Add([]byte(regDoc(`missingValueReplacement="1"`)))
	f.Add([]byte(classDoc("softmax")))
	f.Add([]byte(exprDoc(`<Apply function="if"><Apply function="isMissing"><FieldRef field="x"/></Apply><Constant>5</Constant><FieldRef field="x"/></Apply>`, "")))
	f.Add([]byte(`<!DOCTYPE PMML [<!ENTITY x "y">]><PMML>&x;</PMML>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := pmml.Parse(b)
		if err != nil {
			if !errors.Is(err, serving.ErrCorruptModel) && !errors.Is(err, serving.ErrUnsupportedModel) {
				t.Fatalf("error is neither corrupt nor unsupported: %v", err)
			}
			return
		}
		n := m.Describe().Features
		if n < 1 {
			t.Fatalf("loaded a model with %d inputs", n)
		}
		x := make([]float64, n)
		for _, v := range []float64{0, 1, math.NaN(), -1, 1e300, math.Inf(1), 0.5, 1e9} {
			for i := range x {
				x[i] = v
			}
			p, err := m.Predict(context.Background(), x)
			if err != nil {
				var fe *serving.FieldError
				if !errors.As(err, &fe) && !errors.Is(err, pmml.ErrNoResult) {
					t.Fatalf("Predict(all %v): untyped error %v", v, err)
				}
				continue
			}
			if len(p.Values) > 0 && p.Label == "" && len(m.Classes()) == 0 {
				t.Fatalf("Values without classes: %+v", p)
			}
		}
	})
}
