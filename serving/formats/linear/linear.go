package linear

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/modelstream/modelstream/internal/linmodel"
	"github.com/modelstream/modelstream/serving"
)

// FormatName is the name under which this package registers the format.
const FormatName = "linear"

// The model kinds.
const (
	KindLinear   = "linear"
	KindLogistic = "logistic"
	KindSoftmax  = "softmax"
)

func init() {
	serving.Register(FormatName, serving.FormatFunc(load))
}

// Document is the JSON form of a linear model, as described in the
// package documentation. Package training fills one in and encodes it
// with [Document.Marshal].
type Document struct {
	Kind         string      `json:"kind"`
	Features     int         `json:"features"`
	FeatureNames []string    `json:"feature_names,omitempty"`
	Mean         []float64   `json:"mean,omitempty"`
	Scale        []float64   `json:"scale,omitempty"`
	Weights      [][]float64 `json:"weights"`
	Bias         []float64   `json:"bias"`
	Classes      []string    `json:"classes,omitempty"`
}

// Marshal validates doc and encodes it.
func (doc *Document) Marshal() ([]byte, error) {
	if err := doc.validate(); err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}

// validate reports the first way doc is not a usable model; Marshal and
// parse call it.
func (doc *Document) validate() error {
	outputs := 1
	switch doc.Kind {
	case KindLinear, KindLogistic:
	case KindSoftmax:
		outputs = len(doc.Weights)
		if outputs < 2 {
			return fmt.Errorf("softmax needs at least 2 outputs, has %d", outputs)
		}
	default:
		return fmt.Errorf("unknown kind %q (want linear, logistic or softmax)", doc.Kind)
	}
	if doc.Features < 1 || doc.Features > linmodel.MaxFeatures {
		return fmt.Errorf("features = %d, want 1..%d", doc.Features, linmodel.MaxFeatures)
	}
	if len(doc.Weights) != outputs {
		return fmt.Errorf("%s model has %d weight rows, want %d", doc.Kind, len(doc.Weights), outputs)
	}
	for k, row := range doc.Weights {
		if len(row) != doc.Features {
			return fmt.Errorf("weight row %d has %d values, want %d", k, len(row), doc.Features)
		}
		if err := finite("weights", row); err != nil {
			return err
		}
	}
	if len(doc.Bias) != outputs {
		return fmt.Errorf("bias has %d values, want %d", len(doc.Bias), outputs)
	}
	if err := finite("bias", doc.Bias); err != nil {
		return err
	}
	if (doc.Mean == nil) != (doc.Scale == nil) {
		return fmt.Errorf("mean and scale must be given together")
	}
	if doc.Mean != nil {
		if len(doc.Mean) != doc.Features || len(doc.Scale) != doc.Features {
			return fmt.Errorf("mean and scale need %d values, have %d and %d", doc.Features, len(doc.Mean), len(doc.Scale))
		}
		if err := finite("mean", doc.Mean); err != nil {
			return err
		}
		if err := finite("scale", doc.Scale); err != nil {
			return err
		}
		for j, s := range doc.Scale {
			if s == 0 {
				return fmt.Errorf("scale[%d] is zero", j)
			}
		}
	}
	if doc.FeatureNames != nil {
		if len(doc.FeatureNames) != doc.Features {
			return fmt.Errorf("feature_names has %d names, want %d", len(doc.FeatureNames), doc.Features)
		}
		if err := checkFeatureNames(doc.FeatureNames); err != nil {
			return err
		}
	}
	if doc.Classes != nil {
		want := outputs
		if doc.Kind == KindLogistic {
			want = 2
		}
		if doc.Kind == KindLinear || len(doc.Classes) != want {
			return fmt.Errorf("%s model with %d outputs cannot have %d classes", doc.Kind, outputs, len(doc.Classes))
		}
	}
	return nil
}

// checkFeatureNames reports whether names can name a model's inputs:
// each must be non-empty and appear once, since a record's fields are
// bound to the inputs by name.
func checkFeatureNames(names []string) error {
	seen := make(map[string]int, len(names))
	for j, n := range names {
		if n == "" {
			return fmt.Errorf("feature_names[%d] is empty", j)
		}
		if i, dup := seen[n]; dup {
			return fmt.Errorf("feature_names[%d] and [%d] are both %q", i, j, n)
		}
		seen[n] = j
	}
	return nil
}

func finite(field string, xs []float64) error {
	for i, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%s[%d] is %v", field, i, x)
		}
	}
	return nil
}

// model is a loaded linear model. It is immutable and safe for
// concurrent use.
type model struct {
	doc     Document
	classes []string
	inputs  []serving.Input // from feature_names; nil without them
}

var (
	_ serving.Model     = (*model)(nil)
	_ serving.Describer = (*model)(nil)
)

// parse decodes and validates a linear document.
func parse(b []byte) (*model, error) {
	var doc Document
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		return nil, serving.Corrupt(FormatName, err)
	}
	// dec.More would miss a stray '}' or ']' after the document.
	if rest := bytes.TrimSpace(b[dec.InputOffset():]); len(rest) > 0 {
		return nil, serving.Corrupt(FormatName, fmt.Errorf("trailing data after the JSON document"))
	}
	if err := doc.validate(); err != nil {
		return nil, serving.Corrupt(FormatName, err)
	}
	m := &model{doc: doc, classes: doc.Classes}
	if doc.FeatureNames != nil {
		m.inputs = make([]serving.Input, len(doc.FeatureNames))
		for j, n := range doc.FeatureNames {
			m.inputs[j] = serving.Input{Name: n}
		}
	}
	if m.classes == nil && doc.Kind != KindLinear {
		n := len(doc.Weights)
		if doc.Kind == KindLogistic {
			n = 2
		}
		m.classes = make([]string, n)
		for i := range m.classes {
			m.classes[i] = strconv.Itoa(i)
		}
	}
	return m, nil
}

func load(_ context.Context, d serving.Descriptor) (serving.Model, error) {
	return parse(d.Bytes)
}

// Document returns a deep copy of the model's document: changing it does
// not change the model.
func (m *model) Document() Document {
	d := m.doc
	d.FeatureNames = slices.Clone(d.FeatureNames)
	d.Mean = slices.Clone(d.Mean)
	d.Scale = slices.Clone(d.Scale)
	d.Bias = slices.Clone(d.Bias)
	d.Classes = slices.Clone(d.Classes)
	d.Weights = slices.Clone(d.Weights)
	for k := range d.Weights {
		d.Weights[k] = slices.Clone(d.Weights[k])
	}
	return d
}

// Describe implements serving.Describer. Inputs names the features, all
// numeric, when the document has feature_names, and is nil otherwise.
func (m *model) Describe() serving.ModelInfo {
	return serving.ModelInfo{
		Features: m.doc.Features,
		Inputs:   slices.Clone(m.inputs),
		Outputs:  len(m.doc.Weights),
		Input:    fmt.Sprintf("%d float64 features", m.doc.Features),
	}
}

func (m *model) z(k int, x []float64) float64 {
	w := m.doc.Weights[k]
	z := m.doc.Bias[k]
	if m.doc.Mean != nil {
		mean, scale := m.doc.Mean, m.doc.Scale
		for j, xj := range x {
			z += w[j] * ((xj - mean[j]) / scale[j])
		}
		return z
	}
	for j, xj := range x {
		z += w[j] * xj
	}
	return z
}

// Predict implements serving.Model.
func (m *model) Predict(_ context.Context, x []float64) (serving.Prediction, error) {
	if len(x) != m.doc.Features {
		return serving.Prediction{}, &serving.FeatureCountError{Want: m.doc.Features, Got: len(x)}
	}
	switch m.doc.Kind {
	case KindLinear:
		return serving.Prediction{Value: m.z(0, x)}, nil
	case KindLogistic:
		return linmodel.Binary(linmodel.Sigmoid(m.z(0, x)), m.classes[0], m.classes[1]), nil
	default:
		vals := make([]float64, len(m.doc.Weights))
		for k := range vals {
			vals[k] = m.z(k, x)
		}
		return linmodel.Classes(vals, linmodel.Softmax(vals), m.classes, true), nil
	}
}
