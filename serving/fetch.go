package serving

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ErrLocationNotAllowed means a Descriptor's Location is outside the
// service's [LoadOptions].AllowLocations, or comes without a SHA256 while
// [LoadOptions].AllowUnpinned is off; nothing was fetched.
var ErrLocationNotAllowed = errors.New("serving: location not allowed")

// loader is LoadOptions with AllowLocations parsed, once, when the
// Server is made.
type loader struct {
	LoadOptions
	allow []*url.URL
}

// newLoader parses o.AllowLocations.
func newLoader(o LoadOptions) (loader, error) {
	allow, err := parseAllow(o.AllowLocations)
	return loader{LoadOptions: o, allow: allow}, err
}

// fetch reads a model from an allowed file:// or http(s):// Location,
// holding at most max+1 bytes of it; pinned says the Descriptor gives
// the bytes' SHA256 (see [LoadOptions].AllowUnpinned). The errors it
// returns never quote the fetched content, and name the location only as
// the Descriptor gave it.
func fetch(ctx context.Context, loc string, pinned bool, max int64, o loader) ([]byte, error) {
	u, err := url.Parse(loc)
	if err != nil {
		return nil, fmt.Errorf("%w: the location is not a URL", ErrLocationNotAllowed)
	}
	allow := o.allow
	if allowedBy(allow, u) == nil {
		return nil, fmt.Errorf("%w: %s", ErrLocationNotAllowed, redact(u))
	}
	if !pinned && !o.AllowUnpinned {
		return nil, fmt.Errorf("%w: %s comes without a SHA256 (see LoadOptions.AllowUnpinned)", ErrLocationNotAllowed, redact(u))
	}
	timeout := o.FetchTimeout
	if timeout <= 0 {
		timeout = defaultFetchTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch u.Scheme {
	case "file":
		return fetchFile(ctx, u, allow, max)
	default:
		return fetchHTTP(ctx, u, allow, max, o.HTTPClient)
	}
}

// parseAllow parses AllowLocations; a malformed entry is a configuration
// error.
func parseAllow(list []string) ([]*url.URL, error) {
	out := make([]*url.URL, 0, len(list))
	for _, a := range list {
		u, err := url.Parse(a)
		if err != nil || u.Scheme == "" {
			return nil, fmt.Errorf("%w: AllowLocations entry %q is not a URL with a scheme", ErrConfig, a)
		}
		switch u.Scheme {
		case "file":
			if u.Host != "" && u.Host != "localhost" {
				return nil, fmt.Errorf("%w: AllowLocations entry %q: a file URL has no host", ErrConfig, a)
			}
			if !strings.HasSuffix(u.Path, "/") || !path.IsAbs(u.Path) {
				return nil, fmt.Errorf("%w: AllowLocations entry %q: a file entry is an absolute directory ending in /", ErrConfig, a)
			}
		case "http", "https":
			if u.Host == "" {
				return nil, fmt.Errorf("%w: AllowLocations entry %q has no host", ErrConfig, a)
			}
		default:
			return nil, fmt.Errorf("%w: AllowLocations entry %q: scheme %q is not file, http or https", ErrConfig, a, u.Scheme)
		}
		if u.Path == "" {
			u.Path = "/"
		}
		if !path.IsAbs(u.Path) || path.Clean(u.Path) != strings.TrimSuffix(u.Path, "/") && u.Path != "/" {
			return nil, fmt.Errorf("%w: AllowLocations entry %q: the path must be absolute and clean (no //, . or ..)", ErrConfig, a)
		}
		out = append(out, u)
	}
	return out, nil
}

// allowedBy returns the first allowed prefix u falls under, or nil. A
// prefix matches whole path segments: "/models" allows "/models" and
// "/models/x", not "/models-evil/x"; "/models/" allows what is under
// "/models/", and "/models" itself. u's path must be clean as written
// (no "//", "." or ".." segment, also none that an escaped "/" or "."
// makes), nor anything a more lenient server reads as one (looseDots):
// the path judged is then the path requested, which a server that routes
// before it cleans, or an object store that reads ".." as part of a key,
// would otherwise take for another.
func allowedBy(allow []*url.URL, u *url.URL) *url.URL {
	if u.User != nil || u.Opaque != "" {
		return nil
	}
	p := u.Path
	if p == "" {
		p = "/"
	}
	if !path.IsAbs(p) {
		return nil
	}
	clean := path.Clean(p)
	if written := strings.TrimSuffix(p, "/"); written != clean && !(clean == "/" && p == "/") {
		return nil
	}
	if looseDots(p) {
		return nil
	}
	for _, a := range allow {
		if a.Scheme != u.Scheme {
			continue
		}
		host := u.Host
		if u.Scheme == "file" && host == "localhost" {
			host = ""
		}
		ah := a.Host
		if a.Scheme == "file" && ah == "localhost" {
			ah = ""
		}
		if !strings.EqualFold(ah, host) {
			continue
		}
		dir := strings.TrimSuffix(a.Path, "/") // "" for the root
		if clean == dir || strings.HasPrefix(clean, dir+"/") {
			return a
		}
	}
	return nil
}

// looseDots reports whether p, a path clean to path.Clean, holds what a
// more lenient reader takes for a dot segment or a separator: a segment
// that is "." or ".." before its ";parameters" (Tomcat and Jetty drop
// them, so "..;" climbs), a backslash (IIS reads it as "/"), or, decoded
// once more or several times, either of those or a "/" (a server or
// proxy that decodes twice reads "%252e%252e" as "..", a chain of them
// "%25252e%25252e"; a stray "%" that is no escape is kept as such a
// decoder keeps it, and the escapes beside it decoded). A segment still
// escaped after maxUnescapes more decodings is refused too: judging it
// would cost time quadratic in its length, and a model's path has no
// need of any of them.
func looseDots(p string) bool {
	if strings.ContainsRune(p, '\\') {
		return true
	}
	for seg := range strings.SplitSeq(p, "/") {
		for n := 0; ; n++ {
			if dotSegment(seg) {
				return true
			}
			d := unescapeLoosely(seg)
			if d == seg {
				break
			}
			if n == maxUnescapes || strings.ContainsAny(d, "/\\") {
				return true
			}
			seg = d
		}
	}
	return false
}

// maxUnescapes is how many more times looseDots decodes a segment that
// still holds escapes.
const maxUnescapes = 4

// unescapeLoosely decodes every "%XX" escape of s and keeps any other
// "%" as it is, as lenient servers and proxies do: url.PathUnescape
// refuses the whole segment for one stray "%", so "%2e%2e;%zz", which
// such a decoder reads as "..;%zz", would go unjudged.
func unescapeLoosely(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		if c := s[i]; c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// dotSegment reports whether seg, without its ";parameters", is "." or
// "..".
func dotSegment(seg string) bool {
	seg, _, _ = strings.Cut(seg, ";")
	return seg == "." || seg == ".."
}

// redact returns u without user information or query, for messages.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	c.Fragment = ""
	return c.String()
}

// fetchBetweenCheckAndOpen, when set by a test, runs after a file
// Location was checked and before it is opened: the window in which a
// file can be swapped for a link leading out of its directory.
var fetchBetweenCheckAndOpen func()

func fetchFile(ctx context.Context, u *url.URL, allow []*url.URL, max int64) ([]byte, error) {
	// Resolve symbolic links first, then check the real path against the
	// allowed directories again: a link inside an allowed directory must
	// not lead out of it.
	real, err := filepath.EvalSymlinks(filepath.FromSlash(path.Clean(u.Path)))
	if err != nil {
		return nil, fmt.Errorf("%w: cannot read %s", ErrFetch, redact(u))
	}
	dir := allowedDir(allow, real)
	if dir == "" {
		return nil, fmt.Errorf("%w: %s leads outside the allowed directories", ErrLocationNotAllowed, redact(u))
	}
	// Open the real path relative to the allowed directory, through an
	// os.Root: each component is opened from its parent without following
	// a link out of the directory, so a file swapped for such a link
	// after the check above is refused, not read.
	rel, err := filepath.Rel(dir, real)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot read %s", ErrFetch, redact(u))
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot read %s", ErrFetch, redact(u))
	}
	defer root.Close()
	// Refuse anything but a regular file before opening it: opening a
	// FIFO for reading blocks until a writer comes, and a device such as
	// /dev/zero never ends.
	st, err := root.Stat(rel)
	if err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrFetch, redact(u))
	}
	if st.Size() > max {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrTooLarge, redact(u), max)
	}
	if fetchBetweenCheckAndOpen != nil {
		fetchBetweenCheckAndOpen()
	}
	f, err := root.OpenFile(rel, openReadFlags, 0)
	if err != nil {
		// os.Root does not export its "escapes" error: resolve the path
		// again only to name the reason.
		if r, err := filepath.EvalSymlinks(real); err == nil && allowedDir(allow, r) == "" {
			return nil, fmt.Errorf("%w: %s leads outside the allowed directories", ErrLocationNotAllowed, redact(u))
		}
		return nil, fmt.Errorf("%w: cannot read %s", ErrFetch, redact(u))
	}
	defer f.Close()
	// The file may have been swapped between Stat and open (opening
	// without blocking, even a FIFO): check the opened one too.
	if st, err = f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrFetch, redact(u))
	}
	return readCapped(ctx, f, st.Size(), max, u)
}

// allowedDir returns the allowed directory that holds real, a path with
// every link resolved: an entry's directory as written, or, when it is
// itself reached through a link (/var/run is one to /run on most Linux
// systems), as resolved; "" if none holds it.
func allowedDir(allow []*url.URL, real string) string {
	if a := allowedBy(allow, &url.URL{Scheme: "file", Path: filepath.ToSlash(real)}); a != nil {
		return filepath.FromSlash(a.Path)
	}
	for _, a := range allow {
		if a.Scheme != "file" {
			continue
		}
		dir, err := filepath.EvalSymlinks(filepath.FromSlash(a.Path))
		if err != nil {
			continue
		}
		if rel, err := filepath.Rel(dir, real); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return dir
		}
	}
	return ""
}

func fetchHTTP(ctx context.Context, u *url.URL, allow []*url.URL, max int64, base *http.Client) ([]byte, error) {
	c := &http.Client{}
	if base != nil {
		cp := *base
		c = &cp
	}
	inner := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return fmt.Errorf("%w: more than 5 redirects", ErrFetch)
		}
		if allowedBy(allow, req.URL) == nil {
			return fmt.Errorf("%w: redirect to %s", ErrLocationNotAllowed, redact(req.URL))
		}
		if inner != nil {
			return inner(req, via)
		}
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrFetch, redact(u))
	}
	resp, err := c.Do(req)
	if err != nil {
		if errors.Is(err, ErrLocationNotAllowed) {
			return nil, fmt.Errorf("%w: %s redirects outside the allowed locations", ErrLocationNotAllowed, redact(u))
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrFetch, redact(u), ctx.Err())
		}
		return nil, fmt.Errorf("%w: %s: request failed", ErrFetch, redact(u))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s: %s", ErrFetch, redact(u), resp.Status)
	}
	if resp.ContentLength > max {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrTooLarge, redact(u), max)
	}
	// The length a server announces is trusted for the first buffer up
	// to maxAnnouncedBytes only: one that announces a gigabyte and then
	// sends a trickle must not make the Server allocate it before the
	// bytes arrive. Past it, the buffer grows as they do.
	return readCapped(ctx, resp.Body, min(resp.ContentLength, maxAnnouncedBytes), max, u)
}

// maxAnnouncedBytes bounds the first buffer of an HTTP fetch, sized from
// the response's Content-Length.
const maxAnnouncedBytes = 4 << 20

// readCapped reads r to its end, failing with ErrTooLarge as soon as it
// has more than max bytes. It never allocates more than max+1 bytes for
// the body: the buffer grows by doubling up to that cap, starting from
// the size the source announced when it is plausible.
func readCapped(ctx context.Context, r io.Reader, hint, max int64, u *url.URL) ([]byte, error) {
	size := int64(512)
	if hint > 0 && hint <= max {
		size = hint + 1 // one more, to see the end without growing
	}
	if size > max+1 {
		size = max + 1
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > max {
				return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrTooLarge, redact(u), max)
			}
			next := min(2*int64(cap(buf)), max+1)
			nb := make([]byte, len(buf), next)
			copy(nb, buf)
			buf = nb
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > max {
			return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrTooLarge, redact(u), max)
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrFetch, redact(u), ctx.Err())
			}
			return nil, fmt.Errorf("%w: %s: read failed", ErrFetch, redact(u))
		}
	}
}
