package onnx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	onnxgo "github.com/owulveryck/onnx-go"
	"github.com/owulveryck/onnx-go/backend/x/gorgonnx"
	"gorgonia.org/tensor"

	"github.com/modelstream/modelstream/internal/logs"
	"github.com/modelstream/modelstream/serving"
)

// FormatName is the name under which this package registers the format.
const FormatName = "onnx"

// maxGraphEntries bounds the nodes, initializers, inputs, outputs and
// value_info entries of a graph the pure-Go engine loads: onnx-go and
// gorgonia take time quadratic in them to build and sort a graph.
const maxGraphEntries = 10_000

// Defaults of the pure-Go engine's options, which their docs state.
const (
	defaultInstances         = 1
	defaultMaxTensorElements = 1 << 24 // 16 Mi elements, 64 MiB of float32
)

// Errors of this package, besides the serving sentinels. Use errors.Is.
var (
	// ErrBackend means the engine failed while scoring a model that had
	// passed its load-time dry run: gorgonnx returned an error or
	// panicked, or ONNX Runtime returned an error (then that error
	// is wrapped too). The feature vector is the likely cause (a NaN
	// reaching an op that checks for it, for example); the model stays
	// usable.
	ErrBackend = errors.New("onnx: backend failure")
	// errClosed answers a call after Close: the module's one sentinel for
	// that meaning, serving.ErrClosed, with this package's words.
	errClosed = fmt.Errorf("onnx: model closed: %w", serving.ErrClosed)
)

// Option configures an engine (see [PureGo], [Runtime] and
// [RuntimeOrPureGo]). [Instances], [MaxTensorElements] and [Logger] apply to both
// engines; [LibraryPath], [IntraOpThreads], [InterOpThreads] and
// [MaxMemory] only to ONNX Runtime, and [PureGo] refuses them.
type Option func(*options)

type options struct {
	instances   int
	maxElements int64
	log         *slog.Logger
	// Options of ONNX Runtime alone.
	library     string
	intra       int
	inter       int
	maxMemory   int64
	runtimeOnly []string // the names of the ONNX Runtime options given
}

// Instances sets how many copies of a model are kept to serve calls at
// the same time. On [PureGo] they are gorgonnx backend instances, created
// on demand (the first when the model loads): Instances(n) lets n Predict
// calls on one model run at once, and the others wait their turn. On
// [Runtime] they are ONNX Runtime sessions, created when the model loads,
// and calls are spread over them in turn; one session already serves
// concurrent calls (ONNX Runtime's Run is safe for concurrent use), but
// calls whose runs take a few microseconds contend on it, and a pool of
// two served them faster on 2 cores (see the package documentation). Each
// copy holds its own copy of the weights (and, on ONNX Runtime, of the
// optimized graph). Overrides the default of 1. n must be at least 1.
func Instances(n int) Option { return func(o *options) { o.instances = n } }

// MaxTensorElements bounds tensor sizes. On [PureGo] it bounds the
// number of elements of the tensor shapes the model declares (inputs,
// outputs, intermediate values), each and in total: onnx-go allocates
// each declared shape up front, so a hostile or corrupt model could
// otherwise ask for terabytes. On [Runtime] it bounds the elements of
// every input a record fills, and so the feature vector, of every
// declared output, and of every tensor whose size the model's constants
// set (the package documentation lists which). Overrides the default of 16 Mi elements (64 MiB of
// float32). n must be at least 1.
func MaxTensorElements(n int64) Option { return func(o *options) { o.maxElements = n } }

// Logger sets the logger [UseEngine] and [Open] report the engine
// chosen through, and why [RuntimeOrPureGo] fell back; it is used as
// given, at every level. The default is slog.Default(), as it is when the
// engine starts, at level Warn and above: the fall-back shows, the choice
// of engine (at Info) does not.
func Logger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// newOptions applies opts over the defaults and checks the options
// common to both engines.
func newOptions(opts []Option) (options, error) {
	o := options{instances: defaultInstances, maxElements: defaultMaxTensorElements, intra: defaultIntraOpThreads, inter: defaultInterOpThreads}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = logs.Default()
	}
	if o.instances < 1 {
		return o, fmt.Errorf("%w: onnx: Instances(%d): must be at least 1", serving.ErrConfig, o.instances)
	}
	if o.maxElements < 1 {
		return o, fmt.Errorf("%w: onnx: MaxTensorElements(%d): must be at least 1", serving.ErrConfig, o.maxElements)
	}
	return o, nil
}

// goFormat is the ONNX model format on the pure-Go engine. It is
// immutable and safe for concurrent use. Users reach it through
// Open(PureGo(...)) or UseEngine(PureGo(...)).
type goFormat struct {
	o options
}

var _ serving.Format = (*goFormat)(nil)

// newGoFormat returns a goFormat with the given options applied over the
// defaults, or an error wrapping serving.ErrConfig that names the first
// invalid option, or an option of ONNX Runtime alone.
func newGoFormat(opts ...Option) (*goFormat, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	if len(o.runtimeOnly) > 0 {
		return nil, fmt.Errorf("%w: onnx: %s is an option of the Runtime engine, not of PureGo", serving.ErrConfig, o.runtimeOnly[0])
	}
	return &goFormat{o: o}, nil
}

// Load implements serving.Format: it parses d.Bytes with f.parse.
func (f *goFormat) Load(ctx context.Context, d serving.Descriptor) (serving.Model, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return f.load(ctx, d.Bytes)
}

// parse decodes an ONNX model (the protobuf bytes of a ModelProto), checks
// its inputs, builds the gorgonnx graph and runs it once on zeros, so that
// a model the backend cannot run is refused here rather than at the first
// Predict. Errors wrap serving.ErrCorruptModel (bytes that do not decode
// into a usable graph) or serving.ErrUnsupportedModel (a valid model this
// backend cannot run, such as an unimplemented op or an int64 input).
// It copies b; the caller may reuse it.
func (f *goFormat) parse(b []byte) (*goModel, error) {
	gi, err := parseModel(b)
	if err != nil {
		return nil, err
	}
	m, err := f.plan(gi)
	if err != nil {
		return nil, err
	}
	m.src = append([]byte(nil), b...)
	inst, err := m.newInstance()
	if err != nil {
		return nil, err
	}
	// The dry run fixed the output shape.
	m.outShape = inst.outShape
	m.outType = inst.outType
	m.outLen = tensorLen(inst.outShape)
	if m.outLen == 0 {
		return nil, serving.Unsupported(FormatName, fmt.Errorf("output %q is empty (shape %v)", m.outName, inst.outShape))
	}
	m.idle = append(m.idle, inst)
	return m, nil
}

// parsePureGo loads an ONNX model on the pure-Go engine, with opts
// applied over the defaults, as Open(PureGo(opts...)) does: it decodes the model (the protobuf bytes of a ModelProto), checks its
// inputs, builds the gorgonnx graph and runs it once on zeros, so that a
// model the backend cannot run is refused here rather than at the first
// Predict. Errors wrap serving.ErrCorruptModel (bytes that do not decode
// into a usable graph), serving.ErrUnsupportedModel (a valid model this
// backend cannot run, such as an unimplemented op or an int64 input) or
// serving.ErrConfig (an invalid option). It copies b; the caller may
// reuse it. The tests use it to inspect a model (goModel.Inputs,
// goModel.Output).
func parsePureGo(b []byte, opts ...Option) (*goModel, error) {
	f, err := newGoFormat(opts...)
	if err != nil {
		return nil, err
	}
	return f.parse(b)
}

// plan checks the wire-level description of a model and works out how to
// feed it.
func (f *goFormat) plan(gi *graphInfo) (*goModel, error) {
	corrupt := func(format string, args ...any) (*goModel, error) {
		return nil, serving.Corrupt(FormatName, fmt.Errorf(format, args...))
	}
	unsupported := func(format string, args ...any) (*goModel, error) {
		return nil, serving.Unsupported(FormatName, fmt.Errorf(format, args...))
	}
	switch {
	case !gi.hasGraph:
		return corrupt("no graph in the model")
	case len(gi.ops) == 0:
		return corrupt("the graph has no nodes")
	case len(gi.outputs) == 0:
		return corrupt("the graph declares no outputs")
	}
	for _, op := range gi.ops {
		if strings.Contains(op, ":") {
			return unsupported("op %s is from a custom domain", op)
		}
	}
	// Building and sorting the graph takes time quadratic in its size in
	// onnx-go and gorgonia (40,000 initializers took 20 s).
	if n := len(gi.ops) + len(gi.initializers) + len(gi.inputs) + len(gi.outputs) + len(gi.valueInfos); n > maxGraphEntries {
		return unsupported("the graph has %d nodes, initializers, inputs, outputs and value_info entries, more than the %d the pure-Go engine builds (ONNX Runtime has no such limit)", n, maxGraphEntries)
	}
	// Every declared shape becomes an allocation in onnx-go: bound them,
	// each and together (one bound per shape let a 300-byte model with
	// eight outputs of 16 Mi float64 elements take 1 GiB).
	var total int64
	for _, group := range [][]valueInfo{gi.inputs, gi.outputs, gi.valueInfos} {
		for _, vi := range group {
			n := int64(1)
			for _, d := range vi.dims {
				if d.value < 0 {
					return corrupt("value %q declares a negative dimension %d", vi.name, d.value)
				}
				if d.value > f.o.maxElements {
					n = f.o.maxElements + 1
					break
				}
				if d.param == "" && d.known {
					n *= d.value
				}
				if n > f.o.maxElements {
					break
				}
			}
			if n > f.o.maxElements {
				return unsupported("value %q declares shape %s, more than %d elements", vi.name, dimString(vi.dims), f.o.maxElements)
			}
			if total += n; total > f.o.maxElements {
				return unsupported("the graph's inputs, outputs and value_info declare more than %d elements in all (at %q)", f.o.maxElements, vi.name)
			}
		}
	}
	m := &goModel{
		outName:   gi.outputs[0].name,
		sem:       make(chan struct{}, f.o.instances),
		opset:     gi.opset,
		softmaxes: gi.softmaxes,
	}
	if gi.consumed[m.outName] {
		return unsupported("output %q is also an input of another node; gorgonnx reads only outputs that end the graph", m.outName)
	}
	var desc []string
	for _, vi := range gi.inputs {
		if gi.initializers[vi.name] {
			continue // an initializer listed as an input (IR version < 4)
		}
		if !vi.hasType {
			return unsupported("input %q is not a tensor", vi.name)
		}
		if vi.elem != elemFloat && vi.elem != elemDouble {
			return unsupported("input %q is %s; this format feeds float32 and float64 inputs only", vi.name, elemName(vi.elem))
		}
		if !vi.hasShape {
			return unsupported("input %q declares no shape", vi.name)
		}
		spec := tensorSpec{Name: vi.name, Type: elemName(vi.elem), Shape: make([]int, len(vi.dims))}
		var symbolic []string
		for i, d := range vi.dims {
			switch {
			case !d.known:
				spec.Shape[i] = 1
				symbolic = append(symbolic, "?")
			case d.param != "":
				spec.Shape[i] = 1
				symbolic = append(symbolic, d.param)
			case d.value == 0:
				return unsupported("input %q has a zero dimension in %s", vi.name, dimString(vi.dims))
			default:
				spec.Shape[i] = int(d.value)
			}
		}
		m.inputs = append(m.inputs, spec)
		m.features += tensorLen(spec.Shape)
		s := fmt.Sprintf("%s tensor %v", spec.Type, spec.Shape)
		if len(symbolic) > 0 {
			s += fmt.Sprintf(" (symbolic %s fixed to 1)", strings.Join(symbolic, ", "))
		}
		desc = append(desc, s)
	}
	switch len(desc) {
	case 0:
		m.inputDesc = "no inputs"
	case 1:
		m.inputDesc = desc[0]
	default:
		for i := range desc {
			desc[i] = fmt.Sprintf("%q %s", m.inputs[i].Name, desc[i])
		}
		m.inputDesc = strings.Join(desc, ", then ")
	}
	return m, nil
}

// tensorSpec describes one input or output tensor of a loaded model.
type tensorSpec struct {
	// Name is the tensor's name in the graph.
	Name string
	// Type is the element type, such as "float32".
	Type string
	// Shape is the shape fed or read, with symbolic dimensions fixed to 1.
	Shape []int
}

// goModel is an ONNX model loaded on the pure-Go engine.
//
// It is safe for concurrent use. A gorgonnx graph holds its inputs and
// outputs as state, so one backend instance serves one call at a time:
// a goModel keeps up to n instances (see [Instances], default 1) and a call
// waits for a free one, or until its context is done. With the default,
// concurrent calls are serialised.
type goModel struct {
	inputs    []tensorSpec
	features  int
	inputDesc string
	outName   string
	outShape  []int
	outType   string
	outLen    int
	src       []byte // the model bytes, to build more instances
	opset     int64
	softmaxes []softmaxNode

	sem    chan struct{} // one token per instance that may be busy
	mu     sync.Mutex    // guards idle and closed
	idle   []*instance
	closed bool
}

var (
	_ serving.Model     = (*goModel)(nil)
	_ serving.Describer = (*goModel)(nil)
	_ serving.Closer    = (*goModel)(nil)
)

// Describe implements serving.Describer. Features is the total number of
// elements of all inputs, Outputs the number of elements of the first
// output, and Input spells out the shape, such as "float32 tensor [1 4]".
// Inputs names the graph inputs: see the package documentation.
func (m *goModel) Describe() serving.ModelInfo {
	ins := make([]rtInput, len(m.inputs))
	for i, s := range m.inputs {
		ins[i] = rtInput{name: s.Name, perRow: tensorLen(s.Shape)}
	}
	nameInputs(ins)
	p := rtPlan{inputs: ins}
	return serving.ModelInfo{Features: m.features, Inputs: p.servingInputs(), Outputs: m.outLen, Input: m.inputDesc}
}

// Inputs returns the tensors a feature vector fills, in order.
func (m *goModel) Inputs() []tensorSpec {
	out := make([]tensorSpec, len(m.inputs))
	for i, s := range m.inputs {
		s.Shape = append([]int(nil), s.Shape...)
		out[i] = s
	}
	return out
}

// Output returns the first graph output, the one Predict reads, with the
// element type and shape it had on the load-time dry run. Predict converts
// its elements to float64.
func (m *goModel) Output() tensorSpec {
	return tensorSpec{Name: m.outName, Type: m.outType, Shape: append([]int(nil), m.outShape...)}
}

// Predict implements serving.Model. features fills the inputs in order,
// each row-major, converted to the input's element type. The first graph
// output becomes the Prediction: see the package documentation.
//
// Predict waits for a free backend instance; if ctx is done first it
// returns ctx.Err(). A running graph cannot be interrupted.
func (m *goModel) Predict(ctx context.Context, features []float64) (serving.Prediction, error) {
	if len(features) != m.features {
		return serving.Prediction{}, &serving.FeatureCountError{Want: m.features, Got: len(features)}
	}
	if err := ctx.Err(); err != nil {
		return serving.Prediction{}, err
	}
	inst, err := m.acquire(ctx)
	if err != nil {
		return serving.Prediction{}, err
	}
	var p serving.Prediction
	err = inst.run(features)
	if err == nil {
		p = m.prediction(inst)
	}
	m.release(inst, err == nil)
	if err != nil {
		return serving.Prediction{}, fmt.Errorf("%w: %w", ErrBackend, err)
	}
	return p, nil
}

// prediction reads the first output of inst into a Prediction.
func (m *goModel) prediction(inst *instance) serving.Prediction {
	if m.outLen == 1 {
		var v float64
		readInto(inst.out, func(_ int, x float64) { v = x })
		return serving.Prediction{Value: v}
	}
	vals := make([]float64, m.outLen)
	readInto(inst.out, func(i int, x float64) {
		if i < len(vals) {
			vals[i] = x
		}
	})
	best := 0
	for i, v := range vals {
		if v > vals[best] {
			best = i
		}
	}
	return serving.Prediction{Value: vals[best], Values: vals, Label: strconv.Itoa(best)}
}

// Close releases the backend instances. Calls in flight finish; later
// calls fail with an error wrapping serving.ErrClosed. Close is idempotent.
func (m *goModel) Close() error {
	m.mu.Lock()
	m.closed = true
	m.idle = nil
	m.mu.Unlock()
	return nil
}

// acquire takes an idle instance, or builds one if fewer than the limit
// exist.
func (m *goModel) acquire(ctx context.Context) (*instance, error) {
	select {
	case m.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		<-m.sem
		return nil, errClosed
	}
	if n := len(m.idle); n > 0 {
		inst := m.idle[n-1]
		m.idle = m.idle[:n-1]
		m.mu.Unlock()
		return inst, nil
	}
	m.mu.Unlock()
	inst, err := m.newInstance()
	if err != nil {
		<-m.sem
		return nil, fmt.Errorf("%w: building another instance: %v", ErrBackend, err)
	}
	return inst, nil
}

// release returns inst to the pool; a failed instance is dropped, since a
// panic may have left it half-run, and a fresh one is built when needed.
func (m *goModel) release(inst *instance, ok bool) {
	m.mu.Lock()
	if ok && !m.closed {
		m.idle = append(m.idle, inst)
	}
	m.mu.Unlock()
	<-m.sem
}

// buildMu serialises graph construction: gorgonnx names the nodes of every
// graph from one unguarded package counter.
var buildMu sync.Mutex

// instance is one gorgonnx graph with its input tensors bound.
type instance struct {
	g        *gorgonnx.Graph
	names    []string // input names, for errors
	in       []binding
	out      onnxgo.DataCarrier
	outShape []int
	outType  string
}

// binding feeds one graph input from a slice of the feature vector.
type binding struct {
	node onnxgo.DataCarrier
	t    *tensor.Dense
	f32  []float32 // backing of t, for float32 inputs
	f64  []float64 // backing of t, for float64 inputs
}

// newInstance decodes m.src into a fresh graph and runs it on zeros.
// Errors are typed for Load.
func (m *goModel) newInstance() (inst *instance, err error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	decoded := false
	defer func() {
		if r := recover(); r != nil {
			// A panic while decoding means content onnx-go could not make
			// sense of; once decoded, it is the backend that gave up.
			err = fmt.Errorf("onnx-go panicked while decoding: %v", firstLine(r))
			if decoded {
				err = serving.Unsupported(FormatName, fmt.Errorf("gorgonnx panicked while building the graph: %v", firstLine(r)))
			} else {
				err = serving.Corrupt(FormatName, err)
			}
			inst = nil
		}
	}()
	g := gorgonnx.NewGraph()
	om := onnxgo.NewModel(g)
	if err := om.UnmarshalBinary(m.src); err != nil {
		return nil, classifyDecode(err)
	}
	decoded = true
	if len(om.Input) != len(m.inputs) {
		return nil, serving.Unsupported(FormatName, fmt.Errorf("onnx-go sees %d inputs, the graph declares %d", len(om.Input), len(m.inputs)))
	}
	inst = &instance{g: g, in: make([]binding, len(m.inputs)), names: make([]string, len(m.inputs))}
	for i, spec := range m.inputs {
		n, ok := g.Node(om.Input[i]).(*gorgonnx.Node)
		if !ok || n.GetName() != spec.Name {
			return nil, serving.Unsupported(FormatName, fmt.Errorf("onnx-go input %d is not %q", i, spec.Name))
		}
		inst.names[i] = spec.Name
		b := binding{node: n}
		if spec.Type == "float64" {
			b.f64 = make([]float64, tensorLen(spec.Shape))
			b.t = tensor.New(tensor.WithShape(spec.Shape...), tensor.WithBacking(b.f64))
		} else {
			b.f32 = make([]float32, tensorLen(spec.Shape))
			b.t = tensor.New(tensor.WithShape(spec.Shape...), tensor.WithBacking(b.f32))
		}
		inst.in[i] = b
	}
	if len(om.Output) == 0 {
		return nil, serving.Corrupt(FormatName, errors.New("onnx-go found no outputs"))
	}
	out, ok := g.Node(om.Output[0]).(onnxgo.DataCarrier)
	if !ok {
		return nil, serving.Corrupt(FormatName, errors.New("the first output is not a tensor"))
	}
	inst.out = out
	// Building the expression graph is where gorgonnx meets each op. The
	// inputs must hold their tensors first: their shapes flow from there.
	for i := range inst.in {
		if err := inst.in[i].node.SetTensor(inst.in[i].t); err != nil {
			return nil, serving.Unsupported(FormatName, fmt.Errorf("input %q: %w", inst.names[i], err))
		}
	}
	if err := g.PopulateExprgraph(); err != nil {
		var ni *onnxgo.ErrNotImplemented
		if errors.As(err, &ni) {
			return nil, serving.Unsupported(FormatName, ni)
		}
		return nil, serving.Unsupported(FormatName, fmt.Errorf("building the graph: %w", err))
	}
	if err := checkSoftmax(om, m.opset, m.softmaxes); err != nil {
		return nil, serving.Unsupported(FormatName, err)
	}
	eg, err := g.GetExprGraph()
	if err != nil {
		return nil, serving.Unsupported(FormatName, fmt.Errorf("building the graph: %w", err))
	}
	vm, err := newSyncVM(eg)
	if err != nil {
		return nil, serving.Unsupported(FormatName, fmt.Errorf("ordering the graph: %w", err))
	}
	g.SetVM(vm)
	// The dry run executes every op once.
	if err := inst.run(make([]float64, m.features)); err != nil {
		return nil, serving.Unsupported(FormatName, fmt.Errorf("dry run on zeros: %w", err))
	}
	t := out.GetTensor()
	if t == nil {
		return nil, serving.Unsupported(FormatName, errors.New("dry run produced no output"))
	}
	if err := checkReadable(t); err != nil {
		return nil, serving.Unsupported(FormatName, err)
	}
	inst.outShape = append([]int{}, t.Shape()...)
	inst.outType = t.Dtype().String()
	return inst, nil
}

// run feeds features to the inputs and runs the graph. A panic inside
// gorgonia becomes an error.
func (inst *instance) run(features []float64) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("gorgonia panicked: %v", firstLine(r))
		}
	}()
	off := 0
	for i := range inst.in {
		b := &inst.in[i]
		if b.f32 != nil {
			for j := range b.f32 {
				b.f32[j] = float32(features[off+j])
			}
			off += len(b.f32)
		} else {
			off += copy(b.f64, features[off:off+len(b.f64)])
		}
		if err := b.node.SetTensor(b.t); err != nil {
			return fmt.Errorf("setting input %q: %w", inst.names[i], err)
		}
	}
	return inst.g.Run()
}

// classifyDecode types an error from onnx-go's UnmarshalBinary. The wire
// format was already checked, so what remains is either an op or type
// onnx-go does not implement, or content that makes no sense.
func classifyDecode(err error) error {
	var ni *onnxgo.ErrNotImplemented
	if errors.As(err, &ni) {
		return serving.Unsupported(FormatName, err)
	}
	if strings.Contains(err.Error(), "Not Yet Implemented") || strings.Contains(err.Error(), "Unknown input type") {
		// onnx-go's internal ir.ErrNotYetImplemented, which callers
		// cannot name: float16 and other element types.
		return serving.Unsupported(FormatName, err)
	}
	return serving.Corrupt(FormatName, err)
}

// checkReadable reports whether readInto can convert t.
func checkReadable(t tensor.Tensor) error {
	switch t.Data().(type) {
	case []float32, []float64, []int64, []int32, []int, []bool, float32, float64, int64, int32, int, bool:
		return nil
	}
	return fmt.Errorf("first output has element type %v, which this format cannot convert to float64", t.Dtype())
}

// readInto calls fn with each element of t in row-major order.
func readInto(c onnxgo.DataCarrier, fn func(i int, v float64)) {
	t := c.GetTensor()
	if t == nil {
		return
	}
	switch d := t.Data().(type) {
	case []float32:
		for i, v := range d {
			fn(i, float64(v))
		}
	case []float64:
		for i, v := range d {
			fn(i, v)
		}
	case []int64:
		for i, v := range d {
			fn(i, float64(v))
		}
	case []int32:
		for i, v := range d {
			fn(i, float64(v))
		}
	case []int:
		for i, v := range d {
			fn(i, float64(v))
		}
	case []bool:
		for i, v := range d {
			fn(i, b2f(v))
		}
	case float32:
		fn(0, float64(d))
	case float64:
		fn(0, d)
	case int64:
		fn(0, float64(d))
	case int32:
		fn(0, float64(d))
	case int:
		fn(0, float64(d))
	case bool:
		fn(0, b2f(d))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func tensorLen(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func dimString(dims []dim) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		switch {
		case d.param != "":
			parts[i] = d.param
		case !d.known:
			parts[i] = "?"
		default:
			parts[i] = fmt.Sprint(d.value)
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// firstLine keeps a panic value short: gorgonia panics with errors that
// carry multi-line stack dumps.
func firstLine(r any) string {
	s := fmt.Sprint(r)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
