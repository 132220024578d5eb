package tensorflow

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"

	"github.com/modelstream/modelstream/serving"
)

// FormatName is the name under which this package registers the format.
const FormatName = "tensorflow-graphdef"

// Descriptor labels read by Load.
const (
	// LabelOutput names the node whose output is the prediction, as
	// "name" or "name:0". Without it, the output is the graph's single
	// node that no other node reads (ignoring unused Const and
	// Placeholder nodes).
	LabelOutput = "tensorflow.output"
	// LabelInputs names the model's inputs, comma-separated, in the
	// order of the feature vector; there must be exactly as many names
	// as the model has features. Without it, names come from the
	// placeholders (see the package documentation).
	LabelInputs = "tensorflow.inputs"
	// LabelClasses names the classes of a model whose output has several
	// elements per record, comma-separated, in output order: the
	// Prediction's Label is the name of the largest output. Without it,
	// Label is the index of the largest output as a decimal string.
	LabelClasses = "tensorflow.classes"
)

// Defaults of the options of [New], which their docs state.
const (
	defaultMaxElements = 1 << 25 // 32 Mi elements, 128 MiB of float32
	defaultMaxOps      = 1 << 31 // 2 Gi multiply-adds, about a second of one core
	defaultMaxNodes    = 1 << 16
	defaultBatchRows   = 64
	defaultMaxArchive  = 1 << 28 // 256 MiB
)

func init() {
	f, err := New()
	if err != nil {
		panic(err) // the defaults are valid; this cannot happen
	}
	serving.Register(FormatName, f)
}

// Option configures the format [New] returns.
type Option func(*options)

type options struct {
	maxElements int64
	maxOps      int64
	maxNodes    int
	batchRows   int
	maxArchive  int64
}

// MaxElements bounds the number of elements of a model's tensors taken
// together: its constants (including those computed at load) and every
// intermediate buffer of one Predict call; the buffers of PredictBatch
// count separately against the same bound. A graph over the bound is
// refused at load with an error wrapping serving.ErrCorruptModel and
// serving.ErrTooLarge. Overrides the default of 32 Mi elements (128 MiB
// of float32). n must be at least 1 and at most 2^31-1 (8 GiB of
// float32): the index maps of broadcasts and reductions are int32.
func MaxElements(n int64) Option { return func(o *options) { o.maxElements = n } }

// MaxOps bounds the arithmetic of one Predict call, counted at load: a
// MatMul of [m k] by [k n] is m*k*n operations, a Conv2D each output
// element times its window, an elementwise op its elements. Constants
// folded at load count too, so a graph cannot stall loading either. A
// graph over the bound is refused with an error wrapping
// serving.ErrCorruptModel and serving.ErrTooLarge; PredictBatch runs a
// graph row by row when a batch would exceed it. Overrides the default
// of 2 Gi (about a second of one core). n must be at least 1.
func MaxOps(n int64) Option { return func(o *options) { o.maxOps = n } }

// MaxNodes bounds the number of nodes of a GraphDef. Overrides the
// default of 65536. n must be at least 1.
func MaxNodes(n int) Option { return func(o *options) { o.maxNodes = n } }

// BatchRows sets how many rows PredictBatch feeds through the graph in
// one run, for graphs whose placeholders all have an unknown leading
// (batch) dimension. 1 runs every row on its own. Overrides the default
// of 64. n must be at least 1.
func BatchRows(n int) Option { return func(o *options) { o.batchRows = n } }

// format is the TensorFlow frozen GraphDef format. It is immutable and
// safe for concurrent use.
type format struct {
	o    options
	name string // FormatName or SavedModelFormatName, for errors
}

var _ serving.Format = (*format)(nil)

// New returns the TensorFlow frozen GraphDef format with the given
// options applied over the defaults, or an error wrapping
// serving.ErrConfig naming the first invalid option. The format is
// immutable and safe for concurrent use. The package registers one with
// the default options under [FormatName]; build another with New to
// change them, and register it under a name of your own.
func New(opts ...Option) (serving.Format, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	return &format{o: o, name: FormatName}, nil
}

// newOptions applies opts over the defaults and validates the result.
func newOptions(opts []Option) (options, error) {
	o := options{maxElements: defaultMaxElements, maxOps: defaultMaxOps, maxNodes: defaultMaxNodes, batchRows: defaultBatchRows, maxArchive: defaultMaxArchive}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case o.maxArchive < 1:
		return o, fmt.Errorf("%w: tensorflow: MaxArchiveBytes(%d): must be at least 1", serving.ErrConfig, o.maxArchive)
	case o.maxElements < 1 || o.maxElements > math.MaxInt32:
		return o, fmt.Errorf("%w: tensorflow: MaxElements(%d): must be at least 1 and at most 2^31-1", serving.ErrConfig, o.maxElements)
	case o.maxOps < 1:
		return o, fmt.Errorf("%w: tensorflow: MaxOps(%d): must be at least 1", serving.ErrConfig, o.maxOps)
	case o.maxNodes < 1:
		return o, fmt.Errorf("%w: tensorflow: MaxNodes(%d): must be at least 1", serving.ErrConfig, o.maxNodes)
	case o.batchRows < 1:
		return o, fmt.Errorf("%w: tensorflow: BatchRows(%d): must be at least 1", serving.ErrConfig, o.batchRows)
	}
	return o, nil
}

// Load implements serving.Format: it compiles d.Bytes, a frozen GraphDef,
// with the labels [LabelOutput], [LabelInputs] and [LabelClasses].
// Errors wrap serving.ErrCorruptModel (bytes that are not a usable
// GraphDef: undecodable, a cycle, shapes that do not fit, too large),
// serving.ErrUnsupportedModel (an op, type or attribute this package
// does not run, or a placeholder a record cannot feed), or
// serving.ErrInvalidDescriptor (a bad label, or no label where the
// output is ambiguous). Load does not retain d.Bytes.
func (f *format) Load(ctx context.Context, d serving.Descriptor) (serving.Model, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return f.compile(d.Bytes, d.Labels)
}

// model is a compiled frozen graph. It is immutable and safe for
// concurrent use: each call computes in buffers of its own, taken from a
// pool, so that a Predict call allocates nothing for a model with one
// output per record.
type model struct {
	row     *plan // one record per run
	batch   *plan // BatchRows records per run; nil when not batchable
	info    serving.ModelInfo
	classes []string
	softmax bool // the output is a Softmax: Confidence is its largest value

	rowPool   sync.Pool // *scratch for row
	batchPool sync.Pool // *scratch for batch
}

type scratch struct {
	v    []tensor
	rows [][]float64
}

var (
	_ serving.Model          = (*model)(nil)
	_ serving.BatchPredictor = (*model)(nil)
	_ serving.Describer      = (*model)(nil)
)

func (f *format) compile(b []byte, labels map[string]string) (*model, error) {
	g, err := decodeGraph(b, f.o.maxNodes)
	if err != nil {
		return nil, classify(f.name, err)
	}
	out, err := g.output(strings.TrimSpace(labels[LabelOutput]))
	if err != nil {
		return nil, err
	}
	return f.compileGraph(g, out, labels, nil)
}

// compileGraph compiles the part of g that output node out depends on.
// names, when not nil, renames placeholders by node index.
func (f *format) compileGraph(g *graph, out int, labels map[string]string, names map[int]string) (*model, error) {
	order, err := g.order(out)
	if err != nil {
		return nil, classify(f.name, err)
	}
	ps, err := g.placeholders(order, f.o.maxElements)
	if err != nil {
		return nil, classify(f.name, err)
	}
	for i := range ps {
		if n, ok := names[ps[i].node]; ok {
			ps[i].name = n
		}
	}
	row, err := compile(g, order, ps, 1, &f.o)
	if err != nil {
		return nil, classify(f.name, batchHint(err, ps))
	}
	m := &model{row: row, softmax: g.nodes[out].GetOp() == "Softmax"}
	m.info, err = describe(ps, row, labels)
	if err != nil {
		return nil, err
	}
	if s, ok := labels[LabelClasses]; ok {
		m.classes = splitNames(s)
		if len(m.classes) != row.outPerRow || row.outPerRow < 2 {
			return nil, fmt.Errorf("%w: label %s names %d classes, the output has %d elements per record", serving.ErrInvalidDescriptor, LabelClasses, len(m.classes), row.outPerRow)
		}
	}
	m.rowPool.New = func() any { return &scratch{v: row.newSlots(), rows: make([][]float64, 1)} }
	if f.o.batchRows > 1 && batchable(ps) {
		if bp, err := compile(g, order, ps, f.o.batchRows, &f.o); err == nil && m.agrees(bp) {
			m.batch = bp
			m.batchPool.New = func() any { return &scratch{v: bp.newSlots(), rows: make([][]float64, bp.rows)} }
		}
	}
	return m, nil
}

// batchHint adds to a shape error in a graph with batch dimensions that
// this package fixed them to one record: a graph that uses such a
// dimension otherwise (as the rows of a matrix operand, say) is valid
// TensorFlow but cannot be fed record by record, and the message should
// say why.
func batchHint(err error, ps []placeholder) error {
	var u *unsupportedError
	var big *tooLargeError
	if errors.As(err, &u) || errors.As(err, &big) {
		return err
	}
	var names []string
	for _, p := range ps {
		if p.batched {
			names = append(names, strconv.Quote(p.name))
		}
	}
	if names == nil {
		return err
	}
	return fmt.Errorf("%w (with the unknown leading dimension of placeholder %s fixed to 1 record)", err, strings.Join(names, ", "))
}

// batchable reports whether every placeholder has a batch dimension.
func batchable(ps []placeholder) bool {
	for _, p := range ps {
		if !p.batched {
			return false
		}
	}
	return len(ps) > 0
}

// agrees runs the batch plan once on pseudo-random rows and checks that
// it computes exactly what the row plan computes for each row. A graph
// that mixes rows (a reduction over the batch dimension, a reshape that
// folds it away) computes something else for a batch, and is then run
// row by row.
func (m *model) agrees(bp *plan) bool {
	if bp.outPerRow != m.row.outPerRow {
		return false
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rows := make([][]float64, bp.rows)
	for i := range rows {
		rows[i] = make([]float64, m.info.Features)
		for j := range rows[i] {
			rows[i][j] = rng.Float64()*4 - 2
		}
	}
	bv := bp.newSlots()
	bp.run(bv, rows)
	rv := m.row.newSlots()
	for i, r := range rows {
		m.row.run(rv, [][]float64{r})
		for j := range m.row.outPerRow {
			a, b := rv[m.row.out].at(j), bv[bp.out].at(i*bp.outPerRow+j)
			if a != b && !(math.IsNaN(a) && math.IsNaN(b)) {
				return false
			}
		}
	}
	return true
}

// maxNamedInputs bounds the inputs a model names by itself: a record of
// more features is fed by position (a placeholder of 2^23 elements per
// record, in an 82-byte graph, took 2 GiB and 10 s to name).
const maxNamedInputs = 1 << 16

// describe names the model's inputs.
func describe(ps []placeholder, row *plan, labels map[string]string) (serving.ModelInfo, error) {
	info := serving.ModelInfo{Outputs: row.outPerRow}
	var desc []string
	for _, p := range ps {
		info.Features += p.perRow
		d := fmt.Sprintf("%s %s %s", p.name, p.dt, shapeString(p.shape))
		if p.batched {
			d += " (batch dimension -1)"
		}
		desc = append(desc, d)
	}
	info.Input = strings.Join(desc, "; ")
	if s, ok := labels[LabelInputs]; ok {
		names := splitNames(s)
		if len(names) != info.Features {
			return info, fmt.Errorf("%w: label %s names %d inputs, the graph's placeholders take %d", serving.ErrInvalidDescriptor, LabelInputs, len(names), info.Features)
		}
		seen := make(map[string]bool, len(names))
		info.Inputs = make([]serving.Input, len(names))
		for i, n := range names {
			if n == "" || seen[n] {
				return info, fmt.Errorf("%w: label %s: input %d is empty or repeated (%q)", serving.ErrInvalidDescriptor, LabelInputs, i, n)
			}
			seen[n] = true
			info.Inputs[i] = serving.Input{Name: n}
		}
		return info, nil
	}
	if info.Features > maxNamedInputs {
		return info, nil // fed by position
	}
	for _, p := range ps {
		if p.perRow == 1 {
			info.Inputs = append(info.Inputs, serving.Input{Name: p.name})
			continue
		}
		for i := range p.perRow {
			info.Inputs = append(info.Inputs, serving.Input{Name: p.name + ":" + strconv.Itoa(i)})
		}
	}
	return info, nil
}

func splitNames(s string) []string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts
}

// Describe implements serving.Describer. Inputs names every feature; see
// the package documentation for how names are chosen.
func (m *model) Describe() serving.ModelInfo {
	info := m.info
	info.Inputs = append([]serving.Input(nil), m.info.Inputs...)
	return info
}

// Predict implements serving.Model: it feeds features into the graph's
// placeholders and returns the output node's values. A features slice
// of the wrong length is a *serving.FeatureCountError. NaN and ±Inf pass
// through the graph as TensorFlow would compute them.
func (m *model) Predict(ctx context.Context, features []float64) (serving.Prediction, error) {
	if err := ctx.Err(); err != nil {
		return serving.Prediction{}, err
	}
	if len(features) != m.info.Features {
		return serving.Prediction{}, &serving.FeatureCountError{Want: m.info.Features, Got: len(features)}
	}
	s := m.rowPool.Get().(*scratch)
	s.rows[0] = features
	m.row.run(s.v, s.rows)
	s.rows[0] = nil
	var p serving.Prediction
	if m.row.outPerRow == 1 {
		p.Value = s.v[m.row.out].at(0)
	} else {
		vals := make([]float64, m.row.outPerRow)
		m.fill(vals, &s.v[m.row.out], 0)
		p = m.multi(vals)
	}
	m.rowPool.Put(s)
	return p, nil
}

// PredictBatch implements serving.BatchPredictor. Graphs whose
// placeholders all have a batch dimension run BatchRows rows at a time;
// the others, and the rows left over, run one at a time.
func (m *model) PredictBatch(ctx context.Context, rows [][]float64, out []serving.Prediction) error {
	if len(out) != len(rows) {
		return fmt.Errorf("%w: tensorflow: PredictBatch with %d rows and %d outputs", serving.ErrConfig, len(rows), len(out))
	}
	for _, r := range rows {
		if len(r) != m.info.Features {
			return &serving.FeatureCountError{Want: m.info.Features, Got: len(r)}
		}
	}
	per := m.row.outPerRow
	var backing []float64
	if per > 1 {
		backing = make([]float64, per*len(rows))
	}
	i := 0
	if m.batch != nil {
		s := m.batchPool.Get().(*scratch)
		defer func() {
			clear(s.rows) // the pool must not keep the caller's rows alive
			m.batchPool.Put(s)
		}()
		for ; i+m.batch.rows <= len(rows); i += m.batch.rows {
			if err := ctx.Err(); err != nil {
				return err
			}
			copy(s.rows, rows[i:i+m.batch.rows])
			m.batch.run(s.v, s.rows)
			o := &s.v[m.batch.out]
			for r := range m.batch.rows {
				out[i+r] = m.rowPrediction(o, r, backing, i+r)
			}
		}
	}
	if i == len(rows) {
		return nil
	}
	s := m.rowPool.Get().(*scratch)
	defer func() {
		s.rows[0] = nil
		m.rowPool.Put(s)
	}()
	for ; i < len(rows); i++ {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		s.rows[0] = rows[i]
		m.row.run(s.v, s.rows)
		out[i] = m.rowPrediction(&s.v[m.row.out], 0, backing, i)
	}
	return nil
}

// rowPrediction reads row r of an output tensor; a multi-output
// prediction's Values are slot i of backing.
func (m *model) rowPrediction(t *tensor, r int, backing []float64, i int) serving.Prediction {
	per := m.row.outPerRow
	if per == 1 {
		return serving.Prediction{Value: t.at(r)}
	}
	vals := backing[i*per : (i+1)*per : (i+1)*per]
	m.fill(vals, t, r)
	return m.multi(vals)
}

func (m *model) fill(vals []float64, t *tensor, r int) {
	base := r * len(vals)
	for j := range vals {
		vals[j] = t.at(base + j)
	}
}

// multi builds the prediction of a multi-output record: Value is the
// largest output, Label its class.
func (m *model) multi(vals []float64) serving.Prediction {
	best := 0
	for j, v := range vals {
		if v > vals[best] {
			best = j
		}
	}
	p := serving.Prediction{Value: vals[best], Values: vals}
	if m.classes != nil {
		p.Label = m.classes[best]
	} else {
		p.Label = strconv.Itoa(best)
	}
	if m.softmax {
		p.Confidence = vals[best]
	}
	return p
}
