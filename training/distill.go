package training

import (
	"context"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"

	"github.com/modelstream/modelstream/serving"
)

// DistillOption configures [Distill].
type DistillOption func(*distillOptions)

type distillOptions struct {
	batch int
}

// DistillBatch makes Distill learn in mini-batches of n records,
// overriding the default of 1 (online). n must be at least 1.
func DistillBatch(n int) DistillOption { return func(o *distillOptions) { o.batch = n } }

// Distill trains student to imitate teacher, using the teacher as a data
// generator: every input is scored by the teacher, and the teacher's
// output becomes the student's target.
//
//   - A Linear student regresses the teacher's Value.
//   - A Logistic student learns the teacher's Value as a soft target; it
//     must be a probability, such as a binary tree model's output.
//   - A Softmax student learns the teacher's Values as soft targets; they
//     must be K probabilities.
//
// inputs may be a live stream (any iter.Seq), a [Replay] of recorded
// rows, or [Sampled] or [Jittered] synthetic inputs. Distill stops when
// inputs ends or ctx is done (returning an error wrapping ctx.Err()), or
// at the first teacher failure (an error wrapping the teacher's) or
// unusable teacher output or input (an error wrapping ErrInvalidSample,
// or serving.ErrFeatureCount for an input of the wrong length). Yielded
// slices may be reused by the iterator once the next one is requested.
//
// It returns the student's progressive-validation metrics against the
// teacher's outputs over this run, each input predicted by the student
// before it learns from it: their Count is the number of inputs the
// teacher labelled and the student learned, up to the stop, and their
// Accuracy the progressive agreement with the teacher's rounded decision.
func Distill(ctx context.Context, teacher serving.Scorer, student *Learner, inputs iter.Seq[[]float64], opts ...DistillOption) (Metrics, error) {
	o := distillOptions{batch: 1}
	var rep Metrics
	for _, opt := range opts {
		if opt == nil {
			return rep, configErr("Distill: nil option")
		}
		opt(&o)
	}
	if o.batch < 1 {
		return rep, configErr("DistillBatch(%d): must be at least 1", o.batch)
	}
	if teacher == nil || student == nil {
		return rep, configErr("Distill needs a teacher and a student")
	}
	var batch []Sample
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		m, err := student.LearnBatch(batch)
		if err != nil {
			return err
		}
		rep.Merge(m)
		batch = batch[:0]
		return nil
	}
	for x := range inputs {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("training: distill: %w", err)
		}
		res, err := teacher.Score(ctx, serving.Record{Features: x})
		if err != nil {
			return rep, fmt.Errorf("training: distill: teacher: %w", err)
		}
		s, err := teacherSample(student, x, res.Prediction)
		if err != nil {
			return rep, err
		}
		if o.batch == 1 {
			out, err := student.Learn(s)
			if err != nil {
				return rep, fmt.Errorf("training: distill: %w", err)
			}
			rep.add(out, s.Target, student.kind)
			continue
		}
		s.Features = clone(x)
		if s.Soft != nil {
			s.Soft = clone(s.Soft)
		}
		batch = append(batch, s)
		if len(batch) == o.batch {
			if err := flush(); err != nil {
				return rep, fmt.Errorf("training: distill: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return rep, fmt.Errorf("training: distill: %w", err)
	}
	return rep, nil
}

// teacherSample turns a teacher's prediction into a training sample for
// the student.
func teacherSample(student *Learner, x []float64, p serving.Prediction) (Sample, error) {
	s := Sample{Features: x, Target: p.Value}
	switch student.kind {
	case Logistic:
		if !(p.Value >= 0 && p.Value <= 1) {
			return s, fmt.Errorf("training: distill: %w: teacher output %v is not a probability; a Logistic student needs one", ErrInvalidSample, p.Value)
		}
	case Softmax:
		if len(p.Values) != student.k {
			return s, fmt.Errorf("training: distill: %w: teacher gave %d outputs, the Softmax student has %d classes", ErrInvalidSample, len(p.Values), student.k)
		}
		var sum float64
		for _, v := range p.Values {
			sum += v
		}
		if math.Abs(sum-1) > 1e-6 {
			return s, fmt.Errorf("training: distill: %w: teacher outputs sum to %v, not 1; a Softmax student needs probabilities", ErrInvalidSample, sum)
		}
		s.Soft = p.Values
		s.Target = float64(argmax(p.Values))
	}
	return s, nil
}

// decision is the rounded decision of a prediction for a learner kind:
// the class for Logistic (Value ≥ 0.5) and Softmax (argmax), and the
// nearest integer for Linear.
func decision(kind Kind, p serving.Prediction) int {
	switch kind {
	case Logistic:
		if p.Value >= 0.5 {
			return 1
		}
		return 0
	case Softmax:
		return argmax(p.Outputs())
	default:
		return int(math.Round(p.Value))
	}
}

// Agreement returns the share of rows on which student and teacher make
// the same rounded decision: the same class for Logistic (probability
// ≥ 0.5) and Softmax (argmax), the same nearest integer for Linear. Use
// it on held-out rows after [Distill]. It returns NaN for no rows.
func Agreement(ctx context.Context, teacher serving.Scorer, student *Learner, rows [][]float64) (float64, error) {
	if len(rows) == 0 {
		return math.NaN(), nil
	}
	agree := 0
	for i, x := range rows {
		res, err := teacher.Score(ctx, serving.Record{Features: x})
		if err != nil {
			return 0, fmt.Errorf("training: agreement: row %d: teacher: %w", i, err)
		}
		p, err := student.Predict(x)
		if err != nil {
			return 0, fmt.Errorf("training: agreement: row %d: %w", i, err)
		}
		if decision(student.kind, res.Prediction) == decision(student.kind, p) {
			agree++
		}
	}
	return float64(agree) / float64(len(rows)), nil
}

// Replay yields rows in order, epochs times over. When seed is non-zero
// each epoch is shuffled with it, so that every pass sees the rows in a
// new order. The rows are feature vectors for [Distill], or labelled
// Samples to learn over several shuffled passes:
//
//	for s := range training.Replay(samples, 5, 1) {
//		l.Learn(s)
//	}
//
// LeastSquares and Newton learners need one pass; Adam learners get
// closer to their optimum with several, and a decay ([WithDecay]).
func Replay[T any](rows []T, epochs int, seed uint64) iter.Seq[T] {
	return func(yield func(T) bool) {
		idx := make([]int, len(rows))
		for i := range idx {
			idx[i] = i
		}
		var r *rand.Rand
		if seed != 0 {
			r = rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
		}
		for e := 0; e < epochs; e++ {
			if r != nil {
				r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
			}
			for _, i := range idx {
				if !yield(rows[i]) {
					return
				}
			}
		}
	}
}

// Sampled yields n inputs drawn by sample from a random source seeded
// with seed.
func Sampled(n int, seed uint64, sample func(r *rand.Rand) []float64) iter.Seq[[]float64] {
	return func(yield func([]float64) bool) {
		r := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
		for i := 0; i < n; i++ {
			if !yield(sample(r)) {
				return
			}
		}
	}
}

// Jittered yields n synthetic inputs near the given rows: each is a
// randomly chosen row plus Gaussian noise whose standard deviation is
// scale times that feature's standard deviation across rows. It covers
// the neighbourhood of real data, where the teacher's decision boundary
// matters, better than independent draws per feature, which produce
// combinations real data never has. The rows must all have the same
// length: a row of another length is an error wrapping
// [ErrInvalidSample]. With no rows it yields nothing.
func Jittered(rows [][]float64, n int, scale float64, seed uint64) (iter.Seq[[]float64], error) {
	if len(rows) == 0 {
		return func(func([]float64) bool) {}, nil
	}
	st := newStandardizer(len(rows[0]))
	for i, x := range rows {
		if len(x) != len(rows[0]) {
			return nil, fmt.Errorf("training: Jittered: %w: row %d has %d values, row 0 has %d", ErrInvalidSample, i, len(x), len(rows[0]))
		}
		st.add(x)
	}
	sd := st.scale
	return Sampled(n, seed, func(r *rand.Rand) []float64 {
		base := rows[r.IntN(len(rows))]
		x := make([]float64, len(base))
		for j, b := range base {
			x[j] = b + scale*sd[j]*r.NormFloat64()
		}
		return x
	}), nil
}
