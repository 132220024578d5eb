package tensorflow

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/formats/tensorflow/internal/tfpb"
)

// SavedModelFormatName is the name under which this package registers
// the SavedModel format: a SavedModel directory sent as a tar archive.
const SavedModelFormatName = "tensorflow-savedmodel"

// LabelSignature names the signature of a SavedModel that Load serves.
// Without it, Load serves "serving_default". For a SavedModel,
// [LabelOutput] names one of the signature's outputs by its key (needed
// only when the signature has several), and [LabelInputs] and
// [LabelClasses] work as for a frozen graph.
const LabelSignature = "tensorflow.signature"

// MaxArchiveBytes bounds the uncompressed size of a SavedModel archive,
// and so of each of its files, and the bytes of the node names and
// inputs that inlining the graph's function calls creates. An archive
// over the bound is refused at load with an error wrapping
// serving.ErrCorruptModel and serving.ErrTooLarge, after reading at most
// n+1 uncompressed bytes.
// Overrides the default of 256 MiB. n must be at least 1. The frozen
// GraphDef format ignores it.
func MaxArchiveBytes(n int64) Option { return func(o *options) { o.maxArchive = n } }

func init() {
	f, err := NewSavedModel()
	if err != nil {
		panic(err) // the defaults are valid; this cannot happen
	}
	serving.Register(SavedModelFormatName, f)
}

// savedModelFormat is the SavedModel format. It is immutable and safe for
// concurrent use.
type savedModelFormat struct {
	f format
}

// NewSavedModel returns the TensorFlow SavedModel format with the given
// options applied over the defaults, or an error wrapping
// serving.ErrConfig naming the first invalid option. Every option of
// [New] applies to the graph a signature computes; [MaxArchiveBytes]
// bounds the archive. The package registers one with the default
// options under [SavedModelFormatName].
func NewSavedModel(opts ...Option) (serving.Format, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	return &savedModelFormat{f: format{o: o, name: SavedModelFormatName}}, nil
}

// Load implements serving.Format: d.Bytes is a tar archive (gzip
// compressed or not) of a SavedModel directory. Load serves the
// signature named by [LabelSignature] of the MetaGraphDef tagged
// "serve" (or of the only MetaGraphDef): it feeds the signature's inputs
// in the order of their keys, substitutes each variable the outputs
// read by its value in the checkpoint, and compiles what the output
// depends on as a frozen graph. Errors wrap serving.ErrCorruptModel (a
// hostile or damaged archive, checkpoint or graph; a missing variable),
// serving.ErrUnsupportedModel (an op, type or signature this package
// does not run) or serving.ErrInvalidDescriptor (a label naming no
// signature or output). Load does not retain d.Bytes.
func (s *savedModelFormat) Load(ctx context.Context, d serving.Descriptor) (serving.Model, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	files, err := readArchive(d.Bytes, s.f.o.maxArchive)
	if err != nil {
		return nil, archiveError(err)
	}
	return s.f.compileSavedModel(files, d.Labels)
}

// callOps are the ops that call a function of the graph's library; Load
// inlines them.
var callOps = map[string]bool{"PartitionedCall": true, "StatefulPartitionedCall": true}

func (f *format) compileSavedModel(files *savedModelFiles, labels map[string]string) (*model, error) {
	var sm tfpb.SavedModel
	if err := (proto.UnmarshalOptions{RecursionLimit: 100}).Unmarshal(files.savedModel, &sm); err != nil {
		return nil, serving.Corrupt(f.name, fmt.Errorf("saved_model.pb is not a SavedModel: %w", err))
	}
	mg, err := serveGraph(sm.GetMetaGraphs())
	if err != nil {
		return nil, err
	}
	sigName := strings.TrimSpace(labels[LabelSignature])
	if sigName == "" {
		sigName = "serving_default"
	}
	sig, ok := mg.GetSignatureDef()[sigName]
	if !ok {
		return nil, fmt.Errorf("%w: the SavedModel has no signature %q (it has %s)", serving.ErrInvalidDescriptor, sigName, keyList(mg.GetSignatureDef()))
	}
	outKey := strings.TrimSpace(labels[LabelOutput])
	if outKey == "" {
		if len(sig.GetOutputs()) != 1 {
			return nil, fmt.Errorf("%w: signature %q has %d outputs (%s): name one with label %s", serving.ErrInvalidDescriptor, sigName, len(sig.GetOutputs()), keyList(sig.GetOutputs()), LabelOutput)
		}
		for k := range sig.GetOutputs() {
			outKey = k
		}
	}
	outInfo, ok := sig.GetOutputs()[outKey]
	if !ok {
		return nil, fmt.Errorf("%w: signature %q has no output %q (it has %s)", serving.ErrInvalidDescriptor, sigName, outKey, keyList(sig.GetOutputs()))
	}
	if len(sig.GetInputs()) == 0 {
		return nil, serving.Unsupported(f.name, fmt.Errorf("signature %q has no inputs", sigName))
	}

	// Inline the calls that the signature and the restore op (which
	// says under which key each variable is saved) depend on.
	var roots []string
	if r := mg.GetSaverDef().GetRestoreOpName(); r != "" {
		roots = append(roots, r)
		for _, ti := range sig.GetOutputs() {
			roots = append(roots, ti.GetName())
		}
		for _, ti := range sig.GetInputs() {
			roots = append(roots, ti.GetName())
		}
	}
	fl, err := flatten(mg.GetGraphDef(), mg.GetMetaInfoDef().GetStrippedOpList().GetOp(), roots, f.o.maxNodes, f.o.maxArchive)
	if err != nil {
		return nil, classify(f.name, err)
	}
	inKeys := make([]string, 0, len(sig.GetInputs()))
	for k := range sig.GetInputs() {
		inKeys = append(inKeys, k)
	}
	slices.Sort(inKeys)
	// Each input is fed where the signature says: the tensor it names,
	// whatever computes it in the graph, becomes a placeholder. The
	// readers are redirected in one pass over the graph (one pass per
	// input took minutes for a few thousand inputs); of two inputs naming
	// one tensor, the first in key order is fed.
	names := map[int]string{}
	feeds := map[string]string{}
	for _, k := range inKeys {
		ti := sig.GetInputs()[k]
		ref, err := fl.tensor(ti, "input", k)
		if err != nil {
			return nil, classify(f.name, err)
		}
		attr := map[string]*tfpb.AttrValue{
			"dtype": {Value: &tfpb.AttrValue_Type{Type: ti.GetDtype()}},
		}
		if ti.GetTensorShape() != nil {
			attr["shape"] = &tfpb.AttrValue{Value: &tfpb.AttrValue_Shape{Shape: ti.GetTensorShape()}}
		} else if sh := fl.placeholderShape(ref); sh != nil {
			// A signature that declares no shape feeds a placeholder
			// that does.
			attr["shape"] = sh
		}
		feed := fl.add(&tfpb.NodeDef{Name: fl.fresh("feed/" + k), Op: "Placeholder", Attr: attr})
		if _, dup := feeds[ref]; !dup {
			feeds[ref] = fl.nodes[feed].GetName()
		}
		names[feed] = k
	}
	fl.replace(feeds)
	ref, err := fl.tensor(outInfo, "output", outKey)
	if err != nil {
		return nil, classify(f.name, err)
	}
	if feed, ok := feeds[ref]; ok {
		ref = feed // the output is an input: serve what is fed
	}
	out := fl.add(&tfpb.NodeDef{Name: fl.fresh("output/" + outKey), Op: "Identity", Input: []string{ref}})

	nodes, renamed, err := fl.freeze(out, names, files, &f.o)
	if err != nil {
		return nil, classify(f.name, err)
	}
	g, err := newGraph(nodes, f.o.maxNodes)
	if err != nil {
		return nil, classify(f.name, err)
	}
	return f.compileGraph(g, len(nodes)-1, labels, renamed)
}

// serveGraph picks the MetaGraphDef tagged "serve", or the only one.
func serveGraph(mgs []*tfpb.MetaGraphDef) (*tfpb.MetaGraphDef, error) {
	if len(mgs) == 0 {
		return nil, serving.Corrupt(SavedModelFormatName, errors.New("the SavedModel has no MetaGraphDef"))
	}
	if len(mgs) == 1 {
		return mgs[0], nil
	}
	for _, mg := range mgs {
		if slices.Contains(mg.GetMetaInfoDef().GetTags(), "serve") {
			return mg, nil
		}
	}
	return nil, serving.Unsupported(SavedModelFormatName, fmt.Errorf("the SavedModel has %d MetaGraphDefs and none is tagged \"serve\"", len(mgs)))
}

func keyList[V any](m map[string]V) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, strconv.Quote(k))
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		return "none"
	}
	return strings.Join(keys, ", ")
}

// flat is a graph with every function call inlined: each node input is
// "name", "name:port" or "^name", as in a GraphDef.
type flat struct {
	nodes []*tfpb.NodeDef
	index map[string]int
	// alias maps a call node's output "call:k" to the tensor of the
	// inlined function that returns it.
	alias map[string]string
}

func (fl *flat) add(n *tfpb.NodeDef) int {
	fl.index[n.GetName()] = len(fl.nodes)
	fl.nodes = append(fl.nodes, n)
	return len(fl.nodes) - 1
}

// fresh returns name, or name with a suffix, that no node has.
func (fl *flat) fresh(name string) string {
	if _, taken := fl.index[name]; !taken {
		return name
	}
	for i := 1; ; i++ {
		s := name + "_" + strconv.Itoa(i)
		if _, taken := fl.index[s]; !taken {
			return s
		}
	}
}

// canon returns the tensor input s denotes as "name:port", following the
// outputs of inlined calls. Every call output on the way is then aliased
// to the end of the chain directly, so that a chain is walked once
// however many nodes read it (a chain of n calls of an identity function
// read by n nodes took n² steps: 53 s for n = 16,000).
func (fl *flat) canon(s string) string {
	name, port, _ := splitInput(s)
	ref := name + ":" + strconv.Itoa(port)
	var path []string
	end := false
	for range len(fl.alias) + 1 {
		a, ok := fl.alias[ref]
		if !ok {
			end = true
			break
		}
		path = append(path, ref)
		name, port, _ = splitInput(a)
		ref = name + ":" + strconv.Itoa(port)
	}
	if !end {
		// A call that returns its own output, through others or not: the
		// graph will be refused for reading a tensor no node computes.
		ref = noTensor
	}
	for _, p := range path {
		fl.alias[p] = ref
	}
	return ref
}

// noTensor is what canon returns for the output of calls that return
// one another's outputs in a cycle: a name no node has.
const noTensor = "(a cycle of function calls):0"

// tensor resolves the tensor a signature input or output names.
func (fl *flat) tensor(ti *tfpb.TensorInfo, what, key string) (string, error) {
	if ti.GetName() == "" {
		return "", unsupported("signature %s %q is not a dense tensor (sparse and composite tensors are not supported)", what, key)
	}
	name, _, control := splitInput(ti.GetName())
	if _, ok := fl.index[name]; !ok || control {
		return "", fmt.Errorf("signature %s %q names tensor %q, which no node of the graph computes", what, key, ti.GetName())
	}
	return fl.canon(ti.GetName()), nil
}

// placeholderShape returns the shape attribute of the placeholder whose
// output is tensor ref, or nil.
func (fl *flat) placeholderShape(ref string) *tfpb.AttrValue {
	name, port, _ := splitInput(ref)
	n := fl.nodes[fl.index[name]]
	if port != 0 || (n.GetOp() != "Placeholder" && n.GetOp() != "PlaceholderWithDefault") {
		return nil
	}
	return n.GetAttr()["shape"]
}

// replace makes every node that reads a tensor ref of feeds read node
// feeds[ref] instead.
func (fl *flat) replace(feeds map[string]string) {
	for _, n := range fl.nodes {
		for i, s := range n.GetInput() {
			if strings.HasPrefix(s, "^") {
				continue
			}
			if name, ok := feeds[fl.canon(s)]; ok {
				n.Input[i] = name
			}
		}
	}
}

// maxCallDepth bounds the nesting of inlined function calls, which also
// stops a function that calls itself.
const maxCallDepth = 32

// flatten copies the nodes of gd and inlines, recursively, each call of
// a library function that roots depend on (through data or control
// inputs) into nodes named "call/node"; a nil roots inlines every call.
// At most maxNodes nodes result, and the names and inputs of the
// inlined nodes hold at most maxBytes bytes: an inlined node is named
// after the call that inlines it, so names grow with the nesting of
// calls. opDefs (the MetaGraphDef's stripped op list) name the output
// arguments of the ops in function bodies.
func flatten(gd *tfpb.GraphDef, opDefs []*tfpb.OpDef, roots []string, maxNodes int, maxBytes int64) (*flat, error) {
	lib := map[string]*tfpb.FunctionDef{}
	for _, fn := range gd.GetLibrary().GetFunction() {
		lib[fn.GetSignature().GetName()] = fn
	}
	ops := make(map[string]*tfpb.OpDef, len(opDefs))
	for _, od := range opDefs {
		ops[od.GetName()] = od
	}
	fl := &flat{index: map[string]int{}, alias: map[string]string{}}
	if len(gd.GetNode()) > maxNodes {
		return nil, fmt.Errorf("GraphDef has %d nodes, more than the limit of %d (MaxNodes)", len(gd.GetNode()), maxNodes)
	}
	var queue []int
	for i, n := range gd.GetNode() {
		if n.GetName() == "" {
			return nil, errors.New("a node has no name")
		}
		if _, dup := fl.index[n.GetName()]; dup {
			return nil, fmt.Errorf("two nodes are named %q", n.GetName())
		}
		fl.add(proto.CloneOf(n))
		if roots == nil {
			queue = append(queue, i)
		}
	}
	for _, r := range roots {
		name, _, _ := splitInput(r)
		if i, ok := fl.index[name]; ok {
			queue = append(queue, i)
		}
	}
	// Walk back from the roots; a call met on the way is inlined and its
	// body walked in turn. depth counts the calls a node is nested in.
	seen := map[int]bool{}
	depth := map[int]int{}
	var inlined int64 // bytes of the inlined nodes' names and inputs
	grow := func(s string) error {
		if inlined += int64(len(s)); inlined > maxBytes {
			return &tooLargeError{what: "the names and inputs of the graph's nodes with its function calls inlined", limit: maxBytes, unit: "bytes (MaxArchiveBytes)"}
		}
		return nil
	}
	for len(queue) > 0 {
		i := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		if seen[i] {
			continue
		}
		seen[i] = true
		cn := fl.nodes[i]
		if !callOps[cn.GetOp()] {
			for _, s := range cn.GetInput() {
				name, _, _ := splitInput(s)
				if j, ok := fl.index[name]; ok && !seen[j] {
					queue = append(queue, j)
				}
			}
			continue
		}
		d := depth[i] + 1
		if d > maxCallDepth {
			return nil, fmt.Errorf("function calls nest deeper than %d at node %q", maxCallDepth, cn.GetName())
		}
		fname := cn.GetAttr()["f"].GetFunc().GetName()
		fn, ok := lib[fname]
		if !ok {
			return nil, fmt.Errorf("node %q calls function %q, which the graph's library does not define", cn.GetName(), fname)
		}
		sigd := fn.GetSignature()
		var args []string
		for _, s := range cn.GetInput() {
			if !strings.HasPrefix(s, "^") {
				args = append(args, s)
			}
		}
		if len(args) != len(sigd.GetInputArg()) {
			return nil, fmt.Errorf("node %q passes %d inputs to function %q, which takes %d", cn.GetName(), len(args), fname, len(sigd.GetInputArg()))
		}
		argOf := map[string]string{}
		for i, a := range sigd.GetInputArg() {
			if a.GetNumberAttr() != "" || a.GetTypeListAttr() != "" {
				return nil, unsupported("function %q takes a list argument %q", fname, a.GetName())
			}
			argOf[a.GetName()] = args[i]
		}
		// A list output holds several ports of the call, so the outputs
		// after it would be read at the wrong ports.
		for _, a := range sigd.GetOutputArg() {
			if a.GetNumberAttr() != "" || a.GetTypeListAttr() != "" {
				return nil, unsupported("function %q returns a list %q", fname, a.GetName())
			}
		}
		if len(fl.nodes)+len(fn.GetNodeDef()) > maxNodes {
			return nil, fmt.Errorf("the graph with its function calls inlined has more than %d nodes (MaxNodes)", maxNodes)
		}
		prefix := cn.GetName() + "/"
		body := make(map[string]*tfpb.NodeDef, len(fn.GetNodeDef()))
		for _, bn := range fn.GetNodeDef() {
			body[bn.GetName()] = bn
		}
		// resolve turns an input of the function body into one of the
		// flat graph: an argument becomes what the call passes, and
		// "node:arg:k" becomes the output of the inlined node that is
		// element k of its output argument arg.
		resolve := func(s string) (string, error) {
			control := strings.HasPrefix(s, "^")
			s = strings.TrimPrefix(s, "^")
			parts := strings.Split(s, ":")
			switch {
			case len(parts) == 1 && !control:
				a, ok := argOf[s]
				if !ok {
					return "", fmt.Errorf("function %q reads %q, which is not one of its arguments", fname, s)
				}
				return a, nil
			case len(parts) == 1:
				return "^" + prefix + s, nil
			case len(parts) == 3 && !control:
				k, err := strconv.Atoi(parts[2])
				if err != nil || k < 0 {
					return "", fmt.Errorf("function %q reads %q: bad output index", fname, s)
				}
				bn, ok := body[parts[0]]
				if !ok {
					return "", fmt.Errorf("function %q reads %q, which no node of its body computes", fname, s)
				}
				port, err := outputPort(bn, parts[1], k, ops, lib)
				if err != nil {
					return "", fmt.Errorf("function %q reads %q: %w", fname, s, err)
				}
				return prefix + parts[0] + ":" + strconv.Itoa(port), nil
			}
			return "", fmt.Errorf("function %q reads %q: not an input of a function body", fname, s)
		}
		for _, bn := range fn.GetNodeDef() {
			// Every inlined copy of a body node shares its attributes,
			// which nothing changes: a deep copy per call would copy a
			// constant of the body once per call of the function.
			n := &tfpb.NodeDef{Name: prefix + bn.GetName(), Op: bn.GetOp(), Input: make([]string, len(bn.GetInput())), Attr: bn.GetAttr()}
			if err := grow(n.GetName()); err != nil {
				return nil, err
			}
			if _, dup := fl.index[n.GetName()]; dup {
				return nil, fmt.Errorf("inlining function %q into node %q repeats node name %q", fname, cn.GetName(), n.GetName())
			}
			for i, s := range bn.GetInput() {
				r, err := resolve(s)
				if err == nil {
					err = grow(r)
				}
				if err != nil {
					return nil, err
				}
				n.Input[i] = r
			}
			j := fl.add(n)
			depth[j] = d
			queue = append(queue, j)
		}
		for k, a := range sigd.GetOutputArg() {
			ret, ok := fn.GetRet()[a.GetName()]
			if !ok {
				return nil, fmt.Errorf("function %q returns nothing for output %q", fname, a.GetName())
			}
			r, err := resolve(ret)
			if err == nil {
				err = grow(r)
			}
			if err != nil {
				return nil, err
			}
			fl.alias[cn.GetName()+":"+strconv.Itoa(k)] = r
		}
		// The call itself computes nothing now: a node that waited on it
		// waits on nothing.
		fl.nodes[i] = &tfpb.NodeDef{Name: cn.GetName(), Op: "NoOp"}
	}
	// Point every read of a call's output at the tensor it returns.
	for _, n := range fl.nodes {
		for i, s := range n.GetInput() {
			if !strings.HasPrefix(s, "^") {
				n.Input[i] = fl.canon(s)
			}
		}
	}
	return fl, nil
}

// outputPort returns the port of node n that a function body names as
// element k of n's output argument arg. An op's outputs are its output
// arguments one after another, a list argument taking as many ports as
// its length, so element k of an argument after the first is not port
// k. The arguments come from the op's OpDef (ops), or from the
// signature of the library function n calls. Without either (a graph
// with no stripped op list) n is taken to have the one output argument
// arg, which holds for every op this package runs; any other op is
// refused when the graph is compiled.
func outputPort(n *tfpb.NodeDef, arg string, k int, ops map[string]*tfpb.OpDef, lib map[string]*tfpb.FunctionDef) (int, error) {
	var args []*tfpb.OpDef_ArgDef
	switch {
	case callOps[n.GetOp()]:
		// One list, "output", of what the called function returns.
		if arg != "output" {
			return 0, fmt.Errorf("op %s of node %q has no output %q", n.GetOp(), n.GetName(), arg)
		}
		return k, nil
	case lib[n.GetOp()] != nil:
		args = lib[n.GetOp()].GetSignature().GetOutputArg()
	case ops[n.GetOp()] != nil:
		args = ops[n.GetOp()].GetOutputArg()
	default:
		return k, nil
	}
	port := 0
	for _, a := range args {
		size := 1
		switch {
		case a.GetNumberAttr() != "":
			size = int(n.GetAttr()[a.GetNumberAttr()].GetI())
		case a.GetTypeListAttr() != "":
			size = len(n.GetAttr()[a.GetTypeListAttr()].GetList().GetType())
		}
		if size < 0 || size > math.MaxInt32 {
			return 0, fmt.Errorf("output %q of node %q (%s) has %d elements", a.GetName(), n.GetName(), n.GetOp(), size)
		}
		if a.GetName() == arg {
			if k >= size {
				return 0, fmt.Errorf("output %q of node %q (%s) has %d elements, not %d", arg, n.GetName(), n.GetOp(), size, k+1)
			}
			return port + k, nil
		}
		port += size
	}
	return 0, fmt.Errorf("op %s of node %q has no output %q", n.GetOp(), n.GetName(), arg)
}

// freeze returns the nodes output node out depends on, as a frozen
// graph ending with out: variables become constants holding their
// checkpoint values, reads of variables become Identity nodes, and
// control inputs are dropped (a frozen graph has no effects to order).
// names maps feed node indexes to input names; the result maps the same
// feeds by their index in the returned nodes.
func (fl *flat) freeze(out int, names map[int]string, files *savedModelFiles, o *options) ([]*tfpb.NodeDef, map[int]string, error) {
	reach := make([]bool, len(fl.nodes))
	reach[out] = true
	stack := []int{out}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := fl.nodes[i]
		switch n.GetOp() {
		case "VariableV2", "Variable", "VarHandleOp":
			continue // a variable's inputs (none, usually) are not read
		}
		for _, s := range n.GetInput() {
			if strings.HasPrefix(s, "^") {
				continue
			}
			name, _, _ := splitInput(s)
			j, ok := fl.index[name]
			if !ok {
				return nil, nil, fmt.Errorf("node %q reads %q, which is not a node of the graph", n.GetName(), s)
			}
			if !reach[j] {
				reach[j] = true
				stack = append(stack, j)
			}
		}
	}
	var keys map[string]string
	var bundle *bundleIndex
	var read int64 // elements of the checkpoint values read
	var nodes []*tfpb.NodeDef
	renamed := map[int]string{}
	for i, n := range fl.nodes {
		if !reach[i] {
			continue
		}
		var inputs []string
		for _, s := range n.GetInput() {
			if !strings.HasPrefix(s, "^") {
				inputs = append(inputs, s)
			}
		}
		m := &tfpb.NodeDef{Name: n.GetName(), Op: n.GetOp(), Input: inputs, Attr: n.GetAttr()}
		switch n.GetOp() {
		case "VariableV2", "Variable", "VarHandleOp":
			if bundle == nil {
				if files.index == nil {
					return nil, nil, fmt.Errorf("node %q (%s): %w", n.GetName(), n.GetOp(), errNoVariables)
				}
				var err error
				if bundle, err = readBundleIndex(files.index, o.maxNodes, int(min(o.maxArchive, 1<<30))); err != nil {
					return nil, nil, err
				}
				keys = restoreKeys(fl.nodes, fl.index)
			}
			key, ok := keys[n.GetName()]
			if !ok {
				// Without a restore op to say, a variable is saved under
				// its own name, as tf.compat.v1.train.Saver does.
				key = n.GetName()
				if sn := string(n.GetAttr()["shared_name"].GetS()); sn != "" && bundle.entries[key] == nil {
					key = sn
				}
			}
			// Each read of a value becomes a constant of its own, so the
			// values read count against MaxElements as compiling will
			// count them, before their bytes are checked: checking one
			// value per variable node that reads it would otherwise be
			// unbounded work.
			tp, err := bundle.tensorProto(key, files.shards, func(size int64, dt tfpb.DataType) error {
				width := int64(4)
				if dt == tfpb.DataType_DT_DOUBLE || dt == tfpb.DataType_DT_INT64 {
					width = 8
				}
				if read += size / width; read > o.maxElements {
					return &tooLargeError{what: "the checkpoint values the graph reads", limit: o.maxElements}
				}
				return nil
			})
			if err != nil {
				return nil, nil, &nodeError{node: n.GetName(), op: n.GetOp(), err: err}
			}
			if want, ok := n.GetAttr()["dtype"]; ok && want.GetType() != tp.GetDtype() {
				return nil, nil, &nodeError{node: n.GetName(), op: n.GetOp(), err: fmt.Errorf("the variable is %s, its checkpoint value %q is %s", protoTypeName(want.GetType()), key, protoTypeName(tp.GetDtype()))}
			}
			if want := n.GetAttr()["shape"]; want.GetShape() != nil && !shapeFits(want.GetShape(), tp.GetTensorShape()) {
				return nil, nil, &nodeError{node: n.GetName(), op: n.GetOp(), err: fmt.Errorf("the variable has shape %s, its checkpoint value %q has shape %s", protoShapeString(want.GetShape()), key, protoShapeString(tp.GetTensorShape()))}
			}
			m = &tfpb.NodeDef{Name: n.GetName(), Op: "Const", Attr: map[string]*tfpb.AttrValue{
				"dtype": {Value: &tfpb.AttrValue_Type{Type: tp.GetDtype()}},
				"value": {Value: &tfpb.AttrValue_Tensor{Tensor: tp}},
			}}
		case "ReadVariableOp", "PlaceholderWithDefault":
			m.Op = "Identity"
			if len(inputs) != 1 {
				return nil, nil, fmt.Errorf("node %q (%s) has %d inputs", n.GetName(), n.GetOp(), len(inputs))
			}
		case "Placeholder":
			if _, fed := names[i]; !fed {
				return nil, nil, unsupported("the signature's output reads placeholder %q, which the signature does not feed", n.GetName())
			}
			renamed[len(nodes)] = names[i]
		}
		if i == out {
			continue // appended last
		}
		nodes = append(nodes, m)
	}
	n := fl.nodes[out]
	nodes = append(nodes, &tfpb.NodeDef{Name: n.GetName(), Op: n.GetOp(), Input: n.GetInput()})
	return nodes, renamed, nil
}

// shapeFits reports whether a tensor of shape got may be the value of a
// variable declared with shape decl, as TensorFlow's restore checks: of
// the same rank, and of the same size in each dimension the declaration
// knows (an unknown rank or size fits any).
func shapeFits(decl, got *tfpb.TensorShapeProto) bool {
	if decl.GetUnknownRank() {
		return true
	}
	if got.GetUnknownRank() || len(decl.GetDim()) != len(got.GetDim()) {
		return false
	}
	for i, d := range decl.GetDim() {
		if d.GetSize() >= 0 && d.GetSize() != got.GetDim()[i].GetSize() {
			return false
		}
	}
	return true
}

// protoShapeString formats a TensorShapeProto as [2 3], with ? for an
// unknown size.
func protoShapeString(p *tfpb.TensorShapeProto) string {
	if p.GetUnknownRank() {
		return "of unknown rank"
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range p.GetDim() {
		if i > 0 {
			b.WriteByte(' ')
		}
		if d.GetSize() < 0 {
			b.WriteByte('?')
		} else {
			b.WriteString(strconv.FormatInt(d.GetSize(), 10))
		}
	}
	return b.String() + "]"
}
