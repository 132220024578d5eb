package serving

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
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
// them apart with errors.Is.
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

// DefaultMaxModelBytes is the largest model Load fetches from a Location
// unless told otherwise with [LoadOptions].
const DefaultMaxModelBytes = 1 << 30

// Load decodes d into a Model through its registered format.
//
// Before calling the format, Load resolves d: it checks
// that d has a name and a known format, fetches the bytes from d.Location
// when d.Bytes is empty, and verifies them against d.SHA256 when one is
// given. The returned error is a *LoadError wrapping one of
// ErrInvalidDescriptor, ErrUnknownFormat, ErrFetch, ErrTooLarge,
// ErrChecksum, ErrCorruptModel or ErrUnsupportedModel.
func Load(ctx context.Context, d Descriptor) (Model, error) {
	rd, err := resolve(ctx, d, LoadOptions{})
	if err != nil {
		return nil, err
	}
	return loadResolved(ctx, rd)
}

// LoadOptions tune how a Server (see [WithLoadOptions]) fetches and bounds
// model bytes.
type LoadOptions struct {
	// MaxBytes limits the model size, both inline and fetched.
	// Zero (or a negative value) means DefaultMaxModelBytes.
	MaxBytes int64
	// HTTPClient fetches http(s) locations. Nil means http.DefaultClient.
	HTTPClient *http.Client
}

// resolve checks d and makes its bytes present and verified. The returned
// Descriptor has Bytes set (fetched from Location if needed) and SHA256
// set to their content ID. Errors are as for [Load].
func resolve(ctx context.Context, d Descriptor, o LoadOptions) (Descriptor, error) {
	fail := func(err error) (Descriptor, error) {
		return d, &LoadError{Ref: d.Ref(), Err: err}
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
		max = DefaultMaxModelBytes
	}
	if len(d.Bytes) == 0 {
		if d.Location == "" {
			return fail(fmt.Errorf("%w: neither bytes nor location", ErrInvalidDescriptor))
		}
		b, err := fetch(ctx, d.Location, max, o.HTTPClient)
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
		return nil, &LoadError{Ref: d.Ref(), Err: err}
	}
	f, ok := lookupFormat(d.Format)
	if !ok {
		return fail(fmt.Errorf("%w %q (forgotten import?)", ErrUnknownFormat, d.Format))
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	m, err := f.Load(ctx, d)
	if err != nil {
		return fail(err)
	}
	if m == nil {
		return fail(Corrupt(d.Format, fmt.Errorf("format returned a nil model")))
	}
	return m, nil
}

// fetch reads a model from a file:// or http(s):// URL, at most max bytes.
func fetch(ctx context.Context, loc string, max int64, c *http.Client) ([]byte, error) {
	u, err := url.Parse(loc)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFetch, err)
	}
	var r io.ReadCloser
	switch u.Scheme {
	case "file":
		p := u.Path
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("%w: file URL with host %q", ErrFetch, u.Host)
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrFetch, err)
		}
		r = f
	case "http", "https":
		if c == nil {
			c = http.DefaultClient
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrFetch, err)
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrFetch, err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("%w: %s: %s", ErrFetch, loc, resp.Status)
		}
		r = resp.Body
	default:
		return nil, fmt.Errorf("%w: unsupported location scheme %q", ErrFetch, u.Scheme)
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFetch, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrTooLarge, loc, max)
	}
	return b, nil
}
