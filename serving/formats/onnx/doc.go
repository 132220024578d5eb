// Package onnx is the "onnx" model format: ONNX models (the protobuf
// bytes of a ModelProto, as torch.onnx.export or skl2onnx write them), run
// by one of two engines. Importing the package registers the format with
// serving:
//
//	import _ "github.com/modelstream/modelstream/serving/formats/onnx"
//
// ONNX brings heavy dependencies (onnx-go, gorgonia, gonum), which is why
// it lives apart: a program that never imports it pays nothing for it.
//
// # Engines
//
// A model message says format "onnx", never how to run it: which engine
// runs ONNX models is the service's choice, made once at start-up with
// [UseEngine]:
//
//	onnx.UseEngine(onnx.Runtime())          // ONNX Runtime, or an error saying why not
//	onnx.UseEngine(onnx.RuntimeOrPureGo())  // ONNX Runtime if its library loads, else pure Go
//	onnx.UseEngine(onnx.PureGo())           // onnx-go in pure Go
//
// The choice is logged. A program that never calls UseEngine runs models
// on [PureGo], as before ONNX Runtime was offered: what runs a model does
// not change because a shared library happens to be installed on a host.
// [Open] returns a serving.Format over an engine, to register under a
// second name (both engines side by side, for a shadow comparison) or to
// load models directly.
//
// The pure-Go engine (onnx-go with its gorgonnx backend) needs nothing
// but Go, and runs the ops of dense and simple convolutional networks
// (about 140 of the 1072 models of the ONNX backend suite). ONNX Runtime
// runs nearly every ONNX model, tens of times faster (see the
// package's benchmarks), but needs cgo and its shared library.
//
// # ONNX Runtime
//
// The [Runtime] engine calls ONNX Runtime's C API through
// github.com/yalue/onnxruntime_go, which loads the shared library at run
// time (dlopen): nothing of ONNX Runtime is needed to build. The library
// is looked for at [LibraryPath], else at the path in the ONNXRUNTIME_LIB
// environment variable, else under the names libonnxruntime.so,
// libonnxruntime.so.1 and libonnxruntime.dylib in the dynamic loader's
// search path. Each candidate is checked before use: it must be ONNX
// Runtime and offer C API version 24 (ONNX Runtime 1.24 or newer). When
// none will do, starting the engine fails with one error wrapping
// [ErrRuntimeUnavailable] that lists every candidate and why it was
// refused. In a program built with
// CGO_ENABLED=0 the package still builds; Runtime then fails the same
// way, saying cgo is missing. The library is loaded once per process and
// stays loaded.
//
// At load, a model is parsed by this package first (corrupt bytes never
// reach ONNX Runtime, nor does a tensor whose raw data, or typed values
// (float_data, int64_data, ...), do not hold exactly its elements: 6
// bytes read as an int64 axis killed the process), each input is checked to be one a record can fill,
// ONNX Runtime builds its session (errors of its own come back, wrapped
// and named "onnxruntime: create session", inside
// serving.ErrUnsupportedModel, for a missing op or
// opset, or serving.ErrCorruptModel, for a graph it finds invalid), and
// the model runs once on ones, and once on two rows when it has a batch
// dimension, which fixes how its outputs become a Prediction. A model
// that cannot run on ones (ones are no valid shape, axes or indices for
// a record that carries them) still loads, its outputs read as declared,
// and a record it cannot run on fails alone with [ErrBackend]; what the
// load-time run would have refused is then met by records, each bounded
// by [MaxMemory] and by its context. The load-time runs are cut after a
// minute whatever Load's context, and the model refused, so that a model whose run never ends (a Loop with no
// trip count whose condition stays true) cannot hold Load, and a core,
// for good; a run at Predict lasts as long as its context lets it (a
// Loop whose trip count is a large constant and whose condition a record
// computes can run that long), so give scoring calls a deadline. Load returns when its context ends, with the
// context's error: the load-time runs are terminated, but ONNX Runtime cannot stop creating a session,
// which a hostile model can make take seconds, so a
// session being created is left to finish on a copy of the model's bytes
// and is destroyed then, holding its CPU and memory until it does. At most
// four sessions are being created at once in the process, those left to
// finish included: a Load that finds no room waits for it, until its
// context ends, so a stream of such models cannot pile up creations.
// That is the trade-off chosen: such a stream can hold all four turns,
// and other Loads in the process, of any model, then wait until their
// deadlines.
//
// Refused at load, with the reason: an input of a type a record cannot
// carry (sequences, maps, optional values, complex numbers), without a
// declared shape, or with a symbolic dimension other than a leading
// batch dimension; a graph with no input a record can fill (an input
// with a dimension of 0 takes no value of a record, and is fed empty); a
// string input whose values the graph does not list; an output a
// Prediction cannot hold (a string tensor or a sequence other than a
// classifier's label and probabilities, an optional or sparse value, a
// tensor declared with no element); an op of a domain other than ai.onnx
// and ai.onnx.ml, anywhere in the model, unless it calls a local function
// of the model (ONNX Runtime's own ops, com.microsoft and the like, are
// not checked here: one with a stride of 0 killed the process); a node
// anywhere in the model whose strides, dilations, kernel_shape, group or
// num_groups hold a value below 1, or are taken from the node calling
// its local function (ref_attr_name), since ONNX forbids it and ONNX
// Runtime divides by them unchecked (a pool or convolution with a stride
// of 0 killed the process); a Col2Im whose block_shape is not a constant
// of elements at least 1, for the same reason; a Conv, ConvTranspose or
// QLinearConv whose bias does not hold one element per output channel
// (W's first dimension; for ConvTranspose its second times group), or
// whose bias or weights are not constants the load-time walk can size
// (initializers, Constant nodes, and what DequantizeLinear, Cast,
// Identity and the walk's other ops make of them), since ONNX Runtime
// reads one bias element per channel unchecked (a bias of 1 element for
// 2^20 channels scored the memory after it, or killed the process with
// SIGSEGV), and a bias a record feeds is read past just the same; a
// Conv, ConvTranspose or QLinearConv whose weights' rank is not its
// input's (when the walk knows the input's: a graph input of fixed
// shape, or a constant) or its kernel_shape's plus 2, or that has no
// kernel_shape and an input of a rank the walk does not know, since ONNX
// Runtime then indexes the input by the weights' kernel unchecked (an
// input of rank 3 for weights of rank 4 aborted the process); a
// MaxUnpool, since ONNX Runtime aborts the process when one of its
// indices, which a record sets, falls outside its output; and a graph (or a subgraph of If, Loop
// or Scan, or a local function) with a Div or Mod whose divisor may be
// an integer 0 or -1, since ONNX Runtime would trap and kill the
// process, at load for constants, at a run for a record. A divisor is
// accepted when it is known to be floating point (declared so, or made by a Cast to a
// float type, an op that computes only in floating point, or an
// elementwise or shape op over a floating-point first input) or is an
// integer constant without 0 and -1; any other is refused. So is a graph
// in which a record's values reach an input that sets the size of a
// tensor (the shape of ConstantOfShape or Expand, the repeats of Tile,
// the limits of Range, the sizes or scales of Resize, the pads of Pad,
// the depth of OneHot, the trip count of a Loop (and, for a Loop with no
// trip count, its condition and loop values), the length of a window
// (HannWindow and the like), the frame of STFT, and the like), since a
// record could make ONNX Runtime allocate without bound; sizes taken
// from the record's shape (Shape, Size) are fixed by the model and fine.
// A node whose sizes the model's own constants set is refused when the
// tensor it makes would hold more than [MaxTensorElements] elements:
// ONNX Runtime folded constant nodes when it created a session, and a
// 218-byte ConstantOfShape of a constant [500000000] took 31 s and 4 GB
// to load (that folding is now turned off, see below). The sizes are read from small integer and floating-point
// constants (initializers and Constant nodes) and from what Identity,
// Cast, Reshape, Squeeze, Unsqueeze, Flatten, Concat, Gather, Slice (of
// one axis), Add, Sub, Mul, Div, Max, Min and Shape (of a constant, or of
// a graph input of fixed declared shape) compute from them; an input of unknown size
// (the data of Tile or Pad, the indices of OneHot) counts as non-empty,
// at its constant shape when it has one, and Resize or Upsample by scales
// is bounded when its input's shape is known. So is a sparse initializer,
// or the sparse value of a Constant, by its dense shape, since ONNX
// Runtime makes it dense when it creates the session, outside the arena
// below (one of 2^28 floats holding a single value, 100 bytes of model,
// took 2.1 GB to load). A size computed by other
// ops is not bounded there; what bounds every tensor, whatever made its
// size, is [MaxMemory] (4 GiB by default): all sessions of the process
// allocate from one arena of that size (ONNX Runtime's constant folding,
// which allocated outside it, is turned off: constants that expanded to
// 1 GiB took 2.1 GB and 11 s to load under a bound of 256 MiB, and are
// now made by the load-time run, from the arena), and a model whose load-time run
// asks for more (k Concat nodes, each of the value before it with
// itself, make 2^k floats: 26 took 850 MB) is refused at load, while a
// record that asks for more fails alone with [ErrBackend].
//
// Inputs: a feature vector fills the graph inputs in declared order, each
// row-major. float32 and float64 take the numbers; float16 and bfloat16
// take them rounded to nearest; integer and bool inputs take integral
// values in range (bool: 0 or 1), and anything else is a
// *serving.FieldError wrapping serving.ErrFieldType that names the input
// element. A string input (a category fed to LabelEncoder, OneHotEncoder
// or CategoryMapper) takes the index of the value in the list that node
// declares, which ModelInfo.Inputs gives as the input's Categories.
// ModelInfo.Inputs names an input of one element per record as in the
// graph and one of several as name[i]; a model whose one input holds
// several elements, or whose inputs hold more than 65,536 in all, names
// none and is fed by position.
//
// Outputs: a classifier (an integer or string label of one element per
// record beside class probabilities, as a ZipMap or as a tensor beside an
// ai.onnx.ml classifier that names its classes, which is how skl2onnx
// exports scikit-learn classifiers) gives Label, the class; Values, the
// probabilities in class order; Confidence, the probability of Label; and
// Value, the probability of the second class for a binary classifier and
// Confidence otherwise. Any other model gives its numeric outputs: one
// element in all is Value; more are Values, every output's elements in
// declared order, with Value and Label from the first output as the
// pure-Go engine sets them (its one element, or its largest and the
// index of the largest). An output whose size the record's values set
// (the boxes NonMaxSuppression selects, a Slice whose bounds are inputs)
// may hold no element on the load-time run on ones: the outputs are then
// read as each run makes them, rows are scored one by one, and a record
// that leaves an output empty fails with [ErrBackend].
//
// ONNX Runtime allocates every output at each run; this package reads
// each one and releases it through ONNX Runtime's C API, also when the
// run, or reading another output, fails, so no run leaves memory behind.
// An output is read as the run made it: a scalar (of no dimension) is
// one element, and an output whose rank depends on the record (a
// Reshape to a shape computed from it, say) is read whatever its rank.
// onnxruntime_go (v1.27.0) loads the library, creates the sessions and
// builds the inputs, but its Run is not used: it stops at the first
// output it cannot convert, a scalar for one, and never releases those
// after it, so that a record, or a model republished message after
// message, could make a service lose memory without bound. The engine
// reads the C handles of the binding's sessions and values, which it
// keeps in unexported fields; with a version of onnxruntime_go that keeps
// them elsewhere, starting the engine fails with [ErrRuntimeUnavailable]
// saying so.
//
// A leading symbolic dimension of every input is the batch: Predict
// feeds one row, and PredictBatch ([serving.BatchPredictor]) feeds many
// in one call of ONNX Runtime, when the load-time runs showed the outputs
// follow it and two different rows score together as each scores alone
// (a graph that mixes the rows of its batch, by a mean over it say, would
// make a record's score depend on its neighbours); otherwise rows are
// scored one by one.
//
// Concurrency: a model is safe for concurrent use; ONNX Runtime's Run is,
// and calls share one session (see [Instances] for more). Each session
// uses [IntraOpThreads] and [InterOpThreads] threads, one each by
// default, since a service scores many records at once from its own
// goroutines. Measured on 2 cores (BenchmarkRuntimeSessions -cpu 1,2
// -count 5, two runs on a quiet machine, load 1 to 3): for the torch
// MLP, whose run takes about 5 µs, calls on one shared session contend:
// 2 callers got 146k-165k records/s, fewer than 1 caller alone
// (181k-210k), at 8.5-10.1 µs of CPU time per record against 5.0-5.8; a
// pool of two sessions ([Instances](2)) got 167k-316k at 5.1-6.5 µs.
// For MNIST (about 43 µs a run) and the torch CNN (about 10 µs) one
// session and a pool of two were alike: MNIST 30k-42k records/s against
// 23k-42k, the CNN 88k-119k against 91k-144k. At load 9 to 13 the
// difference vanished (callers seldom ran at once). One session with two
// intra-op threads was never faster, and cost 1.5 to 2 times (MNIST) and
// 1.5 to 3 times (CNN) the CPU time per record. So Instances(2) pays
// for a model whose runs take a few microseconds, called from several
// goroutines at once; the defaults suit the rest. Close, which the
// Server calls once after the last call in flight, waits for calls still
// running and releases the sessions; later calls fail with
// serving.ErrClosed. A cancelled context terminates a run in progress.
//
// Against the ONNX project's own backend test suite (Debian's
// libonnx-testdata 1.12, 1072 models) on ONNX Runtime 1.24, 880 models
// load and reproduce their expected outputs; ONNX Runtime itself refuses
// 45 (an op, type or opset it does not implement); 131 are refused at
// load for the reasons above; 5 have test data that one record cannot
// carry; 10 draw random numbers; and on 1 ONNX Runtime follows a rule of
// its own that the test does not expect (it rounds float32 to the nearest
// bfloat16 where the test truncates). testdata/onnxruntime_suite.txt
// gives each model's outcome and reason.
//
// The rest of this documentation is about the pure-Go engine.
//
// # Loading
//
// Loading a model (serving.Load, or the Load of [Open]([PureGo]())) does
// everything that
// can fail before the model takes traffic. It reads the graph's declared
// interface, decodes the model with onnx-go, builds the gorgonia
// expression graph, which is where gorgonnx meets each op, and runs it
// once on zeros. A model that uses an op gorgonnx lacks, an element type
// it cannot feed, or a graph gorgonia chokes on, is refused there with an
// error wrapping serving.ErrUnsupportedModel (and onnx-go's
// *onnx.ErrNotImplemented where that is the cause), never at the first
// Predict. Bytes that are not an ONNX model are refused with
// serving.ErrCorruptModel.
//
// One op is checked beyond that: Softmax. gorgonnx implements its opset
// 1-12 meaning, and opset 13 changed it, so a Softmax whose two meanings
// differ for the shape at hand is refused rather than computed wrongly.
//
// Against the ONNX project's own backend test suite (Debian's
// libonnx-testdata, 1072 models), about 140 models load and reproduce
// their expected outputs; every other one is refused at load. The ops
// that run include Add, Sub, Mul, Div, MatMul, Gemm, Conv, MaxPool,
// GlobalAveragePool, BatchNormalization, Relu, LeakyRelu, Sigmoid, Tanh,
// Softmax, Exp, Log, Sqrt, Abs, Neg, Ceil, Floor, Sign, Concat, Flatten,
// Reshape, Transpose, Unsqueeze, Dropout, Identity and Constant, for
// float32 and float64 tensors.
//
// # Input
//
// A feature vector fills the graph's inputs (those that are not
// initializers) in their declared order, each row-major, converted to
// the input's element type (float32 or float64). A symbolic dimension,
// such as a batch dimension "N", is fixed to 1: a model scores one row at
// a time. The model says what it expects through serving.Describer:
// Features is the total number of input elements, the product of the
// input's dimensions, and Input spells out the shape, for example
//
//	float32 tensor [1 4] (symbolic N fixed to 1)
//
// A feature vector of another length is refused with a
// *serving.FeatureCountError. NaN and ±Inf pass through to the graph as
// they are; the Server's NonFinite policy decides whether they get here.
//
// # Output
//
// Predict reads the graph's first output; further outputs are not read.
// When it has one element, that element is the Prediction's Value and
// Values is nil. When it has several (class probabilities, logits, an
// image), Values holds all of them in row-major order, Value is the
// largest, and Label is the index of the largest, in decimal. Confidence
// is left at 0: the format cannot tell probabilities from scores.
// Outputs of an integer or boolean type are converted to float64.
//
// # Concurrency
//
// A model is safe for concurrent use. A gorgonnx graph holds its inputs
// and outputs as state, so each backend instance serves one call at a
// time. A model keeps up to [Instances] of them (default 1, so calls take
// turns), built on demand, each with its own copy of the weights; a call
// waits for a free instance, or returns ctx.Err() if its context ends
// first. A running graph cannot be interrupted.
//
// Graphs are executed by this package, op by op, in the calling
// goroutine, and not by gorgonia's tape machine: that machine runs ops on
// a goroutine of its own, where a panic (gorgonia panics on shapes it did
// not expect) would kill the process beyond any recover. Here a panic
// becomes an error: serving.ErrUnsupportedModel at load, [ErrBackend] at
// Predict. gorgonnx also names graph nodes from an unguarded global
// counter, so building graphs is serialised across the process.
//
// # External data
//
// ONNX lets a tensor keep its data in a file the model names
// (TensorProto.data_location EXTERNAL, with external_data entries
// "location", "offset" and "length"). A model is data from whoever can
// publish one, so both engines refuse such a model at load with
// serving.ErrUnsupportedModel naming the tensor, before onnx-go or ONNX
// Runtime sees the bytes, wherever the tensor is: an initializer or
// sparse initializer, a node attribute such as a Constant's value, a
// subgraph of If, Loop or Scan, a function body. Models are read from
// bytes alone; embed the data (onnx.save without save_as_external_data).
//
// # Limits
//
// onnx-go allocates every tensor shape a model declares when it decodes
// it; a shape larger than [MaxTensorElements] (default 16 Mi elements),
// or shapes larger than it together, are refused first. Initializers
// are bounded by the model's own size. onnx-go and gorgonia build and
// sort a graph in time quadratic in its size, so the pure-Go engine
// refuses a graph of more than 10,000 nodes, initializers, inputs,
// outputs and value_info entries. A model keeps a copy of its bytes, to
// build further instances. Values are
// allocated afresh for each call, so allocations grow with the graph.
// Nothing bounds the size of intermediate values that broadcasting can
// produce from small declared shapes.
package onnx
