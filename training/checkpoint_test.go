package training

import (
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelstream/modelstream/internal/atomicfile/crashfs"
	"github.com/modelstream/modelstream/serving"
)

func softmaxStream(n int, seed uint64) []Sample {
	r := rand.New(rand.NewPCG(seed, 9))
	out := make([]Sample, n)
	for i := range out {
		x := genX(r)
		c := 0
		if x[0] > 0.5 {
			c = 1
		}
		if x[3] > 0.51 {
			c = 2
		}
		out[i] = Sample{Features: x, Target: float64(c)}
	}
	return out
}

func sameBits(t *testing.T, what string, a, b []float64) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: lengths %d and %d", what, len(a), len(b))
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			t.Fatalf("%s[%d]: %v (%#x) and %v (%#x) differ", what, i, a[i], math.Float64bits(a[i]), b[i], math.Float64bits(b[i]))
		}
	}
}

func predictAll(t *testing.T, l *Learner, rows []Sample) []float64 {
	t.Helper()
	var out []float64
	for _, s := range rows {
		p, err := l.Predict(s.Features)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Outputs()...)
	}
	return out
}

// TestCheckpointContinuesBitIdentically trains one learner without a
// break, and another that is checkpointed every 250 records and "crashes"
// at a random point after its last checkpoint: it is restored from the
// file and fed again from the record after the checkpoint. Both must end
// bit-identical, and the crashed one must have lost only the records
// since its last checkpoint.
func TestCheckpointContinuesBitIdentically(t *testing.T) {
	for _, tc := range []struct {
		kind Kind
		opt  Optimizer
	}{{Linear, LeastSquares}, {Linear, Adam}, {Logistic, Adam}, {Softmax, Adam}, {Logistic, Newton}, {Softmax, Newton}} {
		kind := tc.kind
		t.Run(kind.String()+"/"+tc.opt.String(), func(t *testing.T) {
			data := softmaxStream(3000, 11)
			if kind != Softmax {
				for i := range data {
					data[i].Target = math.Min(data[i].Target, 1)
				}
			}
			opts := []Option{WithOptimizer(tc.opt), WithFeatureNames("a", "b", "c", "d", "e")}
			switch tc.opt {
			case Adam:
				opts = append(opts, WithL2(1e-4), WithDecay(100))
			case LeastSquares:
				opts = append(opts, WithL2(1e-4), WithForgetting(0.999))
			}
			if kind == Softmax {
				opts = append(opts, WithClasses(3))
			}
			ref, _ := NewLearner(kind, 5, opts...)
			for i, s := range data {
				if i%2 == 0 {
					if _, err := ref.Learn(s); err != nil {
						t.Fatal(err)
					}
				} else if i%64 == 1 && i+64 <= len(data) { // mix in mini-batches
					if _, err := ref.LearnBatch(data[i : i+3]); err != nil {
						t.Fatal(err)
					}
				}
			}

			path := filepath.Join(t.TempDir(), "learner.ckpt")
			l, _ := NewLearner(kind, 5, opts...)
			crashAt := 1700 + rand.IntN(200)
			last := -1
			for i := 0; i < crashAt; i++ {
				step(t, l, data, i)
				if i%250 == 249 {
					if err := l.Save(path); err != nil {
						t.Fatal(err)
					}
					last = i
				}
			}
			// Crash: l is gone. Restore and resume after the checkpoint.
			r, err := restoreLearner(path)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := r.Metrics().Count(), countLearned(last+1); got != want {
				t.Fatalf("restored learner has learned %d records, want %d (all up to the checkpoint)", got, want)
			}
			for i := last + 1; i < len(data); i++ {
				step(t, r, data, i)
			}
			sameBits(t, "predictions", predictAll(t, r, data[:200]), predictAll(t, ref, data[:200]))
			sameBits(t, "weights", r.w, ref.w)
			sameBits(t, "moments", r.v, ref.v)
			if tc.opt == LeastSquares {
				sameBits(t, "co-moments", r.ls.cov, ref.ls.cov)
				sameBits(t, "means", r.ls.mean, ref.ls.mean)
				if r.Optimizer() != LeastSquares || r.cfg.forget != 0.999 {
					t.Fatalf("restored optimizer %v, forgetting %v", r.Optimizer(), r.cfg.forget)
				}
			}
			if r.Metrics() != ref.Metrics() || r.Steps() != ref.Steps() {
				t.Fatalf("metrics %+v steps %d, want %+v steps %d", r.Metrics(), r.Steps(), ref.Metrics(), ref.Steps())
			}
		})
	}
}

// step feeds record i the way the reference run does.
func step(t *testing.T, l *Learner, data []Sample, i int) {
	t.Helper()
	var err error
	if i%2 == 0 {
		_, err = l.Learn(data[i])
	} else if i%64 == 1 && i+64 <= len(data) {
		_, err = l.LearnBatch(data[i : i+3])
	}
	if err != nil {
		t.Fatal(err)
	}
}

// countLearned is how many records step feeds for indices below n.
func countLearned(n int) int64 {
	var c int64
	for i := 0; i < n; i++ {
		if i%2 == 0 {
			c++
		} else if i%64 == 1 {
			c += 3
		}
	}
	return c
}

func TestCorruptCheckpointIsTypedError(t *testing.T) {
	l, _ := NewLearner(Linear, 5)
	for _, s := range genLinear(100, 1, 0.1) {
		l.Learn(s)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "c")
	if err := l.Save(path); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	for name, damage := range map[string]func([]byte) []byte{
		"truncated":       func(b []byte) []byte { return b[:len(b)/2] },
		"truncated tail":  func(b []byte) []byte { return b[:len(b)-1] },
		"empty":           func(b []byte) []byte { return nil },
		"flipped payload": func(b []byte) []byte { c := append([]byte(nil), b...); c[40] ^= 1; return c },
		"flipped sum":     func(b []byte) []byte { c := append([]byte(nil), b...); c[len(c)-1] ^= 1; return c },
		"bad magic":       func(b []byte) []byte { c := append([]byte(nil), b...); c[0] = 'X'; return c },
		"appended":        func(b []byte) []byte { return append(append([]byte(nil), b...), 0) },
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, damage(good), 0o600)
		target, _ := NewLearner(Linear, 5)
		err := target.Restore(p)
		var ce *fs.PathError
		if !errors.Is(err, serving.ErrCorruptState) || !errors.As(err, &ce) || ce.Path != p {
			t.Errorf("%s: %v, want an *fs.PathError wrapping serving.ErrCorruptState", name, err)
		}
		if target.Steps() != 0 {
			t.Errorf("%s: a failed restore changed the learner", name)
		}
	}
	if _, err := restoreLearner(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	other, _ := NewLearner(Logistic, 5)
	if err := other.Restore(path); !errors.Is(err, serving.ErrCorruptState) {
		t.Errorf("restoring a linear checkpoint into a logistic learner: %v, want serving.ErrCorruptState", err)
	}
}

// TestFailedSaveKeepsOldCheckpoint fails a save at its rename, after the
// temporary file was written and synced, and checks that the previous
// checkpoint is intact and restorable, and that the temporary file is
// removed.
func TestFailedSaveKeepsOldCheckpoint(t *testing.T) {
	l, _ := NewLearner(Linear, 5)
	data := genLinear(200, 1, 0.1)
	for _, s := range data[:100] {
		l.Learn(s)
	}
	c := crashfs.New()
	withFS(t, c)
	const path = "/ckpt/c"
	if err := l.Save(path); err != nil {
		t.Fatal(err)
	}
	saved := predictAll(t, l, data[:20])
	for _, s := range data[100:] {
		l.Learn(s)
	}
	c.FailAt = c.Step + 5 // create write sync close rename
	err := l.Save(path)
	if !errors.Is(err, crashfs.ErrCrash) || c.Steps[len(c.Steps)-1] != "rename" {
		t.Fatalf("Save failing at its rename: %v (steps %v)", err, c.Steps)
	}
	r, err := restoreLearner(path)
	if err != nil {
		t.Fatalf("the old checkpoint did not survive: %v", err)
	}
	sameBits(t, "predictions from the old checkpoint", predictAll(t, r, data[:20]), saved)
	if names := c.Names(); len(names) != 1 {
		t.Errorf("directory holds %v after a failed save, want only the checkpoint", names)
	}
}

// A checkpoint records its learner's optimiser: restoring an Adam
// learner's checkpoint into a learner given WithOptimizer(LeastSquares)
// is a mismatch, but a learner whose optimiser is only its kind's
// default adopts the checkpoint's (so a trainer restarted after the
// default changed resumes), and a checkpoint written before optimisers
// were recorded restores as the Adam learner it was.
func TestCheckpointRecordsTheOptimizer(t *testing.T) {
	adam, _ := NewLearner(Linear, 5, WithOptimizer(Adam))
	for _, s := range genLinear(50, 1, 0.1) {
		adam.Learn(s)
	}
	b, err := adam.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := NewLearner(Linear, 5, WithOptimizer(LeastSquares))
	if err := ls.UnmarshalBinary(b); !errors.Is(err, serving.ErrCorruptState) {
		t.Errorf("restoring Adam state into a LeastSquares learner: %v, want serving.ErrCorruptState", err)
	}
	if ls.Optimizer() != LeastSquares {
		t.Errorf("a refused checkpoint changed the optimiser to %v", ls.Optimizer())
	}
	def, _ := NewLearner(Linear, 5)
	if err := def.UnmarshalBinary(b); err != nil {
		t.Fatalf("restoring Adam state into a learner with the default optimiser: %v", err)
	}
	if def.Optimizer() != Adam {
		t.Errorf("the default learner restored with optimizer %v, want the checkpoint's adam", def.Optimizer())
	}
	sameBits(t, "predictions after adopting", predictAll(t, def, genLinear(5, 2, 0)), predictAll(t, adam, genLinear(5, 2, 0)))
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	delete(st, "optimizer") // as written before the field existed
	old, _ := json.Marshal(st)
	var r Learner
	if err := r.UnmarshalBinary(old); err != nil {
		t.Fatal(err)
	}
	if r.Optimizer() != Adam {
		t.Errorf("an old checkpoint restores with optimizer %v, want adam", r.Optimizer())
	}
	sameBits(t, "predictions", predictAll(t, &r, genLinear(5, 2, 0)), predictAll(t, adam, genLinear(5, 2, 0)))
}

// A Logistic or Softmax trainer restarted on a checkpoint written while
// Adam was their default (before Newton) resumes it, learning on as the
// saved learner would have, bit for bit.
func TestDefaultLearnerAdoptsAnOlderDefault(t *testing.T) {
	for _, kind := range []Kind{Logistic, Softmax} {
		var opts []Option
		if kind == Softmax {
			opts = append(opts, WithClasses(3))
		}
		r := rand.New(rand.NewPCG(7, uint64(kind)))
		data := make([]Sample, 300)
		for i := range data {
			x := []float64{r.NormFloat64(), r.NormFloat64(), 3 * r.NormFloat64(), r.NormFloat64()}
			y := 0.0
			if x[0]+0.5*x[2] > 0 {
				y = 1
			}
			if kind == Softmax && x[1] > 0.5 {
				y = 2
			}
			data[i] = Sample{Features: x, Target: y}
		}
		old, _ := NewLearner(kind, 4, append(opts, WithOptimizer(Adam))...)
		for _, s := range data[:200] {
			old.Learn(s)
		}
		b, err := old.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var st map[string]any
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		delete(st, "optimizer") // as written before optimisers were recorded
		b, _ = json.Marshal(st)
		l, _ := NewLearner(kind, 4, opts...)
		if l.Optimizer() != Newton {
			t.Fatalf("%s default is %v, the test expects Newton", kind, l.Optimizer())
		}
		if err := l.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s: an Adam checkpoint into a default learner: %v", kind, err)
		}
		for _, s := range data[200:] {
			old.Learn(s)
			l.Learn(s)
		}
		sameBits(t, kind.String()+" after resuming", predictAll(t, l, data[:10]), predictAll(t, old, data[:10]))
	}
}

// restoreLearner restores the learner saved at path into a zero Learner,
// which takes the saved configuration.
func restoreLearner(path string) (*Learner, error) {
	var l Learner
	if err := l.Restore(path); err != nil {
		return nil, err
	}
	return &l, nil
}
