package pmml_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/pmml"
)

// FuzzLoad feeds bytes to Parse and checks the contract: an error is
// corrupt or unsupported, never a panic; a document that compiles scores
// vectors of zeros, NaNs, negatives, huge values and infinities, category
// codes in and out of range, and mixed records, with a typed error or a
// result; a classification's Values has one probability per class and
// Value is the one of Label; and scoring every record again in reverse
// order gives the same answers, so nothing one evaluation leaves in the
// pooled scratch reaches the next.
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
	f.Add([]byte(priorOnlyTree("none")))
	f.Add([]byte(priorOnlyTree("aggregateNodes")))
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
		classes := m.Classes()
		var vecs [][]float64
		for _, v := range []float64{0, 1, math.NaN(), -1, 1e300, math.Inf(1), 0.5, 1e9} {
			x := make([]float64, n)
			for i := range x {
				x[i] = v
			}
			vecs = append(vecs, x)
		}
		// Mixed records: each input takes a different value.
		for k := range 3 {
			x := make([]float64, n)
			for i := range x {
				x[i] = float64((i + k) % 3)
			}
			vecs = append(vecs, x)
		}
		type outcome struct {
			p   serving.Prediction
			err error
		}
		first := make([]outcome, len(vecs))
		for j, x := range vecs {
			p, err := m.Predict(context.Background(), x)
			first[j] = outcome{p, err}
			if err != nil {
				var fe *serving.FieldError
				if !errors.As(err, &fe) && !errors.Is(err, pmml.ErrNoResult) {
					t.Fatalf("Predict(%v): untyped error %v", x, err)
				}
				continue
			}
			if len(p.Values) > 0 && p.Label == "" && len(classes) == 0 {
				t.Fatalf("Values without classes: %+v", p)
			}
			if len(classes) > 0 {
				k := slices.Index(classes, p.Label)
				if len(p.Values) != len(classes) || k < 0 || !same(p.Value, p.Values[k]) {
					t.Fatalf("Predict(%v) = %+v, classes %q", x, p, classes)
				}
			}
		}
		// Each record again, in reverse order: the pooled scratch an
		// evaluation leaves must not change the next one's answer.
		for j := len(vecs) - 1; j >= 0; j-- {
			p, err := m.Predict(context.Background(), vecs[j])
			if !sameOutcome(p, err, first[j].p, first[j].err) {
				t.Fatalf("Predict(%v) = %+v, %v; earlier %+v, %v", vecs[j], p, err, first[j].p, first[j].err)
			}
		}
	})
}

// same is == with NaN equal to NaN.
func same(a, b float64) bool { return a == b || a != a && b != b }

// sameOutcome says whether two predictions and errors are the same.
func sameOutcome(p serving.Prediction, err error, q serving.Prediction, qerr error) bool {
	if (err == nil) != (qerr == nil) || err != nil && err.Error() != qerr.Error() {
		return false
	}
	if !same(p.Value, q.Value) || !same(p.Confidence, q.Confidence) || p.Label != q.Label || len(p.Values) != len(q.Values) {
		return false
	}
	for i := range p.Values {
		if !same(p.Values[i], q.Values[i]) {
			return false
		}
	}
	return true
}
