package pmml_test

import (
	"context"
	"encoding/binary"
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

// FuzzPredict scores fuzzed records with every document of testdata and
// some hand-written documents of the tests: the first byte of the input
// chooses the document, and each 8 bytes after it are one feature (a
// float64, so NaN, infinities, huge values and category codes in and out
// of range all occur) of a record x, then of a record y. The contract is
// FuzzLoad's: a typed error or a consistent result for x, and the same
// answer for x scored again after y.
func FuzzPredict(f *testing.F) {
	var docs [][]byte
	files, _ := filepath.Glob("testdata/*/*.*ml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			docs = append(docs, b)
		}
	}
	docs = append(docs, []byte(priorOnlyTree("none")), []byte(priorOnlyTree("aggregateNodes")), []byte(priorOnlyTree("weightedConfidence")), []byte(classDoc("softmax")), []byte(regDoc(`missingValueReplacement="1"`)))
	var models []*pmml.Model
	for _, b := range docs {
		if m, err := pmml.Parse(b); err == nil {
			models = append(models, m)
		}
	}
	if len(models) < 40 {
		f.Fatalf("only %d documents load", len(models))
	}
	vals := []float64{0, 1, math.NaN(), 3, -1, 5.5, math.Inf(-1), 1e300}
	for i, m := range models {
		n := m.Describe().Features
		for j, v := range vals {
			b := []byte{byte(i)}
			for k := range 2 * n {
				w := v
				if k >= n {
					w = vals[(j+1+k)%len(vals)]
				}
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(w))
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		m := models[int(b[0])%len(models)]
		n := m.Describe().Features
		// x, then y: what the input holds of 2n features, zeros after.
		xy := make([]float64, 2*n)
		for i := range xy {
			if 1+8*(i+1) <= len(b) {
				xy[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[1+8*i:]))
			}
		}
		x, y := xy[:n], xy[n:]
		ctx := context.Background()
		p, err := m.Predict(ctx, x)
		if err != nil {
			var fe *serving.FieldError
			if !errors.As(err, &fe) && !errors.Is(err, pmml.ErrNoResult) {
				t.Fatalf("Predict(%v): untyped error %v", x, err)
			}
		} else if classes := m.Classes(); len(classes) > 0 {
			k := slices.Index(classes, p.Label)
			if len(p.Values) != len(classes) || k < 0 || !same(p.Value, p.Values[k]) {
				t.Fatalf("Predict(%v) = %+v, classes %q", x, p, classes)
			}
		}
		m.Predict(ctx, y)
		q, qerr := m.Predict(ctx, x)
		if !sameOutcome(q, qerr, p, err) {
			t.Fatalf("Predict(%v) after Predict(%v) = %+v, %v; before it %+v, %v", x, y, q, qerr, p, err)
		}
	})
}
