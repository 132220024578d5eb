package training

import (
	"bufio"
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving"
	_ "github.com/modelstream/modelstream/serving/formats/leaves"
)

// leavesTestdata locates the testdata folder of the leaves module.
func leavesTestdata(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/dmitryikh/leaves").Output()
	if err != nil {
		t.Skipf("cannot locate the leaves module (go list: %v); its testdata models are needed", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "testdata")
}

func readRows(t *testing.T, path string) [][]float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var row []float64
		for _, field := range strings.Fields(sc.Text()) {
			v, err := strconv.ParseFloat(field, 64)
			if err != nil {
				t.Fatal(err)
			}
			row = append(row, v)
		}
		if len(row) > 0 {
			rows = append(rows, row)
		}
	}
	return rows
}

// TestDistillLightGBMIntoLogistic distils the leaves LightGBM breast
// cancer model (binary objective, 30 features) into a logistic
// regression, training on inputs jittered around the 57 rows of
// lg_breast_cancer_data.txt, and measures agreement on the 57 different
// rows of breast_cancer_test.tsv, which the student never saw.
func TestDistillLightGBMIntoLogistic(t *testing.T) {
	dir := leavesTestdata(t)
	model, err := os.ReadFile(filepath.Join(dir, "lg_breast_cancer.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d := serving.Descriptor{Name: "teacher", Format: "lightgbm", Version: 1, Bytes: model}
	m, err := serving.Load(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	teacher := serving.Bind(d.Ref(), m)
	train := readRows(t, filepath.Join(dir, "lg_breast_cancer_data.txt"))
	heldOut := readRows(t, filepath.Join(dir, "breast_cancer_test.tsv"))
	if len(train) != 57 || len(heldOut) != 57 || len(heldOut[0]) != 30 {
		t.Fatalf("unexpected testdata: %d and %d rows", len(train), len(heldOut))
	}

	// Both classes must be present, or agreement would be trivial.
	positives := 0
	for _, x := range heldOut {
		res, err := teacher.Score(ctx, serving.Record{Features: x})
		if err != nil {
			t.Fatal(err)
		}
		if res.Value >= 0.5 {
			positives++
		}
	}
	if positives == 0 || positives == len(heldOut) {
		t.Fatalf("the teacher puts all held-out rows in one class (%d positive)", positives)
	}
	t.Logf("the teacher calls %d of %d held-out rows positive (majority-class baseline agreement %.3f)", positives, len(heldOut), float64(max(positives, len(heldOut)-positives))/float64(len(heldOut)))

	student, err := NewLearner(Logistic, 30, WithOptimizer(Adam), WithLearningRate(0.01), WithDecay(1000), WithL2(1e-4))
	if err != nil {
		t.Fatal(err)
	}
	inputs, err := Jittered(train, 40000, 0.2, 1)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Distill(ctx, teacher, student, inputs)
	if err != nil {
		t.Fatal(err)
	}
	agreeHeld, err := Agreement(ctx, teacher, student, heldOut)
	if err != nil {
		t.Fatal(err)
	}
	agreeTrain, _ := Agreement(ctx, teacher, student, train)
	t.Logf("distilled LightGBM (breast cancer) into logistic regression on %d jittered inputs: progressive agreement %.3f; agreement on the 57 source rows %.3f, on the 57 held-out rows %.3f (%d of 57)",
		rep.Count(), rep.Accuracy(), agreeTrain, agreeHeld, int(agreeHeld*57+0.5))
	// The stated share: at least 90% of held-out rows.
	if agreeHeld < 0.90 {
		t.Errorf("held-out agreement %.3f, want at least 0.90", agreeHeld)
	}

	// Mini-batch distillation reaches the same quality.
	batched, _ := NewLearner(Logistic, 30, WithOptimizer(Adam), WithLearningRate(0.01), WithDecay(100), WithL2(1e-4))
	inputs, err = Jittered(train, 40000, 0.2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Distill(ctx, teacher, batched, inputs, DistillBatch(32)); err != nil {
		t.Fatal(err)
	}
	agreeBatch, _ := Agreement(ctx, teacher, batched, heldOut)
	t.Logf("mini-batch (32) distillation: held-out agreement %.3f", agreeBatch)
	if agreeBatch < 0.90 {
		t.Errorf("mini-batch held-out agreement %.3f, want at least 0.90", agreeBatch)
	}
}

func TestDistillStopsOnContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	teacher := serving.ScorerFunc(func(ctx context.Context, r serving.Record) (serving.Result, error) {
		return serving.Result{Prediction: serving.Prediction{Value: r.Features[0]}}, nil
	})
	student, _ := NewLearner(Linear, 1)
	n := 0
	inputs := func(yield func([]float64) bool) {
		for {
			n++
			if n == 100 {
				cancel()
			}
			if !yield([]float64{float64(n)}) {
				return
			}
		}
	}
	rep, err := Distill(ctx, teacher, student, inputs)
	if err == nil || rep.Count() != 99 {
		t.Fatalf("Distill after cancel: %d records, err %v", rep.Count(), err)
	}
	// A logistic student refuses a teacher that does not give probabilities.
	logit, _ := NewLearner(Logistic, 1)
	if _, err := Distill(context.Background(), teacher, logit, Replay([][]float64{{3}}, 1, 0)); !errors.Is(err, ErrInvalidSample) {
		t.Fatalf("a logistic student given a target of 3: %v, want ErrInvalidSample", err)
	}
}

// Unusable teacher outputs stop Distill with an error wrapping
// ErrInvalidSample, online and in mini-batches, and nothing of the bad
// input is learned.
func TestDistillRefusesUnusableTeacherOutput(t *testing.T) {
	outputs := func(p serving.Prediction) serving.Scorer {
		return serving.ScorerFunc(func(context.Context, serving.Record) (serving.Result, error) {
			return serving.Result{Prediction: p}, nil
		})
	}
	for name, c := range map[string]struct {
		kind    Kind
		teacher serving.Scorer
	}{
		"logistic, not a probability":    {Logistic, outputs(serving.Prediction{Value: 1.5})},
		"logistic, NaN":                  {Logistic, outputs(serving.Prediction{Value: math.NaN()})},
		"linear, infinite":               {Linear, outputs(serving.Prediction{Value: math.Inf(1)})},
		"softmax, wrong output count":    {Softmax, outputs(serving.Prediction{Value: 1, Values: []float64{0.5, 0.5}})},
		"softmax, not summing to 1":      {Softmax, outputs(serving.Prediction{Value: 0.5, Values: []float64{0.5, 0.4, 0.3}})},
		"softmax, single-output teacher": {Softmax, outputs(serving.Prediction{Value: 0.7})},
	} {
		for _, batch := range []int{1, 4} {
			var opts []Option
			if c.kind == Softmax {
				opts = append(opts, WithClasses(3))
			}
			student, _ := NewLearner(c.kind, 2, opts...)
			rep, err := Distill(context.Background(), c.teacher, student, Replay([][]float64{{1, 2}}, 3, 0), DistillBatch(batch))
			if !errors.Is(err, ErrInvalidSample) {
				t.Errorf("%s, batch %d: %v, want ErrInvalidSample", name, batch, err)
			}
			if rep.Count() != 0 || student.Steps() != 0 {
				t.Errorf("%s, batch %d: learned %d records", name, batch, rep.Count())
			}
		}
	}
}
