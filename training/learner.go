package training

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/modelstream/modelstream/internal/linmodel"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/linear"
)

// Kind is the kind of model a Learner fits.
type Kind uint8

// The learner kinds. Each matches a kind of the linear model format.
const (
	// Linear is least-squares linear regression. The loss is the squared
	// error (z - y)², so the progressive loss is a mean squared error.
	Linear Kind = iota + 1
	// Logistic is binary logistic regression. The target is the
	// probability of the positive class, usually 0 or 1; the loss is the
	// log loss.
	Logistic
	// Softmax is multinomial logistic regression over K ≥ 2 classes. The
	// target is the class index (or soft targets, see [Sample]); the loss
	// is the cross-entropy.
	Softmax
)

// String returns the kind's name in the linear format: "linear",
// "logistic" or "softmax".
func (k Kind) String() string {
	switch k {
	case Linear:
		return linear.KindLinear
	case Logistic:
		return linear.KindLogistic
	case Softmax:
		return linear.KindSoftmax
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Sample is one labelled example.
type Sample struct {
	// Features is the raw (unstandardised) feature vector.
	Features []float64
	// Target is the label: the value to regress for Linear, the
	// probability of the positive class (0 or 1, or anything between for
	// a soft target) for Logistic, and the class index for Softmax.
	Target float64
	// Soft, when non-nil, holds soft targets for a Softmax learner: one
	// probability per class, summing to 1, such as a teacher's output in
	// distillation. It overrides Target. Other kinds ignore it.
	Soft []float64
}

// Option configures a Learner. Options are applied in order, then
// validated by [NewLearner].
type Option func(*config)

type config struct {
	optimizer    Optimizer
	forget       float64
	adamOption   string // the first Adam-only option given, for validation
	classes      int
	classNames   []string
	featureNames []string
	lr           float64
	decay        float64
	l2           float64
	beta1, beta2 float64
	eps          float64
	standardize  bool
	freezeAfter  int64
	// defaulted: the optimiser is the kind's default, not one chosen
	// with WithOptimizer, so a checkpoint may bring another (see load).
	defaulted bool
}

// WithClasses sets the number of classes of a Softmax learner. It is
// required for Softmax (unless WithClassNames is given) and must be at
// least 2; it is an error for the other kinds.
func WithClasses(k int) Option { return func(c *config) { c.classes = k } }

// WithClassNames names the classes, which become the Label of
// predictions. For Softmax it also sets the class count; for Logistic
// it needs exactly two names, negative first. The default is the class
// indices "0", "1", ...
func WithClassNames(names ...string) Option {
	return func(c *config) {
		c.classNames = append([]string(nil), names...)
	}
}

// WithFeatureNames names the features in exported models, which then
// declare their inputs by these names (serving.ModelInfo.Inputs), so
// that a Server binds records' named fields to them. The names must be
// distinct and non-empty. The default is no names: exported models read
// positional vectors.
func WithFeatureNames(names ...string) Option {
	return func(c *config) { c.featureNames = append([]string(nil), names...) }
}

// Optimizer is how a Learner fits its weights; see [WithOptimizer].
type Optimizer uint8

// The optimisers.
const (
	// LeastSquares is the exact least-squares fit, in one pass, of a
	// Linear learner: after every record its weights are the
	// (lightly ridge-regularised) least-squares solution over all records
	// so far, whatever their order, their units or the learning rate. It
	// is the default, and the only choice besides Adam, for Linear. See
	// the package documentation for its method, cost and regularisation,
	// and [WithForgetting] for streams that drift.
	LeastSquares Optimizer = iota + 1
	// Adam is the stochastic gradient method of Kingma and Ba, with the
	// options [WithLearningRate], [WithDecay] and [WithAdam], for any
	// kind given WithOptimizer(Adam). It was the default for Logistic
	// and Softmax before Newton.
	Adam
	// Newton is online IRLS, the default for Logistic and Softmax with up
	// to 64 features: one Newton step per record with the curvature of
	// every record so far, in O(d²) per record and output, with no step
	// size to choose. See the package documentation for its method and
	// measurements. It has no options; [WithL2] is an error with it.
	Newton
)

// String returns "least-squares", "adam" or "newton".
func (o Optimizer) String() string {
	switch o {
	case LeastSquares:
		return "least-squares"
	case Adam:
		return "adam"
	case Newton:
		return "newton"
	}
	return "Optimizer(" + strconv.Itoa(int(o)) + ")"
}

// WithOptimizer chooses the optimiser, overriding the kind's default:
// LeastSquares for Linear, and for Logistic and Softmax Newton up to
// 64 features and Adam above, where Newton's O(d²)
// per record and output would cost more than it gains. LeastSquares fits
// only Linear learners, Newton only Logistic and Softmax.
func WithOptimizer(o Optimizer) Option { return func(c *config) { c.optimizer = o } }

// WithForgetting sets the forgetting factor ρ of the LeastSquares
// optimiser, overriding the default of 1 (no forgetting: every record
// weighs the same, and the fit is the exact least-squares fit of the
// whole stream). With ρ < 1 the record learned k records ago weighs ρ^k,
// so the fit follows a drifting stream over an effective window of about
// 1/(1-ρ) records: 0.999 remembers about a thousand. ρ must lie in
// (0, 1]. It is an error with Adam.
func WithForgetting(rho float64) Option { return func(c *config) { c.forget = rho } }

// adamOnly marks c as given an Adam-only option.
func (c *config) adamOnly(name string) {
	if c.adamOption == "" {
		c.adamOption = name
	}
}

// WithLearningRate sets Adam's base step size η, overriding the default
// of 0.01. Because features are standardised, one value suits most
// problems; it must be positive. It is an error with the LeastSquares
// optimiser, which has no step size.
func WithLearningRate(eta float64) Option {
	return func(c *config) { c.lr = eta; c.adamOnly("WithLearningRate") }
}

// WithDecay sets the learning-rate schedule η_t = η / √(1 + t/τ), where t
// is the number of optimiser steps taken, overriding the default of no
// decay (τ = 0: a constant η). A decay lets the weights settle on a
// stationary stream; a constant rate keeps them able to follow a
// drifting one. τ must not be negative. It is an error with the
// LeastSquares optimiser, whose counterpart is [WithForgetting].
func WithDecay(tau float64) Option {
	return func(c *config) { c.decay = tau; c.adamOnly("WithDecay") }
}

// WithL2 sets the L2 penalty λ, overriding the default of 0. The
// gradient of every weight gets λ·w added (the penalty λ/2·‖w‖² on each
// record's loss ½(z-y)², coupled to Adam as in classic L2, not decoupled
// as in AdamW); biases are not penalised. λ is in standardised feature
// space. The LeastSquares optimiser adds the same penalty per record to
// its normal equations (ridge regression), on top of its small fixed
// prior. It must not be negative.
func WithL2(lambda float64) Option { return func(c *config) { c.l2 = lambda } }

// WithAdam sets Adam's moment decays β1 and β2 and its ε, overriding the
// defaults of 0.9, 0.999 and 1e-8. β1 and β2 must lie in [0, 1) and ε
// must be positive. It is an error with the LeastSquares optimiser.
func WithAdam(beta1, beta2, eps float64) Option {
	return func(c *config) { c.beta1, c.beta2, c.eps = beta1, beta2, eps; c.adamOnly("WithAdam") }
}

// WithoutStandardization turns off the running standardisation: the
// weights then apply to the raw features and exported models carry no
// mean and scale. Use it only when features are already on comparable
// scales.
func WithoutStandardization() Option { return func(c *config) { c.standardize = false } }

// WithStandardizeFor freezes the standardiser after it has seen n
// records, overriding the default of 0 (never freeze). Freezing fixes
// the coordinates in which the weights live, which helps when a feature's
// distribution later shifts and the model should follow through its
// weights only.
func WithStandardizeFor(n int64) Option { return func(c *config) { c.freezeAfter = n } }

// Learner fits a linear, logistic or softmax regression to a stream of
// Samples, online (one at a time, [Learner.Learn]) or in mini-batches
// ([Learner.LearnBatch]), with built-in running standardisation. A
// Linear learner fits exact least squares by default, Logistic and
// Softmax learners take Newton steps up to 64 features, and any of them
// uses Adam (with an optional learning-rate decay and L2) above that or
// on request. See the package documentation
// for the optimiser and for how the weights relate to the standardiser.
//
// Every learned record is first predicted, and the prediction's loss and
// correctness are added to the progressive-validation [Metrics].
//
// A Learner is not safe for concurrent use: it has one writer. Publish a
// [Learner.Snapshot] to serve it concurrently.
type Learner struct {
	kind Kind
	d, k int // features, outputs
	cfg  config

	w    []float64 // k rows of d weights, row-major, in standardised space
	b    []float64 // k biases
	m, v []float64 // Adam moments: k*d weights then k biases
	step uint64
	b1t  float64 // β1^step
	b2t  float64 // β2^step

	ls      *lsq    // the LeastSquares solver; nil otherwise
	nt      *newton // the Newton solver; nil otherwise
	skipped uint64  // Newton steps skipped (see Skipped)
	std     *standardizer
	ystd    *standardizer // target standardiser, Linear with Adam only; nil otherwise
	metrics Metrics

	// Effective (exported) parameters of a Linear learner with target
	// standardisation: ew = yscale·w, eb = ymean + yscale·b.
	ew, eb []float64

	// scratch
	u, u2 []float64
	z     []float64
	g     []float64 // gradient accumulator, k*d + k
}

// NewLearner returns a Learner of the given kind for feature vectors of
// length features, with all weights zero. Without options a Linear
// learner fits exact least squares ([LeastSquares]) with forgetting
// factor 1, and Logistic and Softmax learners take Newton steps
// ([Newton]) up to 64 features and use Adam above; Adam's defaults are η = 0.01,
// β1 = 0.9, β2 = 0.999, ε = 1e-8 and no decay. None has L2, and each
// has a running standardiser that never freezes. Invalid options give an
// error wrapping serving.ErrConfig.
func NewLearner(kind Kind, features int, opts ...Option) (*Learner, error) {
	c := config{lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, standardize: true, forget: 1}
	for _, o := range opts {
		if o == nil {
			return nil, configErr("NewLearner: nil option")
		}
		o(&c)
	}
	return newLearner(kind, features, c)
}

// newLearner validates c and returns a zero Learner configured by it.
func newLearner(kind Kind, features int, c config) (*Learner, error) {
	k := 1
	switch kind {
	case Linear, Logistic:
		if c.classes != 0 {
			return nil, configErr("WithClasses(%d) is only for Softmax", c.classes)
		}
	case Softmax:
		if c.classes == 0 {
			c.classes = len(c.classNames)
		}
		if c.classes < 2 {
			return nil, configErr("a Softmax learner needs WithClasses(k) with k >= 2, have %d", c.classes)
		}
		k = c.classes
	default:
		return nil, configErr("unknown kind %d", kind)
	}
	if features < 1 || features > linmodel.MaxFeatures {
		return nil, configErr("features = %d, want 1..%d", features, linmodel.MaxFeatures)
	}
	switch {
	case kind == Linear && c.classNames != nil:
		return nil, configErr("a Linear learner has no classes")
	case kind == Logistic && c.classNames != nil && len(c.classNames) != 2:
		return nil, configErr("a Logistic learner needs 2 class names, have %d", len(c.classNames))
	case kind == Softmax && c.classNames != nil && len(c.classNames) != c.classes:
		return nil, configErr("%d class names for %d classes", len(c.classNames), c.classes)
	}
	if c.featureNames != nil && len(c.featureNames) != features {
		return nil, configErr("%d feature names for %d features", len(c.featureNames), features)
	}
	for j, n := range c.featureNames {
		if n == "" || slices.Contains(c.featureNames[:j], n) {
			return nil, configErr("feature name %d (%q) is empty or repeated: names must be distinct, since served models bind record fields by them", j, n)
		}
	}
	if !(c.lr > 0) || math.IsInf(c.lr, 0) {
		return nil, configErr("WithLearningRate(%v): must be positive", c.lr)
	}
	if !(c.decay >= 0) || math.IsInf(c.decay, 0) {
		return nil, configErr("WithDecay(%v): must be zero or positive", c.decay)
	}
	if !(c.l2 >= 0) || math.IsInf(c.l2, 0) {
		return nil, configErr("WithL2(%v): must be zero or positive", c.l2)
	}
	if !(c.beta1 >= 0 && c.beta1 < 1) || !(c.beta2 >= 0 && c.beta2 < 1) || !(c.eps > 0) {
		return nil, configErr("WithAdam(%v, %v, %v): want β in [0, 1) and ε > 0", c.beta1, c.beta2, c.eps)
	}
	if c.freezeAfter < 0 {
		return nil, configErr("WithStandardizeFor(%d): must not be negative", c.freezeAfter)
	}
	if err := c.checkOptimizer(kind, features); err != nil {
		return nil, err
	}
	if kind != Softmax {
		c.classes = 0
	}
	l := &Learner{
		kind: kind, d: features, k: k, cfg: c,
		w: make([]float64, k*features), b: make([]float64, k),
		m: make([]float64, k*features+k), v: make([]float64, k*features+k),
		b1t: 1, b2t: 1,
		std: newStandardizer(features),
		u:   make([]float64, features), u2: make([]float64, features),
		z: make([]float64, k), g: make([]float64, k*features+k),
	}
	switch {
	case c.optimizer == Newton:
		l.nt = newNewton(k, features)
	case c.optimizer == LeastSquares:
		l.ls = newLSQ(features, c.forget, c.l2)
		l.ew, l.eb = make([]float64, features), make([]float64, 1)
	case kind == Linear && c.standardize:
		l.ystd = newStandardizer(1)
		l.ew, l.eb = make([]float64, features), make([]float64, 1)
	}
	return l, nil
}

// checkOptimizer sets the kind's default optimiser and validates the
// options that belong to one optimiser only.
func (c *config) checkOptimizer(kind Kind, features int) error {
	if c.optimizer == 0 {
		c.defaulted = true
		switch {
		case kind == Linear:
			c.optimizer = LeastSquares
		case features <= newtonMaxFeatures:
			c.optimizer = Newton
		default:
			c.optimizer = Adam
		}
	}
	switch c.optimizer {
	case LeastSquares:
		if kind != Linear {
			return configErr("the LeastSquares optimiser fits Linear learners only, not %s", kind)
		}
		if c.adamOption != "" {
			return configErr("%s is an Adam option, and a Linear learner fits exact least squares unless given WithOptimizer(Adam)", c.adamOption)
		}
		if !(c.forget > 0 && c.forget <= 1) {
			return configErr("WithForgetting(%v): want ρ in (0, 1]", c.forget)
		}
	case Newton:
		if kind == Linear {
			return configErr("the Newton optimiser fits Logistic and Softmax learners, not Linear (whose default, LeastSquares, is exact)")
		}
		if c.adamOption != "" {
			return configErr("%s is an Adam option, and a %s learner fits by Newton steps unless given WithOptimizer(Adam)", c.adamOption, kind)
		}
		if c.l2 != 0 {
			return configErr("WithL2 is an option of Adam and LeastSquares; Newton's light prior (see the package documentation) is fixed")
		}
		if c.forget != 1 {
			return configErr("WithForgetting is a LeastSquares option")
		}
	case Adam:
		if c.forget != 1 {
			return configErr("WithForgetting is a LeastSquares option; Adam forgets through a constant learning rate")
		}
	default:
		return configErr("unknown optimizer %d", c.optimizer)
	}
	return nil
}

// Optimizer returns the learner's optimiser.
func (l *Learner) Optimizer() Optimizer { return l.cfg.optimizer }

// Kind returns the learner's kind.
func (l *Learner) Kind() Kind { return l.kind }

// Steps returns the number of optimiser steps taken: one per Learn and
// one per LearnBatch.
func (l *Learner) Steps() uint64 { return l.step }

// SkippedSteps counts, since the learner was created or last Reset, the
// Newton steps it skipped: for each record and output, a step that was
// not finite, or met a curvature matrix that rounding had left no longer
// positive definite (xᵀPx < 0). A skipped step changes no weight; the
// record still counts in the standardiser and the metrics. It stays 0
// for the other optimisers and, on every stream tried (including the
// degenerate ones of the package tests), for Newton too: a count that
// grows says the fit has stopped learning from part of the stream.
func (l *Learner) SkippedSteps() uint64 { return l.skipped }

// Metrics returns the progressive-validation metrics since the learner
// was created or last Reset.
func (l *Learner) Metrics() Metrics { return l.metrics }

// Reset returns the learner to its initial state (zero weights, fresh
// optimiser and standardiser, empty metrics), keeping its configuration.
// A Trainer calls it to retrain from scratch after drift.
func (l *Learner) Reset() {
	clear(l.w)
	clear(l.b)
	clear(l.m)
	clear(l.v)
	l.step, l.b1t, l.b2t = 0, 1, 1
	l.std.reset()
	if l.ystd != nil {
		l.ystd.reset()
	}
	if l.ls != nil {
		l.ls.reset()
	}
	if l.nt != nil {
		l.nt.reset()
	}
	l.metrics = Metrics{}
	l.skipped = 0
}

// check validates a sample.
func (l *Learner) check(s *Sample) error {
	if len(s.Features) != l.d {
		return &serving.FeatureCountError{Want: l.d, Got: len(s.Features)}
	}
	for j, x := range s.Features {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return &SampleError{Index: j, Value: x, Reason: "not finite"}
		}
	}
	y := s.Target
	if math.IsNaN(y) || math.IsInf(y, 0) {
		return &SampleError{Index: -1, Value: y, Reason: "not finite"}
	}
	switch l.kind {
	case Logistic:
		if y < 0 || y > 1 {
			return &SampleError{Index: -1, Value: y, Reason: "a logistic target must lie in [0, 1]"}
		}
	case Softmax:
		if s.Soft != nil {
			if len(s.Soft) != l.k {
				return &SampleError{Index: -1, Value: float64(len(s.Soft)), Reason: fmt.Sprintf("want %d soft targets", l.k)}
			}
			var sum float64
			for _, p := range s.Soft {
				if !(p >= 0 && p <= 1) {
					return &SampleError{Index: -1, Value: p, Reason: "a soft target must lie in [0, 1]"}
				}
				sum += p
			}
			if math.Abs(sum-1) > 1e-6 {
				return &SampleError{Index: -1, Value: sum, Reason: "soft targets must sum to 1"}
			}
			return nil
		}
		if y < 0 || y >= float64(l.k) || y != math.Trunc(y) {
			return &SampleError{Index: -1, Value: y, Reason: fmt.Sprintf("a softmax target must be a class index in [0, %d)", l.k)}
		}
	}
	return nil
}

// input writes the model's input for x into dst: standardised when the
// learner standardises, x itself otherwise. It computes exactly what the
// linear format computes, so that exported models agree bit for bit.
func (l *Learner) input(dst, x []float64) []float64 {
	if !l.cfg.standardize {
		return x
	}
	l.std.transform(dst, x)
	return dst
}

// params returns the weights and biases the exported model uses. They
// are the learned ones, except for a Linear learner that standardises
// its target, whose outputs are mapped back to the target's scale.
func (l *Learner) params() (w, b []float64) {
	if l.ls != nil {
		var mean, scale []float64
		if l.cfg.standardize {
			mean, scale = l.std.mean, l.std.scale
		}
		l.eb[0] = l.ls.export(l.ew, mean, scale)
		return l.ew, l.eb
	}
	if l.ystd == nil {
		return l.w, l.b
	}
	ym, ys := l.ystd.mean[0], l.ystd.scale[0]
	for j, wj := range l.w {
		l.ew[j] = ys * wj
	}
	l.eb[0] = ym + ys*l.b[0]
	return l.ew, l.eb
}

// logits writes z_k = b_k + Σ_j w_kj u_j into l.z.
func (l *Learner) logits(u, ws, bs []float64) []float64 {
	for k := range l.z {
		w := ws[k*l.d : (k+1)*l.d]
		z := bs[k]
		for j, uj := range u {
			z += w[j] * uj
		}
		l.z[k] = z
	}
	return l.z
}

// outputs turns logits into the model outputs in place: identity for
// Linear, σ for Logistic, softmax for Softmax. It returns the argmax
// for Softmax and 0 otherwise.
func (l *Learner) outputs(z []float64) int {
	switch l.kind {
	case Logistic:
		z[0] = linmodel.Sigmoid(z[0])
	case Softmax:
		return linmodel.Softmax(z)
	}
	return 0
}

// Predict returns the learner's current prediction for x, exactly as the
// exported [Learner.Snapshot] loaded by serving would compute it.
func (l *Learner) Predict(x []float64) (serving.Prediction, error) {
	if len(x) != l.d {
		return serving.Prediction{}, &serving.FeatureCountError{Want: l.d, Got: len(x)}
	}
	w, b := l.params()
	z := l.logits(l.input(l.u, x), w, b)
	best := l.outputs(z)
	switch l.kind {
	case Linear:
		return serving.Prediction{Value: z[0]}, nil
	case Logistic:
		return linmodel.Binary(z[0], l.className(0), l.className(1)), nil
	default:
		return linmodel.Classes(clone(z), best, l.cfg.classNames, true), nil
	}
}

func (l *Learner) className(i int) string {
	if l.cfg.classNames != nil {
		return l.cfg.classNames[i]
	}
	return strconv.Itoa(i)
}

// Outcome is the progressive-validation result of one record: the
// learner's prediction made before learning it, and how good it was.
type Outcome struct {
	// Value is the prediction's primary output: the regression value,
	// the positive-class probability, or the top class probability.
	Value float64
	// Class is the predicted class for Logistic and Softmax, and
	// round(Value) for Linear.
	Class int
	// Loss is the record's loss: squared error, log loss or
	// cross-entropy.
	Loss float64
	// Correct reports whether Class matched the target (rounded to the
	// nearest integer for Linear).
	Correct bool
}

// minProb keeps log losses finite.
const minProb = 1e-15

// evaluate scores the outputs o (already transformed) against s.
func (l *Learner) evaluate(o []float64, best int, s *Sample) Outcome {
	y := s.Target
	switch l.kind {
	case Linear:
		e := o[0] - y
		return Outcome{Value: o[0], Class: int(math.Round(o[0])), Loss: e * e, Correct: math.Round(o[0]) == math.Round(y)}
	case Logistic:
		p := math.Min(math.Max(o[0], minProb), 1-minProb)
		loss := -(y*math.Log(p) + (1-y)*math.Log(1-p))
		c := 0
		if o[0] >= 0.5 {
			c = 1
		}
		return Outcome{Value: o[0], Class: c, Loss: loss, Correct: (c == 1) == (y >= 0.5)}
	default:
		var loss float64
		target := int(y)
		if s.Soft != nil {
			target = argmax(s.Soft)
			for k, q := range s.Soft {
				if q > 0 {
					loss -= q * math.Log(math.Max(o[k], minProb))
				}
			}
		} else {
			loss = -math.Log(math.Max(o[target], minProb))
		}
		return Outcome{Value: o[best], Class: best, Loss: loss, Correct: best == target}
	}
}

func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// progressive predicts s with the current state and records the result.
func (l *Learner) progressive(s *Sample) Outcome {
	w, b := l.params()
	z := l.logits(l.input(l.u, s.Features), w, b)
	best := l.outputs(z)
	out := l.evaluate(z, best, s)
	l.metrics.add(out, s.Target, l.kind)
	return out
}

// observe feeds s to the standardisers unless they are off or frozen.
// The scales are refreshed only when refresh is set: a mini-batch
// refreshes once after its last sample, which gives the same scales as
// refreshing after each one.
func (l *Learner) observe(s *Sample, refresh bool) {
	if l.cfg.standardize && (l.cfg.freezeAfter == 0 || l.std.n < l.cfg.freezeAfter) {
		l.std.fold(s.Features)
		if l.ystd != nil {
			l.ystd.fold([]float64{s.Target})
		}
	}
	if refresh {
		l.std.refresh()
		if l.ystd != nil {
			l.ystd.refresh()
		}
	}
}

// accumulate adds the gradient of s's loss (at the current weights and
// standardiser) into l.g.
func (l *Learner) accumulate(s *Sample) {
	u := l.input(l.u2, s.Features)
	z := l.logits(u, l.w, l.b)
	l.outputs(z)
	// z now holds outputs; turn it into dLoss/dz in place.
	switch l.kind {
	case Linear:
		if l.ystd != nil {
			z[0] -= (s.Target - l.ystd.mean[0]) / l.ystd.scale[0]
		} else {
			z[0] -= s.Target
		}
	case Logistic:
		z[0] -= s.Target
	case Softmax:
		if s.Soft != nil {
			for k := range z {
				z[k] -= s.Soft[k]
			}
		} else {
			z[int(s.Target)]--
		}
	}
	kd := l.k * l.d
	for k, gk := range z {
		g := l.g[k*l.d : (k+1)*l.d]
		for j, uj := range u {
			g[j] += gk * uj
		}
		l.g[kd+k] += gk
	}
}

// apply takes one Adam step with the accumulated gradient divided by n,
// plus L2, and clears the accumulator.
func (l *Learner) apply(n int) {
	l.step++
	b1, b2 := l.cfg.beta1, l.cfg.beta2
	l.b1t *= b1
	l.b2t *= b2
	c1, c2 := 1-l.b1t, 1-l.b2t
	eta := l.cfg.lr
	if l.cfg.decay > 0 {
		eta /= math.Sqrt(1 + float64(l.step)/l.cfg.decay)
	}
	inv := 1 / float64(n)
	kd := l.k * l.d
	for i, gi := range l.g {
		gi *= inv
		var p *float64
		if i < kd {
			p = &l.w[i]
			gi += l.cfg.l2 * *p
		} else {
			p = &l.b[i-kd]
		}
		mi := b1*l.m[i] + (1-b1)*gi
		vi := b2*l.v[i] + (1-b2)*gi*gi
		l.m[i], l.v[i] = mi, vi
		*p -= eta * (mi / c1) / (math.Sqrt(vi/c2) + l.cfg.eps)
		l.g[i] = 0
	}
}

// Learn learns one record: it predicts s with the current model and adds
// the outcome to the progressive metrics, folds s's features into the
// standardiser, then takes one step of its optimiser on s (for
// LeastSquares, adds s to the fit). It returns the
// progressive outcome. An invalid sample changes nothing and returns an
// error wrapping ErrInvalidSample or serving.ErrFeatureCount.
func (l *Learner) Learn(s Sample) (Outcome, error) {
	if err := l.check(&s); err != nil {
		return Outcome{}, err
	}
	out := l.progressive(&s)
	l.observe(&s, true)
	if l.ls != nil {
		l.ls.add(s.Features, s.Target)
		l.step++
		return out, nil
	}
	if l.nt != nil {
		l.newtonStep(&s)
		l.step++
		return out, nil
	}
	l.accumulate(&s)
	l.apply(1)
	return out, nil
}

// newtonStep takes the Newton step for s at the current weights and
// standardiser.
func (l *Learner) newtonStep(s *Sample) {
	u := l.input(l.u2, s.Features)
	z := l.logits(u, l.w, l.b)
	l.outputs(z)
	h := l.g[:len(z)]
	for k, p := range z {
		h[k] = p * (1 - p)
	}
	switch l.kind {
	case Logistic:
		z[0] -= s.Target
	case Softmax:
		if s.Soft != nil {
			for k := range z {
				z[k] -= s.Soft[k]
			}
		} else {
			z[int(s.Target)]--
		}
	}
	l.skipped += uint64(l.nt.step(u, z, h, l.w, l.b))
	clear(h)
}

// LearnBatch learns a mini-batch: every sample is first predicted with
// the model as it was before the batch (progressive validation), then
// all features are folded into the standardiser, then the optimiser
// learns the batch: one Adam step on the mean loss, one Newton step per
// sample in order, or the samples added to the least-squares fit. It returns the
// batch's progressive metrics. If any sample is invalid nothing is
// learned and the error names the first bad sample's index.
func (l *Learner) LearnBatch(batch []Sample) (Metrics, error) {
	if len(batch) == 0 {
		return Metrics{}, nil
	}
	for i := range batch {
		if err := l.check(&batch[i]); err != nil {
			return Metrics{}, fmt.Errorf("sample %d: %w", i, err)
		}
	}
	var bm Metrics
	for i := range batch {
		out := l.progressive(&batch[i])
		bm.add(out, batch[i].Target, l.kind)
	}
	for i := range batch {
		l.observe(&batch[i], i == len(batch)-1)
	}
	if l.ls != nil {
		for i := range batch {
			l.ls.add(batch[i].Features, batch[i].Target)
		}
		l.step++
		return bm, nil
	}
	if l.nt != nil {
		// One Newton step per record, in order, after the batch's
		// predictions and standardiser update.
		for i := range batch {
			l.newtonStep(&batch[i])
		}
		l.step++
		return bm, nil
	}
	for i := range batch {
		l.accumulate(&batch[i])
	}
	l.apply(len(batch))
	return bm, nil
}

// document returns the learner's current model in the linear format: the
// weights (in standardised space) together with the standardiser's
// current mean and scale, so that the document computes exactly what
// [Learner.Predict] computes. [Learner.Snapshot] encodes it.
func (l *Learner) document() linear.Document {
	w, b := l.params()
	doc := linear.Document{
		Kind:         l.kind.String(),
		Features:     l.d,
		FeatureNames: append([]string(nil), l.cfg.featureNames...),
		Weights:      make([][]float64, l.k),
		Bias:         clone(b),
		Classes:      append([]string(nil), l.cfg.classNames...),
	}
	if len(doc.FeatureNames) == 0 {
		doc.FeatureNames = nil
	}
	if len(doc.Classes) == 0 {
		doc.Classes = nil
	}
	for k := range doc.Weights {
		doc.Weights[k] = clone(w[k*l.d : (k+1)*l.d])
	}
	if l.cfg.standardize {
		doc.Mean = clone(l.std.mean)
		doc.Scale = clone(l.std.scale)
	}
	return doc
}

// Coefficients returns the model in raw feature space: for each output k,
// z_k = intercept[k] + Σ_j coef[k][j]·x_j. They are derived from the
// standardised weights and the current standardiser, for reading and
// comparing with other fits; exported models keep the standardised form.
func (l *Learner) Coefficients() (coef [][]float64, intercept []float64) {
	ws, bs := l.params()
	coef = make([][]float64, l.k)
	intercept = clone(bs)
	for k := range coef {
		coef[k] = make([]float64, l.d)
		for j := range coef[k] {
			w := ws[k*l.d+j]
			if l.cfg.standardize {
				coef[k][j] = w / l.std.scale[j]
				intercept[k] -= w * l.std.mean[j] / l.std.scale[j]
			} else {
				coef[k][j] = w
			}
		}
	}
	return coef, intercept
}
