// Package tensorflow holds two model formats evaluated in pure Go:
// "tensorflow-graphdef", a TensorFlow frozen graph (the protobuf bytes
// of a GraphDef whose variables were turned into constants, as
// tf.compat.v1.graph_util.convert_variables_to_constants or
// freeze_graph.py write it), and "tensorflow-savedmodel", a SavedModel
// directory sent as a tar archive (see SavedModel below). Importing the
// package registers both with serving:
//
//	import _ "github.com/modelstream/modelstream/serving/formats/tensorflow"
//
// # Ops
//
// The ops of dense and simple convolutional networks run, on float32
// and float64 tensors (int32 and int64 tensors for shapes, axes, ArgMax
// and Cast):
//
//	Placeholder, Const, Identity, MatMul (transpose_a, transpose_b),
//	BiasAdd, Add, AddV2, Sub, Mul, RealDiv, Maximum, Minimum (with NumPy
//	broadcasting), Relu, Relu6, Elu, Selu, Sigmoid, Tanh, Softmax,
//	LogSoftmax (over the last axis), Reshape, Squeeze, ExpandDims,
//	ConcatV2, Conv2D (SAME or VALID padding, strides, dilations),
//	MaxPool, AvgPool, Mean, Sum (keep_dims, any axes), ArgMax and Cast.
//
// Conv2D, MaxPool, AvgPool and BiasAdd take both data formats, NHWC and
// NCHW; an NCHW op runs the NHWC computation between two transposes.
//
// Only the nodes the output depends on are compiled; any other op among
// them is refused at load with an error wrapping
// serving.ErrUnsupportedModel that names the op and the node. So are
// other data formats (NCHW_VECT_C), EXPLICIT padding, grouped
// convolutions and outputs other than a node's first. Control inputs ("^name") are ignored: a
// frozen graph has no side effects to order.
//
// # Loading
//
// Load decodes the GraphDef with google.golang.org/protobuf, from this
// package's own copy of the subset of TensorFlow's schema it reads, and
// compiles it once. It walks the graph back from the output to the
// placeholders, in topological order, with an explicit stack: a cycle
// is refused, and a graph of any depth compiles without growing the
// goroutine stack. Every tensor gets its shape at load, so a shape that
// does not fit (a MatMul of [1 30] by [20 64], a Reshape of 6 elements
// into 4) is refused at load, never met at Predict. Everything computed
// from constants alone is computed then, once: the shape input of a
// Reshape, the axes of a Mean, a constant subgraph. The shape, axis and
// dimension inputs of Reshape, ExpandDims, ConcatV2, Mean, Sum and
// ArgMax must be such constants.
//
// # Inputs
//
// The graph's inputs are the Placeholder nodes the output depends on, in
// the order of the GraphDef. Each must be DT_FLOAT or DT_DOUBLE and
// have a known shape, where only the leading dimension may be unknown
// (-1): that is the batch dimension, fixed to 1 record per Predict. A
// placeholder of unknown rank, of an integer type, or with an unknown
// inner dimension cannot be fed from a record and is refused at load
// with the reason.
//
// A record feeds the placeholders one after the other, each with the
// elements of its shape (without the batch dimension) in row-major
// order. The model names them in serving.ModelInfo.Inputs: a
// placeholder of one element per record by its node name ("age"); a
// placeholder of k elements, such as the usual [-1, k] input, as
// "x:0" ... "x:k-1"; a model of more than 65,536 features per record
// names none and is fed by position. A Descriptor label [LabelInputs]
// renames them all, so that a [-1, 30] placeholder reads the stream's
// named fields:
//
//	tensorflow.inputs: "age,income,tenure,..."
//
// # Outputs
//
// The output is the node named by the label [LabelOutput], or the one
// node that no other node reads. Its elements for one record are the
// prediction: one element sets Prediction.Value; several set Values,
// with Value the largest, Label its index (or its name from
// [LabelClasses]) and, when the output node is a Softmax, Confidence
// that largest probability.
//
// # Speed and safety
//
// A compiled model is a list of steps over
// preallocated buffers. Each Predict call takes a set of buffers from a
// sync.Pool, so calls run concurrently and a model with one output per
// record allocates nothing per call. PredictBatch (serving.BatchPredictor) runs
// BatchRows records through the graph at once when every placeholder
// has a batch dimension and, checked at load on pseudo-random rows, the
// graph computes each row of a batch exactly as it computes that row
// alone; otherwise it scores rows one at a time.
//
// Hostile bytes cannot crash, stall or exhaust the process: undecodable
// or truncated protobuf, duplicate or missing nodes, cycles and shapes
// that do not fit fail with serving.ErrCorruptModel; every declared
// shape and constant is bounded by [MaxElements] before anything is
// allocated for it, and the arithmetic of a call (and of the constant
// folding at load) by [MaxOps], both failing with serving.ErrTooLarge as
// well; the node count is bounded by [MaxNodes]. A protobuf cut at a
// node boundary is still a valid, smaller GraphDef, and loads if what is
// left makes sense. Predict checks its context before it starts; MaxOps
// bounds how long a call runs once started.
//
// # SavedModel
//
// The "tensorflow-savedmodel" format ([SavedModelFormatName]) takes the
// directory tf.saved_model.save, a Keras model's export or
// SavedModelBuilder writes, archived with tar, gzip compressed or not
// (`tar -czf model.tgz -C export/1 .`). saved_model.pb may lie at the
// archive's root or in a directory below it (a version directory);
// Load reads it and variables/variables.index with the
// variables.data-NNNNN-of-MMMMM shards beside it, and skips every other
// entry (assets, fingerprint.pb).
//
// Load serves one signature of the MetaGraphDef tagged "serve":
// "serving_default", or the one the label [LabelSignature] names. The
// signature's inputs are fed in the order of their keys, and
// serving.ModelInfo.Inputs names them by those keys, so a signature
// with inputs "age" and "income" reads the stream's fields of those
// names; an input that the output does not depend on is not fed, and
// is left out of Inputs. Each input is fed where the signature says, whatever computes
// that tensor in the graph (a PlaceholderWithDefault, or the Identity
// after a ParseExample that TensorFlow Serving's classify and regress
// APIs feed), and must declare a shape, as placeholders must. The
// output is the signature's only output, or the one the label
// [LabelOutput] names by its key.
//
// Load then builds the frozen graph that TensorFlow's loader would
// run: the functions that TF2 signatures call (PartitionedCall,
// StatefulPartitionedCall) are inlined, those the signature and the
// restore op depend on only, so that the functions of other signatures
// do not count against [MaxNodes]; each variable the output reads,
// TF1 VariableV2 (read through Identity) or TF2 resource variable
// (VarHandleOp read with ReadVariableOp), becomes a constant holding its
// value in the checkpoint, found under the key that the graph's own
// restore op (RestoreV2 feeding Assign or AssignVariableOp) gives it;
// and the result compiles as a frozen graph, with every rule above.
// Only what the output depends on is compiled: initializers, save and
// restore functions and signatures fed by strings are ignored, and any
// op among what remains that this package does not run is refused with
// serving.ErrUnsupportedModel naming it.
//
// The checkpoint is read by this package's own small reader of the
// TensorBundle layout: a sorted table in LevelDB's file layout (blocks
// Snappy-compressed or not, each checked against its CRC-32C) of
// BundleEntryProto records, each locating a tensor's little-endian
// bytes in a data shard and giving their CRC-32C, checked too.
//
// An archive is untrusted bytes. Its uncompressed size is bounded by
// [MaxArchiveBytes] while it is read, so a gzip bomb stops at the
// bound; entries with absolute names or ".." components, symbolic and
// hard links, devices, repeated names and a second saved_model.pb are
// refused; every offset, size and length in the checkpoint is checked
// against the bytes there before use. All of these fail with
// serving.ErrCorruptModel, as do a CRC mismatch and a variable missing
// from the checkpoint; partitioned variables, big-endian checkpoints and
// sparse or composite signature tensors with serving.ErrUnsupportedModel.
//
// # Tested against TensorFlow
//
// Besides each op against a plain-loop computation of its own, the tests
// run 229 frozen graphs that TensorFlow wrote for the TensorFlow import
// tests of Deeplearning4j (dense layers, convolutions, poolings,
// reductions, a softmax regression trained on MNIST, ...) and compare
// with the outputs TensorFlow recorded: 203 reproduce them; the others
// are refused at load, for the element types this package does not
// compute with (float16, bfloat16, int8, int16, unsigned), empty outputs,
// and one graph whose unknown leading dimensions are not batch
// dimensions. The SavedModel format is tested on the half_plus_two
// SavedModels that TensorFlow wrote for TensorFlow Serving's tests, in
// their TF1 and TF2 forms, against the function they document.
package tensorflow
