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
