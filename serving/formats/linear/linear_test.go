package linear_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/internal/linmodel"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/linear"
)

func mustParse(t *testing.T, doc string) *linear.Model {
	t.Helper()
	m, err := linear.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return m
}

func predict(t *testing.T, m *linear.Model, x ...float64) serving.Prediction {
	t.Helper()
	p, err := m.Predict(context.Background(), x)
	if err != nil {
		t.Fatalf("Predict(%v): %v", x, err)
	}
	return p
}

// close reports whether got is within 2 ulps-ish of want (relative 1e-15).
func close(got, want float64) bool {
	return got == want || math.Abs(got-want) <= 1e-15*math.Abs(want)
}

func TestLinear(t *testing.T) {
	// Weights and inputs are exact in binary, so the output is exact.
	m := mustParse(t, `{"kind":"linear","features":3,"weights":[[1,2,-3]],"bias":[0.5]}`)
	if p := predict(t, m, 1, 1, 1); p.Value != 0.5 || p.Values != nil || p.Label != "" || p.Confidence != 0 {
		t.Errorf("got %+v, want Value 0.5 only", p)
	}
	if p := predict(t, m, 2, -0.25, 0.125); p.Value != 0.5+2-0.5-0.375 {
		t.Errorf("got %v", p.Value)
	}
	// Standardised: x' = (x-mean)/scale = (1, 1, 2); z = 0.5 + 1 + 2 - 6.
	s := mustParse(t, `{"kind":"linear","features":3,"mean":[1,2,3],"scale":[2,4,0.5],"weights":[[1,2,-3]],"bias":[0.5]}`)
	if p := predict(t, s, 3, 6, 4); p.Value != -2.5 {
		t.Errorf("standardised: got %v, want -2.5", p.Value)
	}
	if info := s.Describe(); info.Features != 3 || info.Outputs != 1 {
		t.Errorf("Describe() = %+v", info)
	}
}

func TestLogistic(t *testing.T) {
	m := mustParse(t, `{"kind":"logistic","features":2,"weights":[[2,-1]],"bias":[0],"classes":["no","yes"]}`)
	p := predict(t, m, 1, 2) // z = 0
	if p.Value != 0.5 || p.Label != "yes" || p.Confidence != 0.5 {
		t.Errorf("z=0: %+v", p)
	}
	p = predict(t, m, 0, 1) // z = -1
	want := 1 / (1 + math.E)
	if !close(p.Value, want) || p.Label != "no" || !close(p.Confidence, 1-want) {
		t.Errorf("z=-1: %+v, want value %v", p, want)
	}
	// Default class names are "0" and "1"; standardisation applies first:
	// x' = (4-2)/2 = 1, z = 3*1 - 1 = 2.
	d := mustParse(t, `{"kind":"logistic","features":1,"mean":[2],"scale":[2],"weights":[[3]],"bias":[-1]}`)
	p = predict(t, d, 4)
	if want := 1 / (1 + math.Exp(-2)); !close(p.Value, want) || p.Label != "1" || !close(p.Confidence, want) {
		t.Errorf("standardised: %+v, want %v", p, want)
	}
}

func TestSoftmax(t *testing.T) {
	// Rows give z = (1, 2, 3) for x = (1, 1).
	doc := `{"kind":"softmax","features":2,"weights":[[1,0],[1,1],[2,1]],"bias":[0,0,0],"classes":["a","b","c"]}`
	m := mustParse(t, doc)
	p := predict(t, m, 1, 1)
	sum := math.E + math.Exp(2) + math.Exp(3)
	want := []float64{math.E / sum, math.Exp(2) / sum, math.Exp(3) / sum}
	if len(p.Values) != 3 {
		t.Fatalf("Values = %v", p.Values)
	}
	for k := range want {
		if !close(p.Values[k], want[k]) {
			t.Errorf("class %d: %v, want %v", k, p.Values[k], want[k])
		}
	}
	if p.Value != p.Values[2] || p.Label != "c" || p.Confidence != p.Values[2] {
		t.Errorf("got %+v", p)
	}
	// With standardisation the same z comes from x' = (1, 1).
	s := mustParse(t, `{"kind":"softmax","features":2,"mean":[10,-10],"scale":[0.5,4],"weights":[[1,0],[1,1],[2,1]],"bias":[0,0,0]}`)
	p2 := predict(t, s, 10.5, -6)
	for k := range want {
		if !close(p2.Values[k], want[k]) {
			t.Errorf("standardised class %d: %v, want %v", k, p2.Values[k], want[k])
		}
	}
	if p2.Label != "2" {
		t.Errorf("default label %q, want \"2\"", p2.Label)
	}
	// Each call returns its own Values.
	p3 := predict(t, m, 0, 0)
	if &p3.Values[0] == &p.Values[0] || p3.Values[0] != 1.0/3 {
		t.Errorf("uniform scores: %v", p3.Values)
	}
}

func TestExtremeScores(t *testing.T) {
	if linmodel.Sigmoid(-1000) != 0 || linmodel.Sigmoid(1000) != 1 || linmodel.Sigmoid(0) != 0.5 {
		t.Errorf("Sigmoid extremes: %v %v", linmodel.Sigmoid(-1000), linmodel.Sigmoid(1000))
	}
	z := []float64{1000, 1001, -1000}
	if best := linmodel.Softmax(z); best != 1 || math.IsNaN(z[0]) || !close(z[0]+z[1]+z[2], 1) {
		t.Errorf("Softmax of large scores: %v (best %d)", z, best)
	}
}

func TestFeatureCount(t *testing.T) {
	m := mustParse(t, `{"kind":"linear","features":3,"weights":[[1,2,3]],"bias":[0]}`)
	for _, n := range []int{0, 2, 4} {
		_, err := m.Predict(context.Background(), make([]float64, n))
		var fe *serving.FeatureCountError
		if !errors.As(err, &fe) || fe.Want != 3 || fe.Got != n || !errors.Is(err, serving.ErrFeatureCount) {
			t.Errorf("%d features: %v", n, err)
		}
	}
}

func TestInvalidDocuments(t *testing.T) {
	cases := map[string]string{
		"not json":             `kind: linear`,
		"random bytes":         "\x9c\x00\xffQ\x17{\x80\x01\xfe\x03",
		"truncated":            `{"kind":"linear","features":1,"weights":[[1]],"bi`,
		"trailing data":        `{"kind":"linear","features":1,"weights":[[1]],"bias":[0]} {}`,
		"trailing brace":       `{"kind":"linear","features":1,"weights":[[1]],"bias":[0]}}`,
		"trailing bracket":     `{"kind":"linear","features":1,"weights":[[1]],"bias":[0]}]`,
		"unknown kind":         `{"kind":"probit","features":1,"weights":[[1]],"bias":[0]}`,
		"no features":          `{"kind":"linear","features":0,"weights":[[]],"bias":[0]}`,
		"too many features":    `{"kind":"linear","features":2000000,"weights":[[1]],"bias":[0]}`,
		"short weight row":     `{"kind":"linear","features":2,"weights":[[1]],"bias":[0]}`,
		"two rows for linear":  `{"kind":"linear","features":1,"weights":[[1],[2]],"bias":[0,0]}`,
		"bias length":          `{"kind":"softmax","features":1,"weights":[[1],[2]],"bias":[0]}`,
		"softmax of one":       `{"kind":"softmax","features":1,"weights":[[1]],"bias":[0]}`,
		"mean without scale":   `{"kind":"linear","features":1,"mean":[0],"weights":[[1]],"bias":[0]}`,
		"zero scale":           `{"kind":"linear","features":1,"mean":[0],"scale":[0],"weights":[[1]],"bias":[0]}`,
		"short mean":           `{"kind":"linear","features":2,"mean":[0],"scale":[1,1],"weights":[[1,1]],"bias":[0]}`,
		"feature names":        `{"kind":"linear","features":2,"feature_names":["a"],"weights":[[1,1]],"bias":[0]}`,
		"duplicate names":      `{"kind":"linear","features":2,"feature_names":["a","a"],"weights":[[1,1]],"bias":[0]}`,
		"empty name":           `{"kind":"linear","features":2,"feature_names":["a",""],"weights":[[1,1]],"bias":[0]}`,
		"classes for linear":   `{"kind":"linear","features":1,"weights":[[1]],"bias":[0],"classes":["a"]}`,
		"three logistic names": `{"kind":"logistic","features":1,"weights":[[1]],"bias":[0],"classes":["a","b","c"]}`,
		"NaN weight":           `{"kind":"linear","features":1,"weights":[[NaN]],"bias":[0]}`,
		"huge number":          `{"kind":"linear","features":1,"weights":[[1e999]],"bias":[0]}`,
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := linear.Parse([]byte(doc))
			var fe *serving.FormatError
			if !errors.Is(err, serving.ErrCorruptModel) || !errors.As(err, &fe) || fe.Format != linear.FormatName {
				t.Fatalf("Parse: %v", err)
			}
			_, err = serving.Load(context.Background(), serving.Descriptor{Name: "m", Format: linear.FormatName, Bytes: []byte(doc)})
			var le *serving.ModelError
			if !errors.As(err, &le) || !errors.Is(err, serving.ErrCorruptModel) {
				t.Fatalf("Load: %v", err)
			}
		})
	}
}

func TestDocumentRoundTrip(t *testing.T) {
	doc := linear.Document{
		Kind: linear.KindSoftmax, Features: 2, FeatureNames: []string{"x", "y"},
		Mean: []float64{1, 2}, Scale: []float64{3, 4},
		Weights: [][]float64{{1, -1}, {0.5, 2}}, Bias: []float64{0.25, -0.25}, Classes: []string{"p", "q"},
	}
	b, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	m, err := linear.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	got := m.Document()
	if got.Kind != doc.Kind || got.Features != 2 || got.FeatureNames[1] != "y" || got.Weights[1][1] != 2 || got.Classes[0] != "p" {
		t.Errorf("round trip: %+v", got)
	}
	bad := doc
	bad.Bias = []float64{1}
	if _, err := bad.Marshal(); err == nil || !strings.Contains(err.Error(), "bias") {
		t.Errorf("Marshal of an invalid document: %v", err)
	}
}

func TestRegistered(t *testing.T) {
	found := false
	for _, f := range serving.Formats() {
		found = found || f == linear.FormatName
	}
	if !found {
		t.Fatalf("%q not in serving.Formats() = %v", linear.FormatName, serving.Formats())
	}
}

// TestDocumentIsACopy: Model is documented as immutable, so changing the
// slices of the Document it returns must not change its predictions.
func TestDocumentIsACopy(t *testing.T) {
	m := mustParse(t, `{"kind":"softmax","features":1,"feature_names":["x"],"mean":[0],"scale":[1],"weights":[[1],[2]],"bias":[0,0],"classes":["a","b"]}`)
	before := predict(t, m, 1)
	doc := m.Document()
	doc.Weights[0][0], doc.Weights[1][0] = 50, -50
	doc.Bias[0], doc.Mean[0], doc.Scale[0] = 9, 9, 9
	doc.Classes[1], doc.FeatureNames[0] = "changed", "changed"
	after := predict(t, m, 1)
	if after.Value != before.Value || after.Label != "b" || after.Values[0] != before.Values[0] {
		t.Fatalf("the model changed through its Document: before %+v, after %+v", before, after)
	}
	if again := m.Document(); again.FeatureNames[0] != "x" || again.Classes[1] != "b" {
		t.Fatalf("Document changed: %+v", again)
	}
}

func TestSoftmaxOfNothing(t *testing.T) {
	if best := linmodel.Softmax(nil); best != -1 {
		t.Fatalf("Softmax(nil) = %d, want -1", best)
	}
}

// A document's feature_names are the model's declared inputs, in order;
// without them the model declares none and is fed positionally.
func TestDescribeDeclaresFeatureNames(t *testing.T) {
	m := mustParse(t, `{"kind":"logistic","features":3,"feature_names":["tenure","usage","noise"],"weights":[[1,2,3]],"bias":[0]}`)
	info := m.Describe()
	want := []serving.Input{{Name: "tenure"}, {Name: "usage"}, {Name: "noise"}}
	if info.Features != 3 || len(info.Inputs) != 3 {
		t.Fatalf("Describe() = %+v", info)
	}
	for j, in := range info.Inputs {
		if in.Name != want[j].Name || in.Categories != nil {
			t.Errorf("Inputs[%d] = %+v, want %+v", j, in, want[j])
		}
	}
	info.Inputs[0].Name = "changed"
	if m.Describe().Inputs[0].Name != "tenure" {
		t.Error("changing Describe's Inputs changed the model")
	}
	if in := mustParse(t, `{"kind":"linear","features":1,"weights":[[1]],"bias":[0]}`).Describe().Inputs; in != nil {
		t.Errorf("a document without feature_names declares inputs %+v", in)
	}
}

// TestSoftmaxOfInfiniteScores: a finite input can overflow a score to
// +Inf (1e308 times a weight of 2), and exp(Inf-Inf) is NaN, so every
// class probability was NaN. The limit of softmax as a score grows
// without bound is all the mass on the classes whose score is +Inf.
func TestSoftmaxOfInfiniteScores(t *testing.T) {
	z := []float64{1, math.Inf(1), math.Inf(-1)}
	if best := linmodel.Softmax(z); best != 1 || z[0] != 0 || z[1] != 1 || z[2] != 0 {
		t.Errorf("Softmax(1, +Inf, -Inf) = %v (best %d), want [0 1 0] (best 1)", z, best)
	}
	z = []float64{math.Inf(1), 0, math.Inf(1)}
	if best := linmodel.Softmax(z); best != 0 || z[0] != 0.5 || z[1] != 0 || z[2] != 0.5 {
		t.Errorf("Softmax(+Inf, 0, +Inf) = %v (best %d), want [0.5 0 0.5] (best 0)", z, best)
	}
	m := mustParse(t, `{"kind":"softmax","features":1,"weights":[[1],[2]],"bias":[0,0],"classes":["a","b"]}`)
	p := predict(t, m, 1e308)
	if p.Label != "b" || p.Value != 1 || p.Confidence != 1 || p.Values[0] != 0 {
		t.Errorf("softmax of an input of 1e308: %+v, want b with probability 1", p)
	}
}
