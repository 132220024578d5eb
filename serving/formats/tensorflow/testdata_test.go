package tensorflow_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/tensorflow/internal/tfpb"
)

// The frozen graphs under testdata/dl4j were written by TensorFlow for
// the TensorFlow import tests of Deeplearning4j, each with the values fed
// to its placeholders and TensorFlow's own output (see
// testdata/README.md). Every graph whose ops this package runs must
// reproduce those outputs; every other one must be refused with
// ErrUnsupportedModel.

// wantMatched is how many of the 229 graphs load and reproduce
// TensorFlow's outputs; the others are refused as unsupported (float16,
// bfloat16, int8/16 and unsigned types, empty outputs) or, for one, as
// corrupt when fed record by record (see corruptForRecords).
const wantMatched = 203

// corruptForRecords lists the graphs that are valid TensorFlow but
// inconsistent when fed one record at a time, and are refused as corrupt
// for that reason: math_mul_order multiplies two [-1 3] placeholders,
// whose unknown leading dimensions are a matrix's rows, not a batch.
var corruptForRecords = map[string]bool{"math_mul_order": true}

func TestDL4JFrozenGraphs(t *testing.T) {
	root := filepath.Join("testdata", "dl4j")
	list, err := os.ReadFile(filepath.Join(root, "examples.txt"))
	if err != nil {
		t.Fatal(err)
	}
	matched, refused := 0, map[string]string{}
	for _, ex := range strings.Fields(string(list)) {
		dir := filepath.Join(root, filepath.FromSlash(ex))
		b, err := os.ReadFile(filepath.Join(dir, "frozen_model.pb"))
		if err != nil {
			t.Fatal(err)
		}
		feeds, outs := exampleFiles(t, dir)
		if len(outs) == 0 {
			t.Fatalf("%s: no recorded output", ex)
		}
		ok := true
		for _, out := range outs {
			why, err := checkExample(t, ex, b, dir, feeds, out)
			if err != nil {
				t.Errorf("%s, output %s: %v", ex, out, err)
				ok = false
				continue
			}
			if why != "" {
				refused[ex] = why
				ok = false
				break
			}
		}
		if ok {
			matched++
		}
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range refused {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		t.Logf("refused %s: %s", k, refused[k])
	}
	if matched != wantMatched {
		t.Errorf("%d graphs reproduce TensorFlow's outputs, want %d (%d refused)", matched, wantMatched, len(refused))
	}
}

// exampleFiles lists an example's placeholder feeds and recorded
// outputs by node name.
func exampleFiles(t *testing.T, dir string) (feeds map[string]string, outs []string) {
	feeds = map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case strings.HasSuffix(rel, ".placeholder.csv"):
			feeds[strings.TrimSuffix(rel, ".placeholder.csv")] = strings.TrimSuffix(p, ".csv")
		case strings.HasSuffix(rel, ".prediction.csv"):
			outs = append(outs, strings.TrimSuffix(rel, ".prediction.csv"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(outs)
	return feeds, outs
}

// checkExample loads the graph for one output and compares it with
// TensorFlow's. It returns a reason when the graph is refused as
// unsupported, and an error when it is refused otherwise or computes
// something else.
func checkExample(t *testing.T, ex string, b []byte, dir string, feeds map[string]string, out string) (string, error) {
	m, err := load(b, map[string]string{"tensorflow.output": out})
	if err != nil {
		if errors.Is(err, serving.ErrUnsupportedModel) || (errors.Is(err, serving.ErrCorruptModel) && corruptForRecords[ex]) {
			return err.Error(), nil
		}
		return "", err
	}
	want, wantShape := readValues(t, filepath.Join(dir, filepath.FromSlash(out)+".prediction"))
	phs := placeholderShapes(t, b)
	// The model's inputs, in order: one placeholder after the other.
	var order []string
	for _, in := range m.Describe().Inputs {
		name := in.Name
		if i := strings.LastIndexByte(name, ':'); i >= 0 {
			name = name[:i]
		}
		if len(order) == 0 || order[len(order)-1] != name {
			order = append(order, name)
		}
	}
	values := map[string][]float64{}
	rows := 1
	batched := len(order) > 0
	for _, name := range order {
		f, ok := feeds[name]
		if !ok {
			return "", fmt.Errorf("no recorded value for placeholder %s", name)
		}
		v, shape := readValues(t, f)
		values[name] = v
		if phs[name] == nil || phs[name][0] != -1 || len(shape) == 0 {
			batched = false
		} else {
			rows = shape[0]
		}
	}
	if !batched {
		rows = 1
	}
	x := make([][]float64, rows)
	for r := range rows {
		for _, name := range order {
			v := values[name]
			per := len(v) / rows
			x[r] = append(x[r], v[r*per:(r+1)*per]...)
		}
	}
	preds := make([]serving.Prediction, rows)
	if err := m.PredictBatch(context.Background(), x, preds); err != nil {
		return "", err
	}
	var got []float64
	for _, p := range preds {
		got = append(got, p.Outputs()...)
	}
	if len(got) != len(want) {
		return "", fmt.Errorf("output has %d elements, TensorFlow's %d (shape %v)", len(got), len(want), wantShape)
	}
	for i := range got {
		// The recorded values are printed with 8 decimals.
		if d := math.Abs(got[i] - want[i]); d > 2e-6+2e-6*math.Abs(want[i]) && !(math.IsNaN(got[i]) && math.IsNaN(want[i])) && got[i] != want[i] {
			return "", fmt.Errorf("element %d is %v, TensorFlow's %v", i, got[i], want[i])
		}
	}
	return "", nil
}

// readValues reads base.csv (one value a line) and base.shape (one
// dimension a line).
func readValues(t *testing.T, base string) ([]float64, []int) {
	t.Helper()
	var vals []float64
	for _, line := range lines(t, base+".csv") {
		v, err := strconv.ParseFloat(line, 64)
		if err != nil {
			switch strings.ToLower(line) {
			case "true":
				v = 1
			case "false":
				v = 0
			default:
				t.Fatalf("%s: %v", base, err)
			}
		}
		vals = append(vals, v)
	}
	var shape []int
	for _, line := range lines(t, base+".shape") {
		d, err := strconv.Atoi(line)
		if err != nil {
			t.Fatalf("%s.shape: %v", base, err)
		}
		shape = append(shape, d)
	}
	return vals, shape
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if l := strings.TrimSpace(s.Text()); l != "" {
			out = append(out, l)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// placeholderShapes returns the declared shape of each Placeholder.
func placeholderShapes(t *testing.T, b []byte) map[string][]int64 {
	var g tfpb.GraphDef
	if err := proto.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	out := map[string][]int64{}
	for _, n := range g.GetNode() {
		if n.GetOp() != "Placeholder" {
			continue
		}
		var dims []int64
		for _, d := range n.GetAttr()["shape"].GetShape().GetDim() {
			dims = append(dims, d.GetSize())
		}
		out[n.GetName()] = dims
	}
	return out
}
