package pmml_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/linear"
)

// The benchmarks score one record per operation, cycling through the
// rows of the model's CSV, so that one run compares:
//
//   - Forest100/pmml vs Forest100/leaves: the same XGBoost random forest
//     (100 trees of depth 4, 30 features), as PMML (a model chain: the
//     sum of 100 TreeModels, then a logit RegressionModel) and as the
//     XGBoost binary model served by package leaves.
//   - MLP/pmml vs MLP/loops: the same scikit-learn MLP (4 inputs, tanh
//     layers of 16 and 8, softmax output of 3) as a PMML NeuralNetwork,
//     and computed by plain Go loops over the same weights (the lower
//     bound for any evaluator). Package linear cannot express hidden
//     layers; MLP/linear-softmax scores a 4-input, 3-class softmax
//     regression, the one-layer network that linear can serve.

func benchRowsOf(b *testing.B, m interface {
	Describe() serving.ModelInfo
}, csvName string) [][]float64 {
	b.Helper()
	t := &testing.T{}
	rows := readTruthB(b, csvName)
	_ = t
	out := make([][]float64, len(rows))
	in := m.Describe().Inputs
	for i, r := range rows {
		x := make([]float64, len(in))
		for j, f := range in {
			x[j] = r[f.Name]
		}
		out[i] = x
	}
	return out
}

// readTruthB reads the numeric input columns of a testdata/sklearn CSV.
func readTruthB(b *testing.B, name string) []map[string]float64 {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "sklearn", name))
	if err != nil {
		b.Fatal(err)
	}
	var rows []map[string]float64
	var head []string
	for ln, line := range splitLines(string(raw)) {
		cells := splitComma(line)
		if ln == 0 {
			head = cells
			continue
		}
		r := map[string]float64{}
		for i, c := range cells {
			if v, err := strconv.ParseFloat(c, 64); err == nil {
				r[head[i]] = v
			}
		}
		rows = append(rows, r)
	}
	return rows
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		if i > 0 {
			out = append(out, s[:i])
		}
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

func benchModel(b *testing.B, m serving.Model, rows [][]float64) {
	ctx := context.Background()
	b.ReportAllocs()
	var sink float64
	i := 0
	for b.Loop() {
		p, err := m.Predict(ctx, rows[i%len(rows)])
		if err != nil {
			b.Fatal(err)
		}
		sink += p.Value
		i++
	}
	if sink == 0 {
		b.Fatal("no predictions")
	}
}

func BenchmarkForest100(b *testing.B) {
	pm := loadFile(b, filepath.Join("sklearn", "xgbrf-cancer.pmml"))
	rows := benchRowsOf(b, pm, "xgbrf-cancer.csv")
	b.Run("pmml", func(b *testing.B) { benchModel(b, pm, rows) })
	lm := loadXGBoostRF(b)
	b.Run("leaves", func(b *testing.B) { benchModel(b, lm, rows) })
}

// BenchmarkForestIris30 scores scikit-learn's 30-tree random forest
// classifier (average of the trees' probabilities over 3 classes); leaves
// cannot load a scikit-learn forest, so there is no baseline.
func BenchmarkForestIris30(b *testing.B) {
	pm := loadFile(b, filepath.Join("sklearn", "forest-iris.pmml"))
	rows := benchRowsOf(b, pm, "forest-iris.csv")
	benchModel(b, pm, rows)
}

// mlpLoops is the network of mlp-iris.pmml computed by plain loops.
type mlpLoops struct {
	layers []mlpLayer
}

type mlpLayer struct {
	w       [][]float64 // [neuron][input]
	bias    []float64
	act     string
	softmax bool
}

// readMLP reads the weights of a NeuralNetwork document whose layers are
// fully connected in order, as export.py writes them.
func readMLP(b *testing.B, path string) *mlpLoops {
	b.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var doc struct {
		NN struct {
			Act    string `xml:"activationFunction,attr"`
			Layers []struct {
				Act     string `xml:"activationFunction,attr"`
				Norm    string `xml:"normalizationMethod,attr"`
				Neurons []struct {
					Bias float64 `xml:"bias,attr"`
					Cons []struct {
						W float64 `xml:"weight,attr"`
					} `xml:"Con"`
				} `xml:"Neuron"`
			} `xml:"NeuralLayer"`
		} `xml:"NeuralNetwork"`
	}
	if err := xml.Unmarshal(raw, &doc); err != nil {
		b.Fatal(err)
	}
	m := &mlpLoops{}
	for _, l := range doc.NN.Layers {
		ml := mlpLayer{act: l.Act, softmax: l.Norm == "softmax"}
		if ml.act == "" {
			ml.act = doc.NN.Act
		}
		for _, n := range l.Neurons {
			row := make([]float64, len(n.Cons))
			for i, c := range n.Cons {
				row[i] = c.W
			}
			ml.w = append(ml.w, row)
			ml.bias = append(ml.bias, n.Bias)
		}
		m.layers = append(m.layers, ml)
	}
	return m
}

func (m *mlpLoops) predict(x []float64, buf [2][]float64) []float64 {
	in := x
	for li, l := range m.layers {
		out := buf[li%2][:len(l.w)]
		for j, row := range l.w {
			z := l.bias[j]
			for k, w := range row {
				z += w * in[k]
			}
			switch l.act {
			case "tanh":
				z = math.Tanh(z)
			case "rectifier":
				z = math.Max(0, z)
			case "logistic":
				z = 1 / (1 + math.Exp(-z))
			}
			out[j] = z
		}
		if l.softmax {
			mx := math.Inf(-1)
			for _, v := range out {
				mx = math.Max(mx, v)
			}
			s := 0.0
			for j := range out {
				out[j] = math.Exp(out[j] - mx)
				s += out[j]
			}
			for j := range out {
				out[j] /= s
			}
		}
		in = out
	}
	return in
}

func BenchmarkMLP(b *testing.B) {
	path := filepath.Join("testdata", "sklearn", "mlp-iris.pmml")
	pm := loadFile(b, filepath.Join("sklearn", "mlp-iris.pmml"))
	rows := benchRowsOf(b, pm, "mlp-iris.csv")
	b.Run("pmml", func(b *testing.B) { benchModel(b, pm, rows) })

	loops := readMLP(b, path)
	// The loops must compute what the PMML evaluator computes.
	buf := [2][]float64{make([]float64, 64), make([]float64, 64)}
	for _, x := range rows {
		p, _ := pm.Predict(context.Background(), x)
		got := loops.predict(x, buf)
		for j := range got {
			if relErr(got[j], p.Values[j]) > 1e-12 {
				b.Fatalf("loops %v, pmml %v", got, p.Values)
			}
		}
	}
	b.Run("loops", func(b *testing.B) {
		b.ReportAllocs()
		var sink float64
		i := 0
		for b.Loop() {
			sink += loops.predict(rows[i%len(rows)], buf)[0]
			i++
		}
		if sink == 0 {
			b.Fatal("no predictions")
		}
	})

	doc := linear.Document{Kind: linear.KindSoftmax, Features: 4, Weights: [][]float64{{1, 2, 3, 4}, {-1, 0, 1, 2}, {0.5, 0.5, -2, 1}}, Bias: []float64{0, 1, 2}}
	raw, err := doc.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	lm, err := serving.Load(context.Background(), serving.Descriptor{Name: "linear-softmax", Format: linear.FormatName, Bytes: raw})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("linear-softmax", func(b *testing.B) { benchModel(b, lm, rows) })
}

// BenchmarkDeclaredValues scores a record against a numeric and a string
// field that each declare 100,000 invalid values (and one missing value):
// checking a value against them must not cost a search of the lists.
func BenchmarkDeclaredValues(b *testing.B) {
	const n = 100_000
	var sb strings.Builder
	sb.WriteString(`<PMML version="4.4"><DataDictionary><DataField name="x" optype="continuous" dataType="double"><Value value="-1" property="missing"/>`)
	for i := range n {
		fmt.Fprintf(&sb, `<Value value="%d.5" property="invalid"/>`, 1000+i)
	}
	sb.WriteString(`</DataField><DataField name="c" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/><Value value="?" property="missing"/>`)
	for i := range n {
		fmt.Fprintf(&sb, `<Value value="x%d" property="invalid"/>`, i)
	}
	sb.WriteString(`</DataField><DataField name="y" optype="continuous" dataType="double"/></DataDictionary>
<RegressionModel functionName="regression"><MiningSchema><MiningField name="x"/><MiningField name="c"/><MiningField name="y" usageType="target"/></MiningSchema>
<RegressionTable intercept="1"><NumericPredictor name="x" coefficient="2"/><CategoricalPredictor name="c" value="b" coefficient="10"/></RegressionTable></RegressionModel></PMML>`)
	m := loadText(b, sb.String())
	x := []float64{3, 1}
	if p, err := m.Predict(context.Background(), x); err != nil || p.Value != 17 {
		b.Fatalf("Predict = %v, %v; want 17", p.Value, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_, _ = m.Predict(context.Background(), x)
	}
}
