package onnx

// Names the external tests use to look inside the package; users reach
// the same models through serving.Load or Open(PureGo(...)), and the
// same errors through errors.Is(err, ErrRuntimeUnavailable) and the
// error chain.
type (
	Model          = goModel
	TensorSpec     = tensorSpec
	LibraryError   = libraryError
	LibraryAttempt = libraryAttempt
	RuntimeError   = runtimeError
)

// Parse loads b on the pure-Go engine, as Open(PureGo(opts...)) does,
// and returns the model itself, to inspect its tensors.
var Parse = parsePureGo

// LiveSessions is the number of ONNX Runtime sessions being created or
// alive.
func LiveSessions() int64 { return liveSessions.Load() }

// MaxCreating is maxCreating, for tests.
const MaxCreating = maxCreating

// ElemTypes returns the element types (TensorProto.DataType) that the
// model's graph declares for its inputs and its outputs, in order; 0
// where a value declares no tensor type.
func ElemTypes(b []byte) (in, out []int64, err error) {
	gi, err := parseModelWire(b)
	if err != nil {
		return nil, nil, err
	}
	for _, v := range gi.inputs {
		in = append(in, v.elem)
	}
	for _, v := range gi.outputs {
		out = append(out, v.elem)
	}
	return in, out, nil
}
