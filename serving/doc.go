// Package serving is the core of modelstream: the vocabulary of
// model-as-data and the runtime that serves models which change while
// the stream flows.
//
// # Models as data
//
// A [Descriptor] is a model as data: its name, format, version, bytes (or
// a location to fetch them from), content hash, lineage, labels and
// signature. Descriptors travel on a Kafka topic (see serving/wire and serving/kafka) and
// live in a registry (see package registry). [Load] turns a Descriptor
// into a [Model] through a registered [Format].
//
// # Formats
//
// Formats register themselves like database/sql drivers, from the init
// of their own package, so a program pays only for what it imports:
//
//	import (
//		_ "github.com/modelstream/modelstream/serving/formats/leaves"     // lightgbm, lightgbm-json, xgboost, sklearn
//		_ "github.com/modelstream/modelstream/serving/formats/linear"     // linear (linear, logistic, softmax)
//		_ "github.com/modelstream/modelstream/serving/formats/onnx"       // onnx
//		_ "github.com/modelstream/modelstream/serving/formats/pmml"       // pmml
//		_ "github.com/modelstream/modelstream/serving/formats/tensorflow" // tensorflow-graphdef, tensorflow-savedmodel
//		_ "github.com/modelstream/modelstream/serving/formats/xgboost"    // xgboost-json, xgboost-ubj
//	)
//
// [Formats] lists what is registered. Loading an unregistered format
// fails with ErrUnknownFormat and the hint "forgotten import?".
//
// # Serving
//
// A [Server] keeps one hot-swappable slot per model name.
// [Server.Activate] loads a Descriptor and swaps it in atomically: calls
// in flight finish on the version they started with, and the old version
// is closed once its last call returns. A version that fails to load or
// to validate, or is not newer than the live one, never replaces it.
//
// [Server.Model] returns a [Scorer] that always scores with the live
// version. Every [Result] carries [Provenance] naming the exact version
// that computed it. Combinators in package speculative are Scorers too,
// and record their decision in the same Provenance.
//
// # Named inputs
//
// A [Record] with a [Layout] is a named record: it says which field each
// value is. A model that names its inputs ([ModelInfo.Inputs], found
// through [Describer]) is fed by name: the Server binds a layout to the
// live version once, on the first record of that layout (a Layout is
// compared by pointer, so codecs share one per distinct set of fields),
// and caches the binding on the version, for up to 8 layouts per
// version holding up to 1 MiB of field names together (a layout
// larger on its own is bound again for each record). Each record is then gathered into the model's order in a
// pooled buffer, with no allocation; a categorical input receives the
// code of the record's text in [Input.Categories]. Fields the model does
// not read are ignored, so a version that reads other, fewer or
// reordered fields swaps in as data.
//
// A record that cannot feed the live version fails alone with a
// *[FieldError] naming the field: ErrMissingField, or ErrFieldType for
// text where a number goes, a number where a category goes, or a
// category the model has never seen. [WithStreamFields] declares a
// stream's fields up front, so that a version needing a field the stream
// lacks is refused at activation instead. A model that names no inputs
// is fed a named record by position when the layout has exactly as many
// fields as the model reads (ModelInfo.Features), and refused with
// ErrFeatureCount otherwise; one that does not say how many it reads
// (no Describer, or Features 0) gets it by position and checks the count
// itself. Positional records (a nil Layout) go
// straight to the model, as they always did.
//
// # Admission
//
// [WithAdmission] gives a Server the checks every model must pass before
// it becomes live, such as the signature policy of package governance.
// The Server asks its [Admitter] on every path that activates a model
// (Activate, and so the Kafka model feed and the registry's Restore and
// Rollback), before anything is fetched from a Location; fetched bytes
// must then match the SHA-256 that was admitted. A refusal wraps
// ErrNotAdmitted.
//
// # Validation
//
// Before a version goes live, the Server tries it: on probe records of
// yours, and on records sampled from the traffic the name has scored (one
// in 64, the last 32 kept). It must answer them with finite outputs,
// as many as it declares, and, with a Tolerance, close to the live
// version's answers; otherwise it is refused with an error wrapping
// ErrValidation. This is on by default; [WithValidation] adds probes and
// a tolerance.
//
// # Locations
//
// A Descriptor may carry a Location (a file:// or http(s):// URL)
// instead of its bytes. Whoever writes the models topic chooses it, so
// the Server fetches only from the prefixes listed in
// [LoadOptions].AllowLocations, and from none by default: a Location
// elsewhere fails with ErrLocationNotAllowed before anything is fetched.
// So does one whose Descriptor does not pin the bytes with their SHA256,
// unless [LoadOptions].AllowUnpinned: otherwise whoever serves the
// Location would choose the model. Every fetch has a deadline and a size
// cap ([WithLoadOptions]).
//
// # Errors
//
// Errors wrap package sentinels such as ErrUnknownFormat, ErrChecksum,
// ErrCorruptModel, ErrFeatureCount and ErrStaleVersion, usually inside a
// struct error ([ModelError], which names the model version that failed
// to load or to score, [FeatureCountError], [VersionError]) that carries
// the details. Test them with errors.Is and
// errors.As.
//
// Four sentinels mean the same thing in every package of the module,
// which wraps them rather than declaring its own: [ErrConfig], a bad
// constructor argument or option; [ErrClosed], a call after Close;
// [ErrCorruptState], saved state that cannot be restored (a checkpoint
// of a trainer, a feedback reader, a quality tracker or a bandit, or a
// registry's storage in a layout it does not read); and [ErrOutcome], a
// label, loss or reward that is refused (an [OutcomeError] names the
// value).
//
// # Non-finite inputs
//
// By default a Server refuses NaN and ±Inf features with ErrNonFinite,
// because a NaN silently poisons a linear model. [WithNonFinite] with
// AllowMissing passes NaN through as "missing" for tree models, which
// handle it natively.
//
// # Cost
//
// A Server slot adds to each call: one atomic add that takes the
// version's reference and counts the call, one that gives it back, the
// context check, the NaN/Inf check of the features (one sum, and a look
// at each value only when the sum is not finite), and, on one call in 64
// (one batch in 64 to 128 for ScoreBatch), two clock reads for [Stats]
// (every call while a [HookScored] is installed). With a model that does
// nothing that is 51 to 63ns of CPU per Score call, 17.8 to 28.7ns per
// record for ScoreBatch in batches of 8 and 13.6 to 14.6ns in batches
// of 64, where one sum over the whole batch checks it for NaN and ±Inf
// (BenchmarkFiniteCheck compares the check with the other ways to write
// it): `go test ./serving/formats/leaves/ -run '^$' -bench
// ServerOverhead -count 3` (BenchmarkServerOverhead and
// BenchmarkServerOverheadBatch, cpu-ns per call or record, range of 3
// runs) on a quiet two-core machine. Against bare leaves on a 39-tree
// LightGBM model with 30 features (64 distinct rows, about 1.2µs each),
// measured interleaved on each side's own thread CPU clock and averaged
// over 8 placements of the trees in memory (BenchmarkPairedOverhead, 3
// runs), a Score call through a Server costs 0.67× to 0.68× the bare
// leaves prediction, and ScoreBatch 0.64× per record in batches of 8
// and 0.61× to 0.62× in batches of 64: serving/formats/leaves evaluates the
// trees itself, in 0.60× to 0.64× of leaves' time (see its
// Evaluation section). Against that model, the Server's own share is
// 1.058× to 1.067× at one record a call, 1.021× to 1.029× in batches
// of 8 and 1.016× to 1.027× in batches of 64 (server/model).
package serving
