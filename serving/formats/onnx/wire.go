package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/modelstream/modelstream/serving"
)

// This file reads just enough of the ONNX protobuf (onnx.proto, IR
// version 3 and later) to learn a model's interface before onnx-go sees
// it: the graph inputs with their element types and dimensions (onnx-go
// drops symbolic dimensions such as a batch "N", which changes the rank),
// the names of the initializers (older exporters list them as inputs too),
// the output names, the op types, and every declared shape (onnx-go
// allocates a zero tensor for each, so an absurd declared shape must be
// refused before it becomes an allocation).

// Field numbers from onnx.proto.
const (
	fModelGraph  = 7
	fModelOpset  = 8
	fOpsetDomain = 1
	fOpsetVer    = 2

	fGraphNode        = 1
	fGraphInitializer = 5
	fGraphInput       = 11
	fGraphOutput      = 12
	fGraphValueInfo   = 13

	fNodeInput  = 1
	fNodeOutput = 2
	fNodeOpType = 4
	fNodeAttr   = 5
	fNodeDomain = 7

	fAttrName    = 1
	fAttrRefName = 21 // AttributeProto.ref_attr_name
	fAttrInt     = 3
	fAttrFloats  = 7
	fAttrInts    = 8
	fAttrStrings = 9

	fValueInfoName = 1
	fValueInfoType = 2

	fTypeTensor = 1

	fTensorTypeElem  = 1
	fTensorTypeShape = 2

	fShapeDim = 1

	fDimValue = 1
	fDimParam = 2

	fTensorName         = 8
	fTensorExternalData = 13
	fTensorDataLocation = 14

	fModelTrainingInfo = 20
	fModelFunctions    = 25
	fTrainingInit      = 1
	fTrainingAlgorithm = 2
	fFunctionNode      = 7
	fFunctionName      = 1
	fFunctionDomain    = 10
	fFunctionInput     = 4
	fGraphSparseInit   = 15
	fSparseValues      = 1
	fSparseIndices     = 2
	fAttrTensor        = 5
	fAttrGraph         = 6
	fAttrTensors       = 10
	fAttrGraphs        = 11
	fAttrSparseTensor  = 22
	fAttrSparseTensors = 23
	fEntryKey          = 1
	fEntryValue        = 2
)

// maxGraphDepth bounds the nesting of subgraphs (If, Loop and Scan
// bodies) that checkExternal walks.
const maxGraphDepth = 64

var errTooDeep = fmt.Errorf("subgraphs are nested more than %d deep", maxGraphDepth)

// Wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireStartGr = 3
	wireEndGr   = 4
	wireFixed32 = 5
)

// ONNX TensorProto.DataType values this package names.
const (
	elemFloat  = 1
	elemDouble = 11
)

var elemNames = map[int64]string{
	0: "undefined", 1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16",
	6: "int32", 7: "int64", 8: "string", 9: "bool", 10: "float16", 11: "float64",
	12: "uint32", 13: "uint64", 14: "complex64", 15: "complex128", 16: "bfloat16",
}

func elemName(t int64) string {
	if n, ok := elemNames[t]; ok {
		return n
	}
	return fmt.Sprintf("type %d", t)
}

var errTruncated = errors.New("truncated protobuf")

// dim is one declared dimension: a fixed size, or a symbolic name.
type dim struct {
	value int64
	param string // non-empty for a symbolic dimension
	known bool   // value or param was present
}

// valueInfo is a graph input, output or intermediate value.
type valueInfo struct {
	name     string
	elem     int64
	hasType  bool
	hasShape bool
	dims     []dim
	// typeCase is the TypeProto field that is set: 1 tensor, 4 sequence,
	// 5 map, 8 sparse tensor, 9 optional; 0 when no type is declared.
	typeCase int
}

// graphInfo is what wire parsing learns about a model.
type graphInfo struct {
	hasGraph     bool
	inputs       []valueInfo
	outputs      []valueInfo
	valueInfos   []valueInfo
	initializers map[string]bool
	ops          []string // op types in node order ("domain:Op" for custom domains)
	consumed     map[string]bool
	opset        int64 // version of the default ONNX domain, 0 if not declared
	softmaxes    []softmaxNode
	nodes        []nodeInfo
	// every holds every node of the model: those of the graph, of the
	// subgraphs of If, Loop and Scan at any depth, and of the model's
	// local functions (parseModel sets it).
	every []nodeInfo
	// functions holds the model's local functions, as domain + ":" + name.
	functions map[string]bool
}

// nodeInfo is what the ONNX Runtime engine needs of a node: which values
// it reads, and the lists of categories or class labels some ai.onnx.ml
// ops carry (cats_strings, keys_strings, classlabels_strings,
// classlabels_int64s).
type nodeInfo struct {
	op, domain string
	inputs     []string
	outputs    []string
	castTo     int64 // Cast's "to" element type, 0 otherwise
	strs       map[string][]string
	ints       map[string][]int64
	// lens is the length of every list attribute of an ai.onnx.ml node.
	lens map[string]int
	// notPositive says which of the node's strides, dilations,
	// kernel_shape, group and num_groups attributes holds a value below 1,
	// or may (one a local function's node takes from its caller).
	notPositive string
	// nested is set, in graphInfo.every, for a node of a subgraph or of a
	// local function.
	nested bool
}

// positiveAttrs are the attributes of the default domain's convolutions
// and pools (Conv, ConvTranspose, MaxPool, AveragePool, ...) and of
// GroupNormalization whose values must be at least 1: ONNX Runtime
// divides by some of them unchecked (a stride of 0 in a pool or a
// convolution, a group of 0 in ConvTranspose, num_groups 0 in
// GroupNormalization), and the process dies of SIGFPE.
var positiveAttrs = map[string]bool{"strides": true, "dilations": true, "kernel_shape": true, "group": true, "num_groups": true}

// listAttrs are the attributes whose lists nodeInfo keeps.
var listAttrs = map[string]bool{
	"cats_strings": true, "keys_strings": true, "classlabels_strings": true, "classlabels_int64s": true, "classlabels_ints": true,
	// the structure of ai.onnx.ml tree ensembles, which is checked
	"nodes_treeids": true, "nodes_nodeids": true, "nodes_featureids": true, "nodes_modes": true,
	"nodes_truenodeids": true, "nodes_falsenodeids": true,
	"class_treeids": true, "class_nodeids": true, "class_ids": true,
	"target_treeids": true, "target_nodeids": true, "target_ids": true,
}

// softmaxNode is a Softmax node: its meaning changed in opset 13, and
// gorgonnx implements the older one.
type softmaxNode struct {
	input   string
	axis    int64
	hasAxis bool
}

// field is one decoded protobuf field.
type field struct {
	num  int
	typ  int
	v    uint64 // varint or fixed value
	data []byte // for wireBytes
}

// readVarints calls fn with each varint of p, a packed repeated field
// of an integer type; a varint cut short is errTruncated.
func readVarints(p []byte, fn func(uint64)) error {
	for len(p) > 0 {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return errTruncated
		}
		fn(v)
		p = p[n:]
	}
	return nil
}

// readFields decodes the top-level fields of one message, calling fn for
// each. It rejects malformed wire data; it does not recurse.
func readFields(b []byte, fn func(f field) error) error {
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return errTruncated
		}
		b = b[n:]
		f := field{num: int(key >> 3), typ: int(key & 7)}
		if key>>3 == 0 || key>>3 > 1<<29 {
			return fmt.Errorf("invalid field number %d", key>>3)
		}
		switch f.typ {
		case wireVarint:
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return errTruncated
			}
			f.v, b = v, b[n:]
		case wireFixed64:
			if len(b) < 8 {
				return errTruncated
			}
			f.v, b = binary.LittleEndian.Uint64(b), b[8:]
		case wireFixed32:
			if len(b) < 4 {
				return errTruncated
			}
			f.v, b = uint64(binary.LittleEndian.Uint32(b)), b[4:]
		case wireBytes:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return errTruncated
			}
			f.data, b = b[n:n+int(l)], b[n+int(l):]
		default:
			// Groups are deprecated and unused by onnx.proto.
			return fmt.Errorf("unsupported wire type %d for field %d", f.typ, f.num)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// parseModel reads the parts of a ModelProto that Load needs. Its errors
// are *serving.FormatError: serving.ErrCorruptModel for bytes that do not
// decode, serving.ErrUnsupportedModel for a model that keeps tensor data
// in external files (see checkExternal).
func parseModel(b []byte) (*graphInfo, error) {
	gi, err := parseModelWire(b)
	if err != nil {
		return nil, serving.Corrupt(FormatName, err)
	}
	if err := checkExternal(b); err != nil {
		var ee *externalDataError
		if errors.As(err, &ee) || errors.Is(err, errTooDeep) {
			return nil, serving.Unsupported(FormatName, err)
		}
		return nil, serving.Corrupt(FormatName, err)
	}
	if gi.every, gi.functions, err = everyNode(b); err != nil {
		// checkExternal has walked the same fields to the same depth.
		return nil, serving.Corrupt(FormatName, err)
	}
	return gi, nil
}

// everyNode reads every node of a ModelProto: those of its graph, of the
// subgraphs of If, Loop and Scan to any depth, and of its local
// functions, whose domain + ":" + name it also returns.
func everyNode(b []byte) ([]nodeInfo, map[string]bool, error) {
	into := &graphInfo{consumed: map[string]bool{}}
	functions := map[string]bool{}
	err := readFields(b, func(f field) error {
		if f.typ != wireBytes {
			return nil
		}
		switch f.num {
		case fModelGraph:
			return nodesOfGraph(f.data, 0, into)
		case fModelFunctions:
			var name, domain string
			err := readFields(f.data, func(ff field) error {
				if ff.typ != wireBytes {
					return nil
				}
				switch ff.num {
				case fFunctionName:
					name = string(ff.data)
				case fFunctionDomain:
					domain = string(ff.data)
				case fFunctionNode:
					return nodeAndSubgraphs(ff.data, 0, true, into)
				}
				return nil
			})
			functions[domain+":"+name] = true
			return err
		}
		return nil
	})
	return into.nodes, functions, err
}

// nodesOfGraph appends the nodes of a GraphProto, and of its subgraphs,
// to into.nodes.
func nodesOfGraph(b []byte, depth int, into *graphInfo) error {
	if depth > maxGraphDepth {
		return errTooDeep
	}
	return readFields(b, func(f field) error {
		if f.num == fGraphNode && f.typ == wireBytes {
			return nodeAndSubgraphs(f.data, depth, depth > 0, into)
		}
		return nil
	})
}

// nodeAndSubgraphs appends a NodeProto, then the nodes of the graphs its
// attributes hold, to into.nodes.
func nodeAndSubgraphs(b []byte, depth int, nested bool, into *graphInfo) error {
	if err := parseNode(b, into); err != nil {
		return err
	}
	into.nodes[len(into.nodes)-1].nested = nested
	return readFields(b, func(f field) error {
		if f.num != fNodeAttr || f.typ != wireBytes {
			return nil
		}
		return readFields(f.data, func(af field) error {
			if (af.num == fAttrGraph || af.num == fAttrGraphs) && af.typ == wireBytes {
				return nodesOfGraph(af.data, depth+1, into)
			}
			return nil
		})
	})
}

func parseModelWire(b []byte) (*graphInfo, error) {
	gi := &graphInfo{initializers: map[string]bool{}, consumed: map[string]bool{}}
	err := readFields(b, func(f field) error {
		switch f.num {
		case fModelGraph:
			if f.typ != wireBytes {
				return fmt.Errorf("ModelProto.graph has wire type %d", f.typ)
			}
			gi.hasGraph = true
			return parseGraph(f.data, gi)
		case fModelOpset:
			if f.typ != wireBytes {
				return fmt.Errorf("ModelProto.opset_import has wire type %d", f.typ)
			}
			var domain string
			var version int64
			err := readFields(f.data, func(of field) error {
				switch {
				case of.num == fOpsetDomain && of.typ == wireBytes:
					domain = string(of.data)
				case of.num == fOpsetVer && of.typ == wireVarint:
					version = int64(of.v)
				}
				return nil
			})
			if err == nil && (domain == "" || domain == "ai.onnx") {
				gi.opset = version
			}
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return gi, nil
}

func parseGraph(b []byte, gi *graphInfo) error {
	return readFields(b, func(f field) error {
		switch f.num {
		case fGraphNode, fGraphInitializer, fGraphInput, fGraphOutput, fGraphValueInfo:
		default:
			return nil
		}
		if f.typ != wireBytes {
			return fmt.Errorf("GraphProto field %d has wire type %d", f.num, f.typ)
		}
		switch f.num {
		case fGraphNode:
			return parseNode(f.data, gi)
		case fGraphInitializer:
			return readFields(f.data, func(tf field) error {
				if tf.num == fTensorName && tf.typ == wireBytes {
					gi.initializers[string(tf.data)] = true
				}
				return nil
			})
		default:
			vi, err := parseValueInfo(f.data)
			if err != nil {
				return err
			}
			switch f.num {
			case fGraphInput:
				gi.inputs = append(gi.inputs, vi)
			case fGraphOutput:
				gi.outputs = append(gi.outputs, vi)
			default:
				gi.valueInfos = append(gi.valueInfos, vi)
			}
			return nil
		}
	})
}

func parseNode(b []byte, gi *graphInfo) error {
	var op, domain string
	var sm softmaxNode
	var ni nodeInfo
	nin := 0
	err := readFields(b, func(f field) error {
		if f.typ != wireBytes {
			return nil
		}
		switch f.num {
		case fNodeInput:
			gi.consumed[string(f.data)] = true
			ni.inputs = append(ni.inputs, string(f.data))
			if nin == 0 {
				sm.input = string(f.data)
			}
			nin++
		case fNodeOutput:
			ni.outputs = append(ni.outputs, string(f.data))
		case fNodeOpType:
			op = string(f.data)
		case fNodeDomain:
			domain = string(f.data)
		case fNodeAttr:
			var name string
			var i int64
			var hasInt, ref bool
			var strs []string
			var ints []int64
			nlist := 0
			err := readFields(f.data, func(af field) error {
				switch {
				case af.num == fAttrFloats && af.typ == wireFixed32, af.num == fAttrInts && af.typ == wireVarint, af.num == fAttrStrings && af.typ == wireBytes:
					nlist++
				case af.num == fAttrFloats && af.typ == wireBytes:
					nlist += len(af.data) / 4
				case af.num == fAttrInts && af.typ == wireBytes:
					for _, c := range af.data {
						if c < 0x80 {
							nlist++
						}
					}
				}
				switch {
				case af.num == fAttrName && af.typ == wireBytes:
					name = string(af.data)
				case af.num == fAttrRefName && af.typ == wireBytes:
					ref = true
				case af.num == fAttrInt && af.typ == wireVarint:
					i, hasInt = int64(af.v), true
				case af.num == fAttrStrings && af.typ == wireBytes:
					strs = append(strs, string(af.data))
				case af.num == fAttrInts && af.typ == wireVarint:
					ints = append(ints, int64(af.v))
				case af.num == fAttrInts && af.typ == wireBytes: // packed
					return readVarints(af.data, func(v uint64) { ints = append(ints, int64(v)) })
				}
				return nil
			})
			if err != nil {
				return err
			}
			if ni.lens == nil {
				ni.lens = map[string]int{}
			}
			ni.lens[name] = nlist
			if listAttrs[name] {
				if len(strs) > 0 {
					if ni.strs == nil {
						ni.strs = map[string][]string{}
					}
					ni.strs[name] = strs
				}
				if len(ints) > 0 {
					if ni.ints == nil {
						ni.ints = map[string][]int64{}
					}
					ni.ints[name] = ints
				}
			}
			switch {
			case !positiveAttrs[name] || ni.notPositive != "":
			case ref:
				// A local function's node taking the value of its caller's
				// attribute: the caller may give 0.
				ni.notPositive = name + " is taken from the calling node (ref_attr_name), so it is not known to be at least 1"
			case hasInt && i < 1 || slices.ContainsFunc(ints, func(v int64) bool { return v < 1 }):
				ni.notPositive = name + " holds a value below 1"
			}
			if name == "axis" && hasInt {
				sm.axis, sm.hasAxis = i, true
			}
			if name == "to" && hasInt {
				ni.castTo = i
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if op == "Softmax" && (domain == "" || domain == "ai.onnx") {
		gi.softmaxes = append(gi.softmaxes, sm)
	}
	ni.op, ni.domain = op, domain
	gi.nodes = append(gi.nodes, ni)
	if domain != "" && domain != "ai.onnx" {
		op = domain + ":" + op
	}
	gi.ops = append(gi.ops, op)
	return nil
}

func parseValueInfo(b []byte) (valueInfo, error) {
	var vi valueInfo
	err := readFields(b, func(f field) error {
		if f.typ != wireBytes {
			return nil
		}
		switch f.num {
		case fValueInfoName:
			vi.name = string(f.data)
		case fValueInfoType:
			return readFields(f.data, func(tf field) error {
				if tf.typ == wireBytes && (tf.num == 4 || tf.num == 5 || tf.num == 8 || tf.num == 9) {
					vi.typeCase = tf.num
				}
				if tf.num != fTypeTensor || tf.typ != wireBytes {
					return nil
				}
				vi.typeCase = fTypeTensor
				vi.hasType = true
				return parseTensorType(tf.data, &vi)
			})
		}
		return nil
	})
	return vi, err
}

func parseTensorType(b []byte, vi *valueInfo) error {
	return readFields(b, func(f field) error {
		switch {
		case f.num == fTensorTypeElem && f.typ == wireVarint:
			vi.elem = int64(f.v)
		case f.num == fTensorTypeShape && f.typ == wireBytes:
			vi.hasShape = true
			vi.dims = vi.dims[:0]
			return readFields(f.data, func(sf field) error {
				if sf.num != fShapeDim || sf.typ != wireBytes {
					return nil
				}
				var d dim
				err := readFields(sf.data, func(df field) error {
					switch {
					case df.num == fDimValue && df.typ == wireVarint:
						d.value, d.param, d.known = int64(df.v), "", true
					case df.num == fDimParam && df.typ == wireBytes:
						d.value, d.param, d.known = 0, string(df.data), true
					}
					return nil
				})
				vi.dims = append(vi.dims, d)
				return err
			})
		}
		return nil
	})
}

// externalDataError is a tensor whose data ONNX would read from a file
// the model names (TensorProto.data_location EXTERNAL, or external_data
// entries). Neither engine is given such a model: whoever can publish a
// model must not be able to make the scorer open a path, whatever ONNX
// Runtime's own checks of that path are.
type externalDataError struct {
	tensor   string // TensorProto.name
	where    string // what holds the tensor: "initializer", "attribute \"value\" of a Constant node", ...
	location string // the external_data "location" entry, if any
}

func (e *externalDataError) Error() string {
	s := fmt.Sprintf("tensor %q keeps its data in an external file", e.tensor)
	if e.location != "" {
		loc := e.location
		if len(loc) > 80 {
			loc = loc[:80] + "..."
		}
		s += fmt.Sprintf(" (%q)", loc)
	}
	return s + " (" + e.where + "); this package reads models from bytes alone: embed the data"
}

// checkExternal walks every TensorProto a ModelProto holds (graph
// initializers and sparse initializers, tensor attributes of nodes, the
// subgraphs of If, Loop and Scan to any depth, function bodies and
// training graphs) and returns an *externalDataError for the first that
// keeps its data outside the model.
func checkExternal(b []byte) error {
	return readFields(b, func(f field) error {
		if f.typ != wireBytes {
			return nil
		}
		switch f.num {
		case fModelGraph:
			return checkGraph(f.data, 0)
		case fModelTrainingInfo:
			return readFields(f.data, func(tf field) error {
				if tf.typ == wireBytes && (tf.num == fTrainingInit || tf.num == fTrainingAlgorithm) {
					return checkGraph(tf.data, 0)
				}
				return nil
			})
		case fModelFunctions:
			return readFields(f.data, func(ff field) error {
				if ff.num == fFunctionNode && ff.typ == wireBytes {
					return checkNode(ff.data, 0)
				}
				return nil
			})
		}
		return nil
	})
}

func checkGraph(b []byte, depth int) error {
	if depth > maxGraphDepth {
		return errTooDeep
	}
	return readFields(b, func(f field) error {
		if f.typ != wireBytes {
			return nil
		}
		switch f.num {
		case fGraphNode:
			return checkNode(f.data, depth)
		case fGraphInitializer:
			return checkTensor(f.data, "initializer")
		case fGraphSparseInit:
			return checkSparse(f.data, "sparse initializer")
		}
		return nil
	})
}

func checkNode(b []byte, depth int) error {
	var op string
	var attrs [][]byte
	err := readFields(b, func(f field) error {
		switch {
		case f.num == fNodeOpType && f.typ == wireBytes:
			op = string(f.data)
		case f.num == fNodeAttr && f.typ == wireBytes:
			attrs = append(attrs, f.data)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, a := range attrs {
		var name string
		readFields(a, func(f field) error { // a decoding error surfaces below
			if f.num == fAttrName && f.typ == wireBytes {
				name = string(f.data)
			}
			return nil
		})
		where := fmt.Sprintf("attribute %q of a %s node", name, op)
		err := readFields(a, func(f field) error {
			if f.typ != wireBytes {
				return nil
			}
			switch f.num {
			case fAttrTensor, fAttrTensors:
				return checkTensor(f.data, where)
			case fAttrSparseTensor, fAttrSparseTensors:
				return checkSparse(f.data, where)
			case fAttrGraph, fAttrGraphs:
				return checkGraph(f.data, depth+1)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func checkSparse(b []byte, where string) error {
	return readFields(b, func(f field) error {
		if f.typ == wireBytes && (f.num == fSparseValues || f.num == fSparseIndices) {
			return checkTensor(f.data, where)
		}
		return nil
	})
}

// rawBits is the bits one element of each fixed-size data type takes in
// a TensorProto's raw_data (4-bit types are packed two to a byte).
var rawBits = map[uint64]int64{
	1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32, 13: 64,
	14: 64, 15: 128, 16: 16, 17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4,
}

// checkTensor refuses a TensorProto with a data_location other than
// DEFAULT (0) or with any external_data entry, whatever their wire types,
// and one whose raw_data does not hold its dims' elements of its data
// type exactly, which ONNX requires: ONNX Runtime 1.24 read 6 bytes of
// raw data as an int64 Squeeze axis and died of SIGSEGV creating the
// session. Without raw_data, the typed field of its data type
// (typedFields) must hold exactly its elements' values: ONNX Runtime
// refused the short and long ones probed, but onnx-go took an int64 axis
// of 2 values for 1 element as an unsupported model.
func checkTensor(b []byte, where string) error {
	var e externalDataError
	external := false
	var elem uint64
	elems, tooMany := int64(1), false
	var raw []byte
	hasRaw := false
	err := readFields(b, func(f field) error {
		switch {
		case f.num == fTensorDataType && f.typ == wireVarint:
			elem = f.v
		case f.num == fTensorDims && f.typ == wireVarint:
			tooMany = tooMany || mulDim(&elems, f.v)
		case f.num == fTensorDims && f.typ == wireBytes:
			readVarints(f.data, func(v uint64) { tooMany = tooMany || mulDim(&elems, v) }) // a malformed list is refused by parseModelWire
		case f.num == fTensorRaw && f.typ == wireBytes:
			raw, hasRaw = f.data, true
		}
		switch f.num {
		case fTensorName:
			if f.typ == wireBytes {
				e.tensor = string(f.data)
			}
		case fTensorDataLocation:
			if f.typ != wireVarint || f.v != 0 {
				external = true
			}
		case fTensorExternalData:
			external = true
			if f.typ != wireBytes {
				return nil
			}
			var key, value string
			readFields(f.data, func(ef field) error { // a malformed entry is refused all the same
				switch {
				case ef.num == fEntryKey && ef.typ == wireBytes:
					key = string(ef.data)
				case ef.num == fEntryValue && ef.typ == wireBytes:
					value = string(ef.data)
				}
				return nil
			})
			if key == "location" {
				e.location = value
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if external {
		e.where = where
		return &e
	}
	if bits, ok := rawBits[elem]; ok && hasRaw && (tooMany || int64(len(raw)) != (elems*bits+7)/8) {
		return fmt.Errorf("tensor %q (%s) has %d bytes of raw data for its %s elements of %s", e.tensor, where, len(raw), elemCount(elems, tooMany), elemName(int64(elem)))
	}
	if tf, ok := typedFields[elem]; ok && !hasRaw {
		n, ragged := typedValues(b, tf.field)
		want := elems * tf.per
		if tf.per == 0 { // 4-bit types, two to an int32_data value
			want = (elems + 1) / 2
		}
		if tooMany || ragged || n != want {
			return fmt.Errorf("tensor %q (%s) has %d values in field %d for its %s elements of %s", e.tensor, where, n, tf.field, elemCount(elems, tooMany), elemName(int64(elem)))
		}
	}
	return nil
}

// typedField is where a TensorProto without raw_data keeps the values of
// a data type: its field number, and how many values an element takes
// there (0 for the 4-bit types, packed two to a value).
type typedField struct {
	field int
	per   int64
}

// typedFields is the typed field of each data type onnx.proto gives one,
// by data type: float_data (4) for FLOAT and COMPLEX64 (two floats an
// element), int32_data (5) for the integer types up to 32 bits, BOOL, the
// 16-bit and 8-bit floats and the 4-bit types, string_data (6), int64_data
// (7), double_data (10) for DOUBLE and COMPLEX128, uint64_data (11) for
// UINT32 and UINT64.
var typedFields = map[uint64]typedField{
	1: {fTensorFloat, 1}, 14: {fTensorFloat, 2},
	2: {fTensorInt32, 1}, 3: {fTensorInt32, 1}, 4: {fTensorInt32, 1}, 5: {fTensorInt32, 1}, 6: {fTensorInt32, 1}, 9: {fTensorInt32, 1},
	10: {fTensorInt32, 1}, 16: {fTensorInt32, 1}, 17: {fTensorInt32, 1}, 18: {fTensorInt32, 1}, 19: {fTensorInt32, 1}, 20: {fTensorInt32, 1},
	21: {fTensorInt32, 0}, 22: {fTensorInt32, 0}, 23: {fTensorInt32, 0},
	8:  {fTensorString, 1},
	7:  {fTensorInt64, 1},
	11: {fTensorDouble, 1}, 15: {fTensorDouble, 2},
	12: {fTensorUint64, 1}, 13: {fTensorUint64, 1},
}

// typedValues counts the values a TensorProto holds in its field num,
// packed or not; ragged reports a packed run of fixed-size values whose
// length is not a multiple of their size.
func typedValues(b []byte, num int) (n int64, ragged bool) {
	readFields(b, func(f field) error { // checkTensor has read b whole
		if f.num != num {
			return nil
		}
		// A value of another wire type is an unknown field to protobuf,
		// not a value.
		switch {
		case num == fTensorString:
			if f.typ == wireBytes {
				n++
			}
		case f.typ == wireBytes && num == fTensorFloat:
			n += int64(len(f.data) / 4)
			ragged = ragged || len(f.data)%4 != 0
		case f.typ == wireBytes && num == fTensorDouble:
			n += int64(len(f.data) / 8)
			ragged = ragged || len(f.data)%8 != 0
		case f.typ == wireBytes:
			readVarints(f.data, func(uint64) { n++ }) // a varint cut short is refused by parseModelWire
		case num == fTensorFloat && f.typ == wireFixed32, num == fTensorDouble && f.typ == wireFixed64,
			num != fTensorFloat && num != fTensorDouble && f.typ == wireVarint:
			n++
		}
		return nil
	})
	return n, ragged
}

// mulDim multiplies *n by the dimension d, and reports whether the
// product passed 2^56 (or d is negative), more elements than any raw
// data holds.
func mulDim(n *int64, d uint64) bool {
	if d > 1<<56 || *n > (1<<56)/max(int64(d), 1) {
		return true
	}
	*n *= int64(d)
	return false
}

func elemCount(n int64, tooMany bool) string {
	if tooMany {
		return "more than 2^56"
	}
	return fmt.Sprint(n)
}
