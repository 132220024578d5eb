package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// checkIntegerDivision refuses a model in which ONNX Runtime could divide
// an integer by zero, or the smallest integer by -1: the CPU traps, and
// the process dies (SIGFPE) with no error to return. It happens at load
// as readily as at a run: ONNX Runtime folds a Div of two constants when
// it creates the session.
//
// So every Div and Mod of the default domain, in the graph, in the
// subgraphs of If, Loop and Scan at any depth and in the model's local
// functions, must have a divisor that is known to be floating point, or
// an integer constant (an initializer or a Constant node) none of whose
// elements is 0 or -1. A value is known to be floating point when the
// model declares it so (as a graph input, output, value_info or
// initializer of any graph), when a Constant holds floats, when a Cast
// or an op that only computes in floating point makes it, or when an op
// whose result has the element type of its first input reads a value
// known to be floating point. Anything else (the outputs of ops not
// listed here, of Shape, of QuantizeLinear, of a local function) may be
// an integer: a division by it is refused, which errs on the side of
// refusing a model that would in fact never trap.
//
// The same walk refuses a graph in which a record's values (the graph's
// inputs, and what is computed from them, except their Shape and Size)
// reach an input that sets the size of a tensor ONNX Runtime allocates
// (sizeInputs): a record holding 5e8 made ConstantOfShape allocate 2 GB.
// It also refuses a node whose sizes the model's constants set to a
// tensor of more than limit elements (constsize.go); a limit of 0 bounds
// none.
func checkIntegerDivision(b []byte, limit int64) error {
	var graphs, functions [][]byte
	err := readFields(b, func(f field) error {
		if f.typ != wireBytes {
			return nil
		}
		switch f.num {
		case fModelGraph:
			graphs = append(graphs, f.data)
		case fModelFunctions:
			functions = append(functions, f.data)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, g := range graphs {
		if _, err := divGraph(g, 0, &scope{limit: limit}); err != nil {
			return err
		}
	}
	for _, fn := range functions {
		// A function's formal inputs have no declared type: each may be
		// an integer.
		// A function's inputs may be given a record's values.
		sc := newScope(&scope{limit: limit})
		err := readFields(fn, func(f field) error {
			switch {
			case f.num == fFunctionInput && f.typ == wireBytes:
				sc.rec[string(f.data)] = true
			case f.num == fFunctionNode && f.typ == wireBytes:
				return divNode(f.data, 0, sc)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// checkSparseSize refuses a SparseTensorProto whose dense shape holds more
// than limit elements (a limit of 0 bounds none): ONNX Runtime makes a
// sparse initializer, or the sparse value of a Constant, dense when it
// creates the session, outside the MaxMemory arena. One of 2^28 floats
// holding a single value, 100 bytes of model, took 2.1 GB and 7.5 s.
func checkSparseSize(b []byte, what string, limit int64) error {
	if limit <= 0 {
		return nil
	}
	var dims []int64
	err := readFields(b, func(f field) error {
		switch {
		case f.num == fSparseDims && f.typ == wireVarint:
			dims = append(dims, int64(f.v))
		case f.num == fSparseDims && f.typ == wireBytes:
			return readVarints(f.data, func(v uint64) { dims = append(dims, int64(v)) })
		}
		return nil
	})
	if err != nil {
		return err
	}
	n := 1.0
	for _, d := range dims {
		n *= math.Abs(float64(d))
	}
	if n > float64(limit) {
		return fmt.Errorf("%s has the dense shape %v, %.4g elements, more than the limit of %d (MaxTensorElements): ONNX Runtime makes it dense when it creates the session", what, dims, n, limit)
	}
	return nil
}

// valueKind is what checkIntegerDivision knows of a value.
type valueKind uint8

const (
	kindUnknown valueKind = iota // may be an integer, of any value
	kindFloat                    // a floating-point tensor
	kindSafeInt                  // an integer constant without 0 or -1
)

// scope is what is known of the values of one graph; a subgraph sees the
// values of the graphs around it, and its own names hide theirs.
type scope struct {
	parent *scope
	kinds  map[string]valueKind
	decl   map[string]valueKind // what the graph declares: it holds over what an op would make
	// rec says which values a record's values flow into (true), and
	// which it does not (false, hiding an outer name).
	rec map[string]bool
	// consts holds what is known of constant values; nil hides an outer
	// constant of the same name.
	consts map[string]*constVal
	limit  int64 // MaxTensorElements, for the sizes constants set
}

func newScope(parent *scope) *scope {
	sc := &scope{parent: parent, kinds: map[string]valueKind{}, decl: map[string]valueKind{}, rec: map[string]bool{}, consts: map[string]*constVal{}}
	if parent != nil {
		sc.limit = parent.limit
	}
	return sc
}

// fromRecord reports whether a record's values flow into value name.
func (s *scope) fromRecord(name string) bool {
	for ; s != nil; s = s.parent {
		if r, ok := s.rec[name]; ok {
			return r
		}
	}
	return false
}

// kind is what is known of value name in s or around it.
func (s *scope) kind(name string) valueKind {
	for ; s != nil; s = s.parent {
		if k, ok := s.kinds[name]; ok {
			return k
		}
	}
	return kindUnknown
}

// floatElem reports whether an ONNX element type is floating point
// (float16, float, double, bfloat16, complex, and the float8 types).
func floatElem(t int64) bool {
	switch t {
	case 1, 10, 11, 14, 15, 16, 17, 18, 19, 20:
		return true
	}
	return false
}

// Field numbers of onnx.proto this file reads besides wire.go's.
const (
	fTensorDims     = 1
	fTensorDataType = 2
	fTensorFloat    = 4
	fTensorInt32    = 5
	fTensorString   = 6
	fTensorInt64    = 7
	fTensorRaw      = 9
	fTensorDouble   = 10
	fTensorUint64   = 11
	fAttrF          = 2
	fAttrT          = 5
	fAttrTensorType = 20 // AttributeProto.type
	fSparseDims     = 3  // SparseTensorProto.dims
)

// graph reads one graph: the declared types first (a declaration holds
// for the whole graph), then its nodes in order.
func divGraph(b []byte, depth int, parent *scope) (fromRecord bool, err error) {
	if depth > maxGraphDepth {
		return false, errTooDeep
	}
	sc := newScope(parent)
	inits := map[string]bool{}
	var nodes [][]byte
	var outputs []string
	err = readFields(b, func(f field) error {
		if f.typ != wireBytes {
			return nil
		}
		switch f.num {
		case fGraphNode:
			nodes = append(nodes, f.data)
		case fGraphInitializer:
			name, kind, err := tensorKind(f.data)
			if err != nil {
				return err
			}
			sc.decl[name], sc.kinds[name], inits[name] = kind, kind, true
			sc.rec[name] = false
			_, c, err := tensorConst(f.data)
			if err != nil {
				return err
			}
			sc.consts[name] = c
		case fGraphSparseInit:
			return checkSparseSize(f.data, "a sparse initializer", sc.limit)
		case fGraphInput, fGraphOutput, fGraphValueInfo:
			vi, err := parseValueInfo(f.data)
			if err != nil {
				return err
			}
			_, init := inits[vi.name]
			if f.num == fGraphOutput {
				outputs = append(outputs, vi.name)
			}
			if f.num == fGraphInput && !init {
				// The graph's inputs are the record; a subgraph's (a Loop
				// body's iteration number and carried values, a Scan's
				// slices) may carry its values.
				sc.rec[vi.name] = true
				sc.consts[vi.name] = nil
				if depth == 0 {
					// The record fills the model's inputs at their declared
					// shape: a fixed one is known, for Shape.
					sc.consts[vi.name] = declaredShape(vi)
				}
			}
			switch {
			case init:
				// an initializer: its data type says what it is
			case vi.hasType && floatElem(vi.elem):
				sc.decl[vi.name], sc.kinds[vi.name] = kindFloat, kindFloat
			case f.num == fGraphInput:
				// A graph input no op computes, such as a Loop body's
				// iteration number: it hides any outer value of its name.
				sc.decl[vi.name], sc.kinds[vi.name] = kindUnknown, kindUnknown
			}
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	for _, n := range nodes {
		if err := divNode(n, depth, sc); err != nil {
			return false, err
		}
	}
	for _, o := range outputs {
		fromRecord = fromRecord || sc.fromRecord(o)
	}
	return fromRecord, nil
}

// node checks a Div or Mod, walks the node's subgraphs, and sets the
// kinds of its outputs.
func divNode(b []byte, depth int, sc *scope) error {
	var op, domain string
	var inputs, outputs []string
	var subgraphs [][]byte
	castTo := int64(-1)
	constKind := kindUnknown
	var at nodeAttrs
	err := readFields(b, func(f field) error {
		if f.typ != wireBytes {
			return nil
		}
		switch f.num {
		case fNodeInput:
			inputs = append(inputs, string(f.data))
		case fNodeOutput:
			outputs = append(outputs, string(f.data))
		case fNodeOpType:
			op = string(f.data)
		case fNodeDomain:
			domain = string(f.data)
		case fNodeAttr:
			var name string
			var i int64
			var hasInt, hasFloat bool
			var ints []int64
			var floats []float64
			var tensor []byte
			err := readFields(f.data, func(af field) error {
				switch {
				case af.num == fAttrName && af.typ == wireBytes:
					name = string(af.data)
				case af.num == fAttrInt && af.typ == wireVarint:
					i, hasInt = int64(af.v), true
				case (af.num == fAttrF || af.num == fAttrFloats) && af.typ == wireFixed32:
					hasFloat = true
					floats = appendSmall(floats, float64(math.Float32frombits(uint32(af.v))))
				case af.num == fAttrFloats && af.typ == wireBytes:
					hasFloat = true
					for p := af.data; len(p) >= 4 && len(floats) <= maxConstValues; p = p[4:] {
						floats = append(floats, float64(math.Float32frombits(binary.LittleEndian.Uint32(p))))
					}
				case af.num == fAttrInts && af.typ == wireVarint:
					ints = append(ints, int64(af.v))
				case af.num == fAttrInts && af.typ == wireBytes:
					return readVarints(af.data, func(v uint64) { ints = append(ints, int64(v)) })
				case af.num == fAttrT && af.typ == wireBytes:
					tensor = af.data
				case (af.num == fAttrGraph || af.num == fAttrGraphs) && af.typ == wireBytes:
					subgraphs = append(subgraphs, af.data)
				case (af.num == fAttrSparseTensor || af.num == fAttrSparseTensors) && af.typ == wireBytes:
					return checkSparseSize(af.data, "the sparse tensor of a "+op+" node", sc.limit)
				}
				return nil
			})
			if err != nil {
				return err
			}
			switch name {
			case "value", "value_int", "value_ints", "value_float", "value_floats", "pads", "to", "starts", "ends", "axes", "group", "kernel_shape":
				if tensor != nil {
					at.tensor = tensor
				}
				switch {
				case hasInt:
					at.setInts(name, append(slices.Clone(ints), i))
				case len(ints) > 0:
					at.setInts(name, ints)
				}
				if hasFloat {
					if at.floats == nil {
						at.floats = map[string][]float64{}
					}
					at.floats[name] = floats
				}
			default:
				at.any = true
			}
			switch name {
			case "to":
				if hasInt {
					castTo = i
				}
			case "value":
				if tensor != nil {
					_, k, err := tensorKind(tensor)
					if err != nil {
						return err
					}
					constKind = k
				}
			case "value_float", "value_floats":
				if hasFloat {
					constKind = kindFloat
				}
			case "value_int", "value_ints":
				if hasInt {
					ints = append(ints, i)
				}
				if safeInts(ints) {
					constKind = kindSafeInt
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	onnxDomain := domain == "" || domain == "ai.onnx"
	if onnxDomain && (op == "Div" || op == "Mod") && len(inputs) > 1 && inputs[1] != "" {
		if k := sc.kind(inputs[1]); k != kindFloat && k != kindSafeInt {
			return fmt.Errorf("a %s node divides by %q, which may be an integer that is 0 (or -1): ONNX Runtime would divide an integer by zero (or overflow), which kills the process; only a floating-point divisor or an integer constant without 0 and -1 is accepted", op, inputs[1])
		}
	}
	if onnxDomain {
		if err := checkConstSize(sc, op, inputs, at, sc.limit); err != nil {
			return err
		}
		if err := checkConvRank(sc, op, inputs, at); err != nil {
			return err
		}
		if err := checkConvBias(sc, op, inputs, at); err != nil {
			return err
		}
		for _, k := range positiveInputs[op] {
			if k >= len(inputs) || inputs[k] == "" {
				continue // ONNX Runtime refuses the node without it
			}
			if v := sc.values(inputs, k); v == nil || slices.ContainsFunc(v, func(x float64) bool { return !(x >= 1) }) {
				return fmt.Errorf("input %d (%q) of a %s node is not a constant of elements at least 1: ONNX Runtime divides by it unchecked, and a 0 kills the process", k, inputs[k], op)
			}
		}
		for _, k := range sizeInputs[op] {
			if k < len(inputs) && inputs[k] != "" && sc.fromRecord(inputs[k]) {
				return fmt.Errorf("input %d (%q) of a %s node, which sets the size of the tensor it makes, is computed from the record: a record could make ONNX Runtime allocate without bound", k, inputs[k], op)
			}
		}
		// A Loop with no trip count runs while its condition holds; the
		// body computes the next condition from the loop's values, so when
		// the record computes the condition or any of those values, a
		// record could make it run, and its scan outputs grow, without end.
		if op == "Loop" && (len(inputs) == 0 || inputs[0] == "") {
			for k := 1; k < len(inputs); k++ {
				if inputs[k] != "" && sc.fromRecord(inputs[k]) {
					return fmt.Errorf("a Loop node with no trip count reads %q, which is computed from the record: a record could make it run, and ONNX Runtime allocate, without end", inputs[k])
				}
			}
		}
	}
	rec := false
	for _, g := range subgraphs {
		r, err := divGraph(g, depth+1, sc)
		if err != nil {
			return err
		}
		rec = rec || r
	}
	// A Shape or Size reads the record's shape, which is fixed, not its
	// values; the outputs of If, Loop and Scan carry the record when one
	// of their subgraphs' outputs does.
	for _, in := range inputs {
		rec = rec || in != "" && sc.fromRecord(in)
	}
	rec = rec && !(onnxDomain && (op == "Shape" || op == "Size"))
	for i, out := range outputs {
		if out == "" {
			continue
		}
		sc.rec[out] = rec
		sc.consts[out] = nil
		if onnxDomain {
			sc.consts[out] = evalConst(sc, op, i, inputs, at, castTo)
		}
		if k, declared := sc.decl[out]; declared {
			sc.kinds[out] = k // the model's declaration holds
			continue
		}
		sc.kinds[out] = outputKind(sc, op, domain, i, inputs, castTo, constKind)
	}
	return nil
}

// outputKind is what output i of a node is known to be.
func outputKind(sc *scope, op, domain string, i int, inputs []string, castTo int64, constKind valueKind) valueKind {
	first := kindUnknown
	if len(inputs) > 0 {
		first = sc.kind(inputs[0])
	}
	float := func(ok bool) valueKind {
		if ok {
			return kindFloat
		}
		return kindUnknown
	}
	switch domain {
	case "", "ai.onnx":
	case "ai.onnx.ml":
		switch op {
		case "Scaler", "Normalizer", "LinearRegressor", "SVMRegressor", "TreeEnsembleRegressor", "TreeEnsemble", "OneHotEncoder", "FeatureVectorizer":
			return kindFloat
		case "LinearClassifier", "SVMClassifier", "TreeEnsembleClassifier":
			return float(i == 1) // the scores; output 0 is the label
		case "Binarizer", "ArrayFeatureExtractor":
			return float(i == 0 && first == kindFloat)
		}
		return kindUnknown
	default:
		return kindUnknown
	}
	switch {
	case op == "Constant":
		return constKind
	case op == "Cast":
		return float(floatElem(castTo))
	case op == "Where":
		return float(i == 0 && len(inputs) > 1 && sc.kind(inputs[1]) == kindFloat)
	case floatOnlyOps[op]:
		return float(i == 0)
	case sameAsFirstOps[op]:
		return float(i == 0 && first == kindFloat)
	}
	return kindUnknown
}

// sizeInputs are, for the ops whose output size an input's values set,
// those inputs: a record must not reach them.
var sizeInputs = map[string][]int{
	"ConstantOfShape": {0}, "Expand": {1}, "Tile": {1}, "Range": {0, 1, 2},
	"Resize": {2, 3}, "Upsample": {1}, "Pad": {1}, "OneHot": {1}, "Loop": {0},
	"DFT": {1}, "STFT": {2}, "HannWindow": {0}, "HammingWindow": {0},
	"BlackmanWindow": {0}, "MelWeightMatrix": {0, 1, 2, 3, 4},
	"CenterCropPad": {1}, "Col2Im": {1, 2},
}

// convBias are, for the convolutions whose bias ONNX Runtime reads one
// element per output channel without checking its length, the inputs of
// their weights and of their bias.
var convBias = map[string][2]int{"Conv": {1, 2}, "ConvTranspose": {1, 2}, "QLinearConv": {3, 8}}

// checkConvRank refuses a Conv, ConvTranspose or QLinearConv whose
// weights the load-time walk cannot size, or whose kernel rank (the
// weights' rank less 2) is not that of its kernel_shape attribute or, when
// the walk knows it, of its input less 2; without kernel_shape, the input's
// rank must be known. ONNX Runtime 1.24 takes the kernel from the weights
// when kernel_shape is absent and indexes the input's dimensions by it
// unchecked: an input of rank 3 for weights of rank 4 failed an assertion
// and aborted the process (SIGABRT) when the session was created, and
// through a Relu as well; with kernel_shape, it checks the input against
// it.
func checkConvRank(sc *scope, op string, inputs []string, at nodeAttrs) error {
	wb, ok := convBias[op]
	if !ok || wb[0] >= len(inputs) {
		return nil // ONNX Runtime refuses the node without its weights
	}
	w := sc.dimsOf(inputs, wb[0])
	if len(w) < 2 {
		return fmt.Errorf("the weights %q of a %s node are not a constant whose dimensions the load-time walk knows: ONNX Runtime sizes the kernel by them unchecked", inputs[wb[0]], op)
	}
	x := sc.dimsOf(inputs, 0)
	ks, hasKS := at.ints["kernel_shape"]
	switch {
	case hasKS && len(ks)+2 != len(w):
		return fmt.Errorf("the kernel_shape of a %s node has %d values for weights %q of rank %d: ONNX Runtime indexes the input by the kernel unchecked", op, len(ks), inputs[wb[0]], len(w))
	case x != nil && len(x) != len(w):
		return fmt.Errorf("the input %q of a %s node has rank %d, its weights %q rank %d: ONNX Runtime indexes the input by the kernel unchecked, and aborted the process", inputs[0], op, len(x), inputs[wb[0]], len(w))
	case !hasKS && x == nil:
		return fmt.Errorf("a %s node has no kernel_shape and its input %q is not of a rank the load-time walk knows (a graph input of fixed shape, or a constant): ONNX Runtime indexes the input by the kernel of its weights unchecked, and an input of lower rank aborted the process", op, inputs[0])
	}
	return nil
}

// checkConvBias refuses a Conv, ConvTranspose or QLinearConv with a bias
// unless the walk knows the bias's length and the weights' dimensions
// (constants, or what the walk computes from them) and the bias holds
// one element per output channel, as ONNX requires: W's first dimension
// for Conv and QLinearConv, its second times group for ConvTranspose.
// ONNX Runtime 1.24 checks neither: a bias of 1 element for 2^20
// channels made a Conv score whatever memory followed the bias, and a
// ConvTranspose die of SIGSEGV; a bias the record feeds did the same. A
// bias or weights the walk cannot size are refused too, since nothing
// then bounds the read.
func checkConvBias(sc *scope, op string, inputs []string, at nodeAttrs) error {
	wb, ok := convBias[op]
	if !ok || wb[1] >= len(inputs) || inputs[wb[1]] == "" {
		return nil
	}
	w, b := sc.dimsOf(inputs, wb[0]), sc.count(inputs, wb[1])
	if len(w) < 2 || b < 0 || sc.fromRecord(inputs[wb[0]]) || sc.fromRecord(inputs[wb[1]]) {
		return fmt.Errorf("the bias %q of a %s node, or its weights %q, is not a constant whose size the load-time walk knows: ONNX Runtime reads one bias element per output channel without checking the bias's length, so a shorter bias is read past", inputs[wb[1]], op, inputs[wb[0]])
	}
	m := w[0]
	if op == "ConvTranspose" {
		g := int64(1)
		if v := at.ints["group"]; len(v) > 0 {
			g = v[len(v)-1]
		}
		switch {
		case g < 1:
			return nil // checkPositiveAttrs refuses the node
		case w[1] > math.MaxInt64/g:
			m = -1 // more channels than any bias holds
		default:
			m = w[1] * g
		}
	}
	if b != m {
		if m < 0 {
			return fmt.Errorf("the bias %q of a %s node holds %d elements for more output channels than an int64 counts: ONNX Runtime reads one per channel without checking, past the end of a shorter bias", inputs[wb[1]], op, b)
		}
		return fmt.Errorf("the bias %q of a %s node holds %d elements for %d output channels: ONNX Runtime reads one per channel without checking, past the end of a shorter bias", inputs[wb[1]], op, b, m)
	}
	return nil
}

// positiveInputs are, for the ops ONNX Runtime divides by an input of
// without checking it (the block_shape of Col2Im: a 0 killed the process
// with SIGFPE when the session was created), those inputs: each must be
// a constant the walk knows (constsize.go), of elements at least 1.
var positiveInputs = map[string][]int{"Col2Im": {2}}

// floatOnlyOps compute only in floating point: their first output is
// floating point whatever is known of their inputs.
var floatOnlyOps = map[string]bool{
	"Sqrt": true, "Exp": true, "Log": true, "Sigmoid": true, "Tanh": true, "Erf": true,
	"Softmax": true, "LogSoftmax": true, "Sin": true, "Cos": true, "Tan": true,
	"Asin": true, "Acos": true, "Atan": true, "Sinh": true, "Cosh": true, "Asinh": true,
	"Acosh": true, "Atanh": true, "Softplus": true, "Softsign": true, "Elu": true,
	"Selu": true, "Celu": true, "Gelu": true, "HardSigmoid": true, "Mish": true,
	"HardSwish": true, "Conv": true, "ConvTranspose": true, "AveragePool": true,
	"GlobalAveragePool": true, "LpPool": true, "BatchNormalization": true,
	"InstanceNormalization": true, "LayerNormalization": true, "GroupNormalization": true,
	"LRN": true, "DequantizeLinear": true, "RandomNormal": true, "RandomUniform": true,
	"RandomNormalLike": true, "RandomUniformLike": true, "Reciprocal": true,
	"MeanVarianceNormalization": true, "LpNormalization": true, "ThresholdedRelu": true,
	"LeakyRelu": true,
}

// sameAsFirstOps give their first output the element type of their
// first input.
var sameAsFirstOps = map[string]bool{
	"Abs": true, "Neg": true, "Add": true, "Sub": true, "Mul": true, "Div": true,
	"Mod": true, "Pow": true, "Max": true, "Min": true, "Sum": true, "Mean": true,
	"Relu": true, "PRelu": true, "Clip": true, "Floor": true, "Ceil": true,
	"Round": true, "Sign": true, "Identity": true, "Reshape": true, "Flatten": true,
	"Squeeze": true, "Unsqueeze": true, "Transpose": true, "Concat": true,
	"Split": true, "Slice": true, "Gather": true, "GatherElements": true,
	"GatherND": true, "Expand": true, "Tile": true, "Pad": true, "Resize": true,
	"Upsample": true, "ReduceSum": true, "ReduceMean": true, "ReduceMax": true,
	"ReduceMin": true, "ReduceProd": true, "ReduceL1": true, "ReduceL2": true,
	"ReduceLogSum": true, "ReduceLogSumExp": true, "ReduceSumSquare": true,
	"CumSum": true, "Compress": true, "ScatterND": true, "ScatterElements": true,
	"Scatter": true, "MatMul": true, "Gemm": true, "Einsum": true, "Hardmax": true,
	"MaxPool": true, "GlobalMaxPool": true, "Dropout": true, "DepthToSpace": true,
	"SpaceToDepth": true, "ReverseSequence": true, "Trilu": true, "Det": true,
	"RoiAlign": true, "GridSample": true, "TopK": true, "Shrink": true, "DFT": true,
}

// tensorKind reads a TensorProto's name and kind: floating point, an
// integer tensor of known elements none 0 or -1, or anything else.
func tensorKind(b []byte) (string, valueKind, error) {
	var name string
	var elem int64
	var ints []int64
	var raw []byte
	hasRaw := false
	err := readFields(b, func(f field) error {
		switch {
		case f.num == fTensorName && f.typ == wireBytes:
			name = string(f.data)
		case f.num == fTensorDataType && f.typ == wireVarint:
			elem = int64(f.v)
		case f.num == fTensorRaw && f.typ == wireBytes:
			raw, hasRaw = f.data, true
		case (f.num == fTensorInt32 || f.num == fTensorInt64 || f.num == fTensorUint64) && f.typ == wireVarint:
			ints = append(ints, int64(f.v))
		case (f.num == fTensorInt32 || f.num == fTensorInt64 || f.num == fTensorUint64) && f.typ == wireBytes:
			return readVarints(f.data, func(v uint64) { ints = append(ints, int64(v)) })
		}
		return nil
	})
	if err != nil {
		return "", kindUnknown, err
	}
	if floatElem(elem) {
		return name, kindFloat, nil
	}
	width := map[int64]int{2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 12: 4, 13: 8}[elem]
	if width == 0 {
		return name, kindUnknown, nil // bool, string, or not an integer type this reads
	}
	if hasRaw {
		if len(raw)%width != 0 {
			return name, kindUnknown, nil
		}
		ints = ints[:0]
		for p := raw; len(p) > 0; p = p[width:] {
			var v int64
			switch width {
			case 1:
				v = int64(int8(p[0]))
			case 2:
				v = int64(int16(binary.LittleEndian.Uint16(p)))
			case 4:
				v = int64(int32(binary.LittleEndian.Uint32(p)))
			case 8:
				v = int64(binary.LittleEndian.Uint64(p))
			}
			ints = append(ints, v)
		}
	} else {
		// int32_data holds int8 to int32 and uint8, uint16 as varints of
		// the sign-extended value; cut each to the element's width.
		for k, v := range ints {
			switch width {
			case 1:
				ints[k] = int64(int8(v))
			case 2:
				ints[k] = int64(int16(v))
			case 4:
				ints[k] = int64(int32(v))
			}
		}
	}
	if safeInts(ints) {
		return name, kindSafeInt, nil
	}
	return name, kindUnknown, nil
}

// safeInts reports whether vals, read as signed integers of their width,
// hold at least one element and neither 0 nor -1 (an unsigned maximum
// reads as -1 and is refused with it: that errs on the side of safety).
func safeInts(vals []int64) bool {
	for _, v := range vals {
		if v == 0 || v == -1 {
			return false
		}
	}
	return len(vals) > 0
}
