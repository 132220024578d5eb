package training

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/modelstream/modelstream/internal/atomicfile"
	"github.com/modelstream/modelstream/serving"
)

// A checkpoint file is
//
//	magic   8 bytes  "MSCKPT01"
//	length  8 bytes  big-endian length of the payload
//	payload          JSON state (floats in shortest round-trip form, so exact)
//	sum    32 bytes  SHA-256 of everything before it
//
// A file that is shorter or longer than its header says, or whose sum
// does not match, is corrupt; nothing is restored from it.
const (
	checkpointMagic = "MSCKPT01"
	headerLen       = len(checkpointMagic) + 8
	sumLen          = sha256.Size
)

// writeCheckpoint writes payload to path atomically: it writes a
// temporary file in the same directory, syncs it, renames it over path
// and syncs the directory, so that path holds either the old checkpoint
// or the new one, whole, even across a crash.
func writeCheckpoint(path string, payload []byte) error {
	fail := func(err error) error { return checkpointErr("save", path, err) }
	buf := make([]byte, 0, headerLen+len(payload)+sumLen)
	buf = append(buf, checkpointMagic...)
	buf = binary.BigEndian.AppendUint64(buf, uint64(len(payload)))
	buf = append(buf, payload...)
	sum := sha256.Sum256(buf)
	buf = append(buf, sum[:]...)

	if err := atomicfile.Write(checkpointFS, path, buf); err != nil {
		return fail(err)
	}
	return nil
}

// readCheckpoint reads and verifies a checkpoint file and returns its
// payload.
func readCheckpoint(path string) ([]byte, error) {
	fail := func(err error) error { return checkpointErr("restore", path, err) }
	b, err := checkpointFS.ReadFile(path)
	if err != nil {
		return nil, fail(err)
	}
	if len(b) < headerLen+sumLen {
		return nil, fail(fmt.Errorf("%w: training: %d bytes is too short (truncated?)", serving.ErrCorruptState, len(b)))
	}
	if string(b[:len(checkpointMagic)]) != checkpointMagic {
		return nil, fail(fmt.Errorf("%w: training: not a modelstream checkpoint (bad magic)", serving.ErrCorruptState))
	}
	n := binary.BigEndian.Uint64(b[len(checkpointMagic):headerLen])
	if n != uint64(len(b)-headerLen-sumLen) {
		return nil, fail(fmt.Errorf("%w: training: header says %d payload bytes, file holds %d (truncated?)", serving.ErrCorruptState, n, len(b)-headerLen-sumLen))
	}
	body, sum := b[:len(b)-sumLen], b[len(b)-sumLen:]
	if want := sha256.Sum256(body); !bytes.Equal(want[:], sum) {
		return nil, fail(fmt.Errorf("%w: training: checksum mismatch", serving.ErrCorruptState))
	}
	return b[headerLen : len(b)-sumLen], nil
}

// learnerState is the checkpointed form of a Learner: its configuration
// and every number that influences its future.
type learnerState struct {
	Kind         string             `json:"kind"`
	Optimizer    string             `json:"optimizer,omitempty"` // empty: adam, as before LeastSquares existed
	Forget       float64            `json:"forget,omitempty"`
	LS           *lsqState          `json:"ls,omitempty"`
	Newton       []float64          `json:"newton,omitempty"` // the Newton optimiser's P blocks
	Features     int                `json:"features"`
	Classes      int                `json:"classes,omitempty"`
	ClassNames   []string           `json:"class_names,omitempty"`
	FeatureNames []string           `json:"feature_names,omitempty"`
	LR           float64            `json:"lr"`
	Decay        float64            `json:"decay"`
	L2           float64            `json:"l2"`
	Beta1        float64            `json:"beta1"`
	Beta2        float64            `json:"beta2"`
	Eps          float64            `json:"eps"`
	Standardize  bool               `json:"standardize"`
	FreezeAfter  int64              `json:"freeze_after"`
	W            []float64          `json:"w"`
	B            []float64          `json:"b"`
	M            nums               `json:"m"`
	V            nums               `json:"v"`
	Step         uint64             `json:"step"`
	B1t          float64            `json:"b1t"`
	B2t          float64            `json:"b2t"`
	Std          standardizerState  `json:"std"`
	YStd         *standardizerState `json:"ystd,omitempty"`
	Metrics      metricsState       `json:"metrics"`
	Skipped      uint64             `json:"skipped,omitempty"` // Newton steps skipped
}

func (l *Learner) state() learnerState {
	st := learnerState{
		Kind: l.kind.String(), Features: l.d, Classes: l.cfg.classes,
		ClassNames: l.cfg.classNames, FeatureNames: l.cfg.featureNames,
		LR: l.cfg.lr, Decay: l.cfg.decay, L2: l.cfg.l2,
		Beta1: l.cfg.beta1, Beta2: l.cfg.beta2, Eps: l.cfg.eps,
		Standardize: l.cfg.standardize, FreezeAfter: l.cfg.freezeAfter,
		W: clone(l.w), B: clone(l.b), M: clone(l.m), V: clone(l.v),
		Step: l.step, B1t: l.b1t, B2t: l.b2t,
		Std: l.std.state(), Metrics: l.metrics.state(),
		Optimizer: l.cfg.optimizer.String(),
		Skipped:   l.skipped,
	}
	if l.ls != nil {
		st.Forget, st.LS = l.cfg.forget, l.ls.state()
	}
	if l.nt != nil {
		st.Newton = l.nt.state()
	}
	if l.ystd != nil {
		y := l.ystd.state()
		st.YStd = &y
	}
	return st
}

func kindOf(name string) Kind {
	for _, k := range []Kind{Linear, Logistic, Softmax} {
		if k.String() == name {
			return k
		}
	}
	return 0
}

// learnerFromState builds a learner with the configuration recorded in
// st, then loads its state.
func learnerFromState(st *learnerState) (*Learner, error) {
	opts := []Option{WithL2(st.L2), WithStandardizeFor(st.FreezeAfter)}
	switch st.Optimizer {
	case "", Adam.String():
		opts = append(opts, WithOptimizer(Adam), WithLearningRate(st.LR), WithDecay(st.Decay), WithAdam(st.Beta1, st.Beta2, st.Eps))
	case LeastSquares.String():
		opts = append(opts, WithOptimizer(LeastSquares), WithForgetting(st.Forget))
	case Newton.String():
		opts = append(opts, WithOptimizer(Newton))
	default:
		return nil, fmt.Errorf("%w: training: unknown optimizer %q", serving.ErrCorruptState, st.Optimizer)
	}
	if st.Classes != 0 {
		opts = append(opts, WithClasses(st.Classes))
	}
	if st.ClassNames != nil {
		opts = append(opts, WithClassNames(st.ClassNames...))
	}
	if st.FeatureNames != nil {
		opts = append(opts, WithFeatureNames(st.FeatureNames...))
	}
	if !st.Standardize {
		opts = append(opts, WithoutStandardization())
	}
	l, err := NewLearner(kindOf(st.Kind), st.Features, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: training: %v", serving.ErrCorruptState, err)
	}
	if err := l.load(st); err != nil {
		return nil, err
	}
	return l, nil
}

// load replaces l's state with st, which must be for the same kind,
// feature count and class count. On error l is unchanged.
func (l *Learner) load(st *learnerState) error {
	if kindOf(st.Kind) != l.kind || st.Features != l.d || st.Classes != l.cfg.classes {
		return fmt.Errorf("%w: training: checkpoint mismatch: it holds a %s learner with %d features and %d classes, this is a %s learner with %d features and %d classes",
			serving.ErrCorruptState, st.Kind, st.Features, st.Classes, l.kind, l.d, l.cfg.classes)
	}
	opt := st.Optimizer
	if opt == "" {
		opt = Adam.String()
	}
	if opt != l.cfg.optimizer.String() && l.cfg.defaulted {
		return l.adopt(st, opt)
	}
	if opt != l.cfg.optimizer.String() {
		return fmt.Errorf("%w: training: checkpoint mismatch: it holds a learner fitted with %s, this one uses %s", serving.ErrCorruptState, opt, l.cfg.optimizer)
	}
	if l.ls != nil && (st.LS == nil || len(st.LS.Mean) != l.d+1 || len(st.LS.Cov) != (l.d+1)*(l.d+1)) {
		return fmt.Errorf("%w: training: least-squares state missing or of the wrong size", serving.ErrCorruptState)
	}
	if l.nt != nil && len(st.Newton) != len(l.nt.p) {
		return fmt.Errorf("%w: training: Newton state missing or of the wrong size", serving.ErrCorruptState)
	}
	n := l.k*l.d + l.k
	ok := len(st.W) == l.k*l.d && len(st.B) == l.k && len(st.M) == n && len(st.V) == n &&
		len(st.Std.Mean) == l.d && len(st.Std.M2) == l.d && len(st.Std.Scale) == l.d &&
		(st.YStd == nil) == (l.ystd == nil) &&
		(st.YStd == nil || len(st.YStd.Mean) == 1 && len(st.YStd.M2) == 1 && len(st.YStd.Scale) == 1)
	if !ok {
		return fmt.Errorf("%w: training: state arrays have the wrong lengths", serving.ErrCorruptState)
	}
	copy(l.w, st.W)
	copy(l.b, st.B)
	copy(l.m, st.M)
	copy(l.v, st.V)
	l.step, l.b1t, l.b2t = st.Step, st.B1t, st.B2t
	l.std.setState(st.Std)
	if st.YStd != nil {
		l.ystd.setState(*st.YStd)
	}
	if l.ls != nil {
		l.ls.setState(st.LS)
	}
	if l.nt != nil {
		l.nt.setState(st.Newton)
	}
	l.metrics = st.Metrics.metrics()
	l.skipped = st.Skipped
	return nil
}

func (s *standardizer) setState(st standardizerState) {
	s.n = st.N
	copy(s.mean, st.Mean)
	copy(s.m2, st.M2)
	copy(s.scale, st.Scale)
}

// MarshalBinary encodes the learner's full state (configuration,
// weights, Adam moments and step, standardiser, metrics) in the form
// that [Learner.Save] writes inside a checkpoint. It fails if a weight
// has become NaN or infinite.
func (l *Learner) MarshalBinary() ([]byte, error) {
	b, err := json.Marshal(l.state())
	if err != nil {
		return nil, fmt.Errorf("training: encode learner state: %w: %v", ErrDiverged, err)
	}
	return b, nil
}

// UnmarshalBinary replaces l's state with one encoded by MarshalBinary.
// When l is a zero Learner it takes the recorded configuration too;
// otherwise the state must be for the same kind, feature count and class
// count (or the error wraps serving.ErrCorruptState) and l keeps its own
// options, so that a trainer restarted with changed options applies
// them. The optimiser must match too, unless l's is only its kind's
// default: then l adopts the checkpoint's, so that a checkpoint written
// before a default changed still resumes. With the same options, the learner continues bit for bit as the
// saved one would have. On error l is unchanged.
func (l *Learner) UnmarshalBinary(b []byte) error {
	var st learnerState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("%w: training: %v", serving.ErrCorruptState, err)
	}
	if l.kind == 0 {
		nl, err := learnerFromState(&st)
		if err != nil {
			return err
		}
		*l = *nl
		return nil
	}
	return l.load(&st)
}

// Save writes the learner's full state to a checkpoint file at path,
// atomically: the file holds either the previous checkpoint or this one,
// whole, even if the process dies during Save. The file carries a
// SHA-256 checksum; see [Learner.Restore].
func (l *Learner) Save(path string) error {
	b, err := l.MarshalBinary()
	if err != nil {
		return checkpointErr("save", path, err)
	}
	return writeCheckpoint(path, b)
}

// Restore replaces l's state with the checkpoint at path, under the rules
// of [Learner.UnmarshalBinary]: a zero Learner takes the configuration
// the checkpoint was saved with,
//
//	var l training.Learner
//	err := l.Restore(path)
//
// and a Learner made by [NewLearner] keeps its own options. A truncated or
// damaged file gives a *fs.PathError (naming the file) wrapping
// [serving.ErrCorruptState], and l is unchanged.
func (l *Learner) Restore(path string) error {
	b, err := readCheckpoint(path)
	if err != nil {
		return err
	}
	if err := l.UnmarshalBinary(b); err != nil {
		return checkpointErr("restore", path, err)
	}
	return nil
}

// adopt loads st into l when st was fitted with the optimiser named opt
// and l's optimiser is only its kind's default, not chosen with
// WithOptimizer: a checkpoint written before the default changed
// (Linear's from Adam to LeastSquares, Logistic's and Softmax's from
// Adam to Newton) resumes as it was fitted, with Adam's recorded step
// settings, rather than failing with serving.ErrCorruptState. l keeps its
// other options. On error l is unchanged.
func (l *Learner) adopt(st *learnerState, opt string) error {
	c := l.cfg
	switch opt {
	case Adam.String():
		c.optimizer, c.lr, c.decay, c.beta1, c.beta2, c.eps = Adam, st.LR, st.Decay, st.Beta1, st.Beta2, st.Eps
	case LeastSquares.String():
		c.optimizer, c.forget = LeastSquares, st.Forget
		if c.forget == 0 {
			c.forget = 1
		}
	case Newton.String():
		c.optimizer = Newton
	default:
		return fmt.Errorf("%w: training: unknown optimizer %q", serving.ErrCorruptState, st.Optimizer)
	}
	nl, err := newLearner(l.kind, l.d, c)
	if err != nil {
		return fmt.Errorf("%w: training: checkpoint mismatch: it holds a learner fitted with %s, which this one's options do not allow: %v", serving.ErrCorruptState, opt, err)
	}
	if err := nl.load(st); err != nil {
		return err
	}
	nl.cfg.defaulted = true
	*l = *nl
	return nil
}
