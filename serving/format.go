package serving

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/modelstream/modelstream/internal/contentid"
)

// Format decodes model bytes of one kind into a Model. Formats register
// themselves with [Register] from their package's init, like
// database/sql drivers, so a program pays only for the formats it
// imports:
//
//	import _ "github.com/modelstream/modelstream/serving/formats/leaves"
//
// Load receives a Descriptor whose Bytes are present and verified. It
// must not retain d.Bytes after returning unless it copied them. Errors
// should be built with [Corrupt] or [Unsupported] so callers can tell
// them apart with errors.Is. A panic in Load is caught and reported as
// ErrCorruptModel, but it is a bug of the format: bad bytes deserve an
// error that says what is wrong with them.
type Format interface {
	Load(ctx context.Context, d Descriptor) (Model, error)
}

// FormatFunc adapts a function to the Format interface.
type FormatFunc func(ctx context.Context, d Descriptor) (Model, error)

// Load calls f(ctx, d).
func (f FormatFunc) Load(ctx context.Context, d Descriptor) (Model, error) { return f(ctx, d) }

var (
	formatsMu sync.RWMutex
	formats   = map[string]Format{}
)

// Register makes a format available under name. It panics if name is
// empty, if f is nil, or if Register is called twice with the same name:
// these are programming errors caught at init.
func Register(name string, f Format) {
	formatsMu.Lock()
	defer formatsMu.Unlock()
	if name == "" {
		panic("serving: Register with an empty format name")
	}
	if f == nil {
		panic("serving: Register format " + name + " is nil")
	}
	if _, dup := formats[name]; dup {
		panic("serving: Register called twice for format " + name)
	}
	formats[name] = f
}

// Formats returns the names of the registered formats, sorted.
func Formats() []string {
	formatsMu.RLock()
	defer formatsMu.RUnlock()
	names := make([]string, 0, len(formats))
	for n := range formats {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func lookupFormat(name string) (Format, bool) {
	formatsMu.RLock()
	defer formatsMu.RUnlock()
	f, ok := formats[name]
	return f, ok
}

// defaultMaxModelBytes is the largest model Load fetches from a Location
// unless told otherwise with [LoadOptions].MaxBytes.
const defaultMaxModelBytes = 1 << 30

// Load decodes d into a Model through its registered format.
//
// Before calling the format, Load resolves d: it checks that d has a
// name and a known format, and verifies d.Bytes against d.SHA256 when one
// is given. Load fetches nothing: it has no [LoadOptions], so a
// Descriptor with only a Location fails with ErrLocationNotAllowed; a
// Server given [WithLoadOptions] fetches from the locations they allow.
// The returned error is a *ModelError wrapping one of
// ErrInvalidDescriptor, ErrUnknownFormat, ErrLocationNotAllowed,
// ErrTooLarge, ErrChecksum, ErrCorruptModel or ErrUnsupportedModel.
func Load(ctx context.Context, d Descriptor) (Model, error) {
	rd, err := resolve(ctx, d, loader{})
	if err != nil {
		return nil, err
	}
	return loadResolved(ctx, rd)
}

// LoadOptions tune how a Server (see [WithLoadOptions]) fetches and bounds
// model bytes.
//
// A Descriptor's Location is untrusted input: anyone who can write to the
// models topic chooses it. So nothing is fetched unless AllowLocations
// allows it, every fetch has a deadline, and no fetch holds more than
// MaxBytes in memory.
type LoadOptions struct {
	// MaxBytes limits the model size, both inline and fetched. A fetch
	// never holds more than MaxBytes+1 bytes of the body in memory.
	// Zero (or a negative value) means 1 GiB.
	MaxBytes int64
	// HTTPClient fetches http(s) locations. Nil means a client with no
	// other settings than the redirect check below. Whatever the client,
	// each redirect is checked against AllowLocations, and at most 5 are
	// followed.
	HTTPClient *http.Client
	// AllowLocations lists where a Location may point, as URL prefixes.
	// The default, empty, allows no Location at all: a model must come
	// with its bytes. Each entry is a URL with a scheme:
	//
	//	https://models.example.com/prod/   that host (and port), paths under /prod/
	//	http://10.0.0.7:8080/              that host and port, any path
	//	file:///var/lib/models/            regular files under that directory
	//
	// A Location is allowed when its scheme and host equal an entry's and
	// its path lies under the entry's path, whole segments matched:
	// "http://h/models" allows "http://h/models/a", not
	// "http://h/models-old/a". The paths of entries and Locations must
	// be clean (no "//", "." or ".." segment, escaped or not): a Location
	// such as "http://h/other/../models/a" is refused, since the server
	// receives it as written. So is one that a more lenient server reads
	// as climbing: a segment "..;" (Tomcat and Jetty drop ";parameters"),
	// a backslash, or a dot segment escaped twice or more ("%252e%252e",
	// "%25252e%25252e"; a segment still escaped after five decodings is
	// refused unjudged). A file must be a regular file after symbolic
	// links are resolved, and the resolved path must still be under the
	// directory (itself resolved, when it is reached through a link): a
	// FIFO, a device or a link out of the directory is refused. The file
	// is opened through an [os.Root] on the directory, so a file swapped
	// for a link out of it after that check is refused too. The entries
	// are parsed once, by NewServer.
	AllowLocations []string
	// AllowUnpinned lets a Location Descriptor without a SHA256 be
	// fetched. Its bytes are then bound to nothing: whoever serves the
	// Location, or can replace the file, chooses the model that goes
	// live, and its content ID is the hash of whatever was fetched. The
	// default, false, refuses such a Descriptor with
	// ErrLocationNotAllowed before anything is fetched. Whatever this
	// says, a SHA256 that is not 64 lowercase hex digits is refused with
	// ErrInvalidDescriptor before any fetch, as it can match no bytes.
	AllowUnpinned bool
	// FetchTimeout bounds each fetch, connection and body included.
	// Zero means 30 seconds.
	FetchTimeout time.Duration
}

// defaultFetchTimeout bounds a fetch from a Location unless
// [LoadOptions].FetchTimeout says otherwise.
const defaultFetchTimeout = 30 * time.Second

// resolve checks d and makes its bytes present and verified. The returned
// Descriptor has Bytes set (fetched from Location if needed) and SHA256
// set to their content ID. Errors are as for [Load].
func resolve(ctx context.Context, d Descriptor, o loader) (Descriptor, error) {
	fail := func(err error) (Descriptor, error) {
		return d, &ModelError{load: true, Model: d.Ref(), Err: err}
	}
	if d.Name == "" {
		return fail(fmt.Errorf("%w: empty name", ErrInvalidDescriptor))
	}
	if d.Format == "" {
		return fail(fmt.Errorf("%w: empty format", ErrInvalidDescriptor))
	}
	if _, ok := lookupFormat(d.Format); !ok {
		return fail(fmt.Errorf("%w %q (forgotten import?)", ErrUnknownFormat, d.Format))
	}
	max := o.MaxBytes
	if max <= 0 {
		max = defaultMaxModelBytes
	}
	if len(d.Bytes) == 0 {
		if d.Location == "" {
			return fail(fmt.Errorf("%w: neither bytes nor location", ErrInvalidDescriptor))
		}
		if d.SHA256 != "" && !contentid.Valid(d.SHA256) {
			return fail(fmt.Errorf("%w: the SHA256 is not 64 lowercase hex digits", ErrInvalidDescriptor))
		}
		b, err := fetch(ctx, d.Location, d.SHA256 != "", max, o)
		if err != nil {
			return fail(err)
		}
		d.Bytes = b
	}
	if int64(len(d.Bytes)) > max {
		return fail(fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(d.Bytes), max))
	}
	id := ContentID(d.Bytes)
	if d.SHA256 != "" && d.SHA256 != id {
		return fail(&ChecksumError{Want: d.SHA256, Got: id})
	}
	d.SHA256 = id
	return d, nil
}

// loadResolved calls the format on a resolved descriptor.
func loadResolved(ctx context.Context, d Descriptor) (Model, error) {
	fail := func(err error) (Model, error) {
		return nil, &ModelError{load: true, Model: d.Ref(), Err: err}
	}
	f, ok := lookupFormat(d.Format)
	if !ok {
		return fail(fmt.Errorf("%w %q (forgotten import?)", ErrUnknownFormat, d.Format))
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	m, err := safeLoad(ctx, f, d)
	if err != nil {
		return fail(err)
	}
	if m == nil {
		return fail(Corrupt(d.Format, fmt.Errorf("format returned a nil model")))
	}
	return m, nil
}

// safeLoad calls f.Load, turning a panic into an ErrCorruptModel: the
// bytes come from whoever writes the models topic, and a decoder bug they
// reach must refuse that model, not take down the goroutine that reads
// the topic (and with it the process), as validation does for Predict.
func safeLoad(ctx context.Context, f Format, d Descriptor) (m Model, err error) {
	defer func() {
		if v := recover(); v != nil {
			m, err = nil, Corrupt(d.Format, fmt.Errorf("the format panicked: %v", v))
		}
	}()
	return f.Load(ctx, d)
}

// safeInputs reads m's inputs (newInputs), turning a panic of its
// Describe, or inputs that disagree with its feature count, into an
// ErrCorruptModel as safeLoad does.
func safeInputs(m Model, ref ModelRef) (in *inputs, err error) {
	defer func() {
		if v := recover(); v != nil {
			in, err = nil, Corrupt(ref.Format, fmt.Errorf("Describe panicked: %v", v))
		}
	}()
	in, err = newInputs(m)
	if err != nil {
		return nil, Corrupt(ref.Format, err)
	}
	return in, nil
}

// safeWarm warms m when it is a Warmer, turning a panic into an
// ErrCorruptModel as safeLoad does: a warm-up runs the model on what its
// bytes made of it.
func safeWarm(ctx context.Context, m Model, ref ModelRef) (err error) {
	w, ok := m.(Warmer)
	if !ok {
		return nil
	}
	defer func() {
		if v := recover(); v != nil {
			err = Corrupt(ref.Format, fmt.Errorf("the warm-up panicked: %v", v))
		}
	}()
	return w.Warm(ctx)
}
