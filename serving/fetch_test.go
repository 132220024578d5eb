package serving_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// activateWithin runs Activate and fails the test, instead of hanging,
// when it does not return within d.
func activateWithin(t *testing.T, d time.Duration, s *serving.Server, desc serving.Descriptor) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := s.Activate(context.Background(), desc)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("Activate(%s) did not return within %v", desc.Location, d)
		return nil
	}
}

// served is the model the tests' Locations serve when a fetch succeeds.
var served = servingtest.Spec{Value: 3}.Descriptor("m", 1).Bytes

// locDesc is a Descriptor of the model at loc, pinned to the SHA-256 of
// served, as a Location needs by default.
func locDesc(loc string, version uint64) serving.Descriptor {
	return serving.Descriptor{Name: "m", Version: version, Format: servingtest.FormatName, Location: loc, SHA256: serving.ContentID(served)}
}

// TestLocationNeedsItsSHA256: by default a Location Descriptor must pin
// its bytes with a SHA256, well-formed, or it is refused before anything
// is fetched: without one, whoever serves the Location (or can swap the
// file) chooses the model, whatever was published. AllowUnpinned lets
// it through. Before, both were fetched and went live with no Verifier.
func TestLocationNeedsItsSHA256(t *testing.T) {
	var hits atomic.Int64
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Write(served)
	}))
	defer web.Close()
	allow := serving.LoadOptions{AllowLocations: []string{web.URL + "/models/"}}
	s := newServer(t, serving.WithLoadOptions(allow))
	unpinned := locDesc(web.URL+"/models/m", 1)
	unpinned.SHA256 = ""
	err := activateWithin(t, 5*time.Second, s, unpinned)
	require.ErrorIs(t, err, serving.ErrLocationNotAllowed)
	var me *serving.ModelError
	require.ErrorAs(t, err, &me)
	assert.Contains(t, err.Error(), "AllowUnpinned", "the refusal names the option that lifts it")
	for i, sum := range []string{"x", strings.ToUpper(serving.ContentID(served)), serving.ContentID(served)[:63] + "g", serving.ContentID(served) + "0"} {
		d := locDesc(web.URL+"/models/m", uint64(2+i))
		d.SHA256 = sum
		err := activateWithin(t, 5*time.Second, s, d)
		require.ErrorIs(t, err, serving.ErrInvalidDescriptor, "SHA256 %q", sum)
	}
	assert.Zero(t, hits.Load(), "a Location with no well-formed SHA256 was fetched")
	_, ok := s.Current("m")
	assert.False(t, ok)

	_, err = s.Activate(context.Background(), locDesc(web.URL+"/models/m", 10))
	require.NoError(t, err, "a pinned Location")

	allow.AllowUnpinned = true
	lax := newServer(t, serving.WithLoadOptions(allow))
	ref, err := lax.Activate(context.Background(), unpinned)
	require.NoError(t, err)
	assert.Equal(t, serving.ContentID(served), ref.ID, "the content ID is the fetched bytes' hash")
}

// TestLocationOffByDefault: with no AllowLocations, a Location is never
// fetched, whatever it names: no local file is read and no URL receives a
// request; the reason names neither the file's content nor its hash.
func TestLocationOffByDefault(t *testing.T) {
	var hits atomic.Int64
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	defer web.Close()
	s := newServer(t)
	passwd, _ := os.ReadFile("/etc/passwd")
	sum := sha256.Sum256(passwd)
	for _, loc := range []string{"file:///etc/passwd", web.URL + "/admin/shutdown", "http://169.254.169.254/latest/meta-data/", "ftp://x/y", "file:/etc/passwd", "/etc/passwd"} {
		err := activateWithin(t, 5*time.Second, s, locDesc(loc, 1))
		require.ErrorIs(t, err, serving.ErrLocationNotAllowed, loc)
		assert.NotContains(t, err.Error(), hex.EncodeToString(sum[:]))
		assert.NotContains(t, err.Error(), "root:")
		_, err = serving.Load(context.Background(), locDesc(loc, 1))
		require.ErrorIs(t, err, serving.ErrLocationNotAllowed, "Load fetches nothing: %s", loc)
	}
	assert.Zero(t, hits.Load(), "a URL that was not allowed received a request")
	_, last := s.Rejections("m")
	assert.ErrorIs(t, last, serving.ErrLocationNotAllowed)
}

// TestFileLocationStaysInItsDirectory: an allowed directory allows its
// regular files only: not a path that climbs out, not a link that leads
// out, not a FIFO (which would block the feed), not a device.
func TestFileLocationStaysInItsDirectory(t *testing.T) {
	dir := t.TempDir()
	model := servingtest.Spec{Value: 3}.Descriptor("m", 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "good.json"), model.Bytes, 0o600))
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(dir, "escape")))
	require.NoError(t, os.Symlink(filepath.Join(dir, "good.json"), filepath.Join(dir, "inside")))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	s := newServer(t, serving.WithLoadOptions(serving.LoadOptions{AllowLocations: []string{"file://" + dir + "/", "file:///dev/"}}))

	cases := []struct {
		loc  string
		want error
	}{
		{"file://" + dir + "/../../etc/passwd", serving.ErrLocationNotAllowed},
		{"file://" + dir + "/escape", serving.ErrLocationNotAllowed},
		{"file://" + dir + "/fifo", serving.ErrFetch},
		{"file:///dev/zero", serving.ErrFetch},
		{"file://" + dir + "/missing", serving.ErrFetch},
		{"file://" + dir, serving.ErrFetch}, // the directory itself
	}
	for i, c := range cases {
		err := activateWithin(t, 5*time.Second, s, locDesc(c.loc, uint64(i+1)))
		require.ErrorIs(t, err, c.want, c.loc)
	}
	ref, err := s.Activate(context.Background(), locDesc("file://"+dir+"/inside", 10))
	require.NoError(t, err, "a link that stays inside the directory is fine")
	assert.Equal(t, uint64(10), ref.Version)
}

// TestFetchTimeout: a Location that never answers fails after
// FetchTimeout instead of stalling the feed for good.
func TestFetchTimeout(t *testing.T) {
	block := make(chan struct{})
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer web.Close()
	defer close(block)
	s := newServer(t, serving.WithLoadOptions(serving.LoadOptions{AllowLocations: []string{web.URL + "/"}, FetchTimeout: 100 * time.Millisecond}))
	err := activateWithin(t, 10*time.Second, s, locDesc(web.URL+"/model", 1))
	require.ErrorIs(t, err, serving.ErrFetch)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// TestRedirectsAreChecked: a redirect from an allowed location to one
// that is not allowed is refused before the second request.
func TestRedirectsAreChecked(t *testing.T) {
	var inner atomic.Int64
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { inner.Add(1) }))
	defer internal.Close()
	front := httptest.NewServer(http.RedirectHandler(internal.URL+"/admin", http.StatusFound))
	defer front.Close()
	s := newServer(t, serving.WithLoadOptions(serving.LoadOptions{AllowLocations: []string{front.URL + "/"}}))
	err := activateWithin(t, 5*time.Second, s, locDesc(front.URL+"/model", 1))
	require.ErrorIs(t, err, serving.ErrLocationNotAllowed)
	assert.Zero(t, inner.Load(), "the redirect target received a request")
}

// TestFetchSizeCap: a file and an http body larger than MaxBytes fail
// with ErrTooLarge, and the fetch never holds much more than the cap:
// an endless body is cut off after MaxBytes+1 bytes.
func TestFetchSizeCap(t *testing.T) {
	const limit = 1 << 20
	dir := t.TempDir()
	big := make([]byte, 3*limit)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big.json"), big, 0o600))
	var sent atomic.Int64
	endless := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 64<<10)
		for r.Context().Err() == nil {
			n, err := w.Write(chunk)
			sent.Add(int64(n))
			if err != nil || sent.Load() > 512<<20 {
				return
			}
		}
	}))
	defer endless.Close()
	s := newServer(t, serving.WithLoadOptions(serving.LoadOptions{
		MaxBytes:       limit,
		AllowLocations: []string{"file://" + dir + "/", endless.URL + "/"},
	}))

	err := activateWithin(t, 10*time.Second, s, locDesc("file://"+dir+"/big.json", 1))
	require.ErrorIs(t, err, serving.ErrTooLarge)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err = activateWithin(t, 30*time.Second, s, locDesc(endless.URL+"/zero", 2))
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, serving.ErrTooLarge)
	grew := after.TotalAlloc - before.TotalAlloc
	t.Logf("an endless body with a %d-byte cap: %d bytes allocated in all, %d bytes sent", limit, grew, sent.Load())
	assert.Less(t, grew, uint64(8*limit), "the fetch allocated far beyond its cap")
}

// TestChecksumReasonHidesFetchedHash: when fetched bytes do not match the
// declared sha256, the reason does not reveal the hash of what was
// fetched, which would disclose a file's content to whoever chose it.
func TestChecksumReasonHidesFetchedHash(t *testing.T) {
	dir := t.TempDir()
	secret := []byte("api_key=hunter2\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secret"), secret, 0o600))
	s := newServer(t, serving.WithLoadOptions(serving.LoadOptions{AllowLocations: []string{"file://" + dir + "/"}}))
	d := locDesc("file://"+dir+"/secret", 1)
	d.SHA256 = strings.Repeat("0", 64)
	err := activateWithin(t, 5*time.Second, s, d)
	require.ErrorIs(t, err, serving.ErrChecksum)
	real := sha256.Sum256(secret)
	assert.NotContains(t, err.Error(), hex.EncodeToString(real[:]))
	_, last := s.Rejections("m")
	assert.NotContains(t, last.Error(), hex.EncodeToString(real[:]))
}

func TestAllowLocationsValidated(t *testing.T) {
	for _, bad := range []string{"", "models/", "file:///relative-no-slash", "file://host/dir/", "gopher://x/", "http:///path/",
		// Unclean paths, which no Location could match: a configuration
		// error, not a list that silently allows nothing.
		"http://h/models/../admin/", "http://h//models/", "http://h/models//", "file:///var/./models/", "file:///var/lib/../models/"} {
		_, err := serving.NewServer(serving.WithLoadOptions(serving.LoadOptions{AllowLocations: []string{bad}}))
		require.ErrorIs(t, err, serving.ErrConfig, bad)
	}
}

// TestHTTPAllowMatchesPathSegments: an entry without a trailing "/"
// allows its path and what lies under it as a directory, not every path
// that merely begins with the same characters.
func TestHTTPAllowMatchesPathSegments(t *testing.T) {
	model := servingtest.Spec{Value: 3}.Descriptor("m", 1)
	var hits atomic.Int64
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(model.Bytes)
	}))
	defer web.Close()
	s := newServer(t, serving.WithLoadOptions(serving.LoadOptions{AllowLocations: []string{web.URL + "/models"}}))
	for i, loc := range []string{web.URL + "/models-evil/m", web.URL + "/modelsX", web.URL + "/models/../admin", web.URL + "/"} {
		err := activateWithin(t, 5*time.Second, s, locDesc(loc, uint64(i+1)))
		require.ErrorIs(t, err, serving.ErrLocationNotAllowed, loc)
	}
	assert.Zero(t, hits.Load(), "a path outside /models received a request")
	for i, loc := range []string{web.URL + "/models", web.URL + "/models/", web.URL + "/models/m", web.URL + "/models/a/b"} {
		_, err := s.Activate(context.Background(), locDesc(loc, uint64(10+i)))
		require.NoError(t, err, loc)
	}
}

// TestFileSwappedForALinkAfterTheCheck: a file replaced by a link out of
// its directory between the check and the open is refused, not read.
// Checking the resolved path and then opening it by name would follow
// the new link.
func TestFileSwappedForALinkAfterTheCheck(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	inside := filepath.Join(dir, "m.json")
	require.NoError(t, os.WriteFile(inside, servingtest.Spec{Value: 3}.Descriptor("m", 1).Bytes, 0o600))
	secret := filepath.Join(outside, "m.json")
	require.NoError(t, os.WriteFile(secret, servingtest.Spec{Value: 9}.Descriptor("m", 1).Bytes, 0o600))
	s := newServer(t, serving.WithLoadOptions(serving.LoadOptions{AllowLocations: []string{"file://" + dir + "/"}}))
	defer serving.SetFetchBetweenCheckAndOpen(func() {
		require.NoError(t, os.Remove(inside))
		require.NoError(t, os.Symlink(secret, inside))
	})()
	err := activateWithin(t, 5*time.Second, s, locDesc("file://"+inside, 1))
	require.ErrorIs(t, err, serving.ErrLocationNotAllowed, "the swapped-in link was followed out of the directory")
}

// TestActivateCapsNameLength: a name longer than 255 bytes is refused
// before anything is fetched or loaded, with ErrInvalidDescriptor; the
// rejection is counted but no state is kept under that name, and the
// error quotes only its beginning.
func TestActivateCapsNameLength(t *testing.T) {
	s := newServer(t)
	ok := strings.Repeat("n", 255)
	_, err := s.Activate(context.Background(), servingtest.Spec{Value: 1}.Descriptor(ok, 1))
	require.NoError(t, err)
	long := strings.Repeat("n", 256)
	huge := strings.Repeat("é", 1<<19)
	for _, name := range []string{long, huge} {
		_, err = s.Activate(context.Background(), servingtest.Spec{Value: 1}.Descriptor(name, 1))
		require.ErrorIs(t, err, serving.ErrInvalidDescriptor)
		var le *serving.ModelError
		require.ErrorAs(t, err, &le)
		assert.Less(t, len(err.Error()), 200, "the error quotes the whole name")
		_, err = s.ActivateModel(context.Background(), serving.ModelRef{Name: name, Version: 1}, &servingtest.Fake{})
		require.ErrorIs(t, err, serving.ErrInvalidDescriptor)
		n, _ := s.Rejections(name)
		assert.Zero(t, n, "a rejection was kept under an overlong name")
	}
	assert.Equal(t, uint64(4), s.TotalRejections())
	assert.Len(t, s.Models(), 1)
}

// TestAllowJudgesThePathRequested: a Location whose path is not clean
// (dot segments, an encoded slash that decodes to one, a double slash)
// is refused and never requested. The check judged path.Clean of the
// path while the request went out with the path as written, so
// http://h/other/../models/m passed an allowance of /models and reached
// the server as /other/../models/m, which a server that routes by the
// first segment, or an object store that takes "other" for the bucket
// and "../models/m" for the key, serves from outside /models.
func TestAllowJudgesThePathRequested(t *testing.T) {
	model := servingtest.Spec{Value: 3}.Descriptor("m", 1)
	var hits atomic.Int64
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(model.Bytes)
	}))
	defer web.Close()
	s := newServer(t, serving.WithLoadOptions(serving.LoadOptions{AllowLocations: []string{web.URL + "/models/"}}))
	for i, loc := range []string{
		web.URL + "/other/../models/m",
		web.URL + "/other%2F..%2Fmodels/m",
		web.URL + "/models/./m",
		web.URL + "/models//m",
		web.URL + "/other/%2e%2e/models/m",
	} {
		err := activateWithin(t, 5*time.Second, s, locDesc(loc, uint64(i+1)))
		require.ErrorIs(t, err, serving.ErrLocationNotAllowed, loc)
	}
	assert.Zero(t, hits.Load(), "a path not judged as written received a request")
	_, err := s.Activate(context.Background(), locDesc(web.URL+"/models/m", 10))
	require.NoError(t, err)
}

// TestAllowRefusesWhatLenientServersReadAsDotSegments: a Location whose
// path is clean to path.Clean but climbs out of the allowed prefix on a
// server that reads it more loosely is refused, and never requested:
// "..;" (Tomcat and Jetty drop a segment's ";parameters", so it is ".."),
// a backslash (IIS reads it as "/"), and a dot segment encoded twice
// ("%252e%252e", for a server or proxy that decodes again), or more
// often. Each passed an allowance of /models/ and reached the server as
// written; escaped three times or more, they still did.
func TestAllowRefusesWhatLenientServersReadAsDotSegments(t *testing.T) {
	model := servingtest.Spec{Value: 3}.Descriptor("m", 1)
	var hits, redirected atomic.Int64
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/models/r" {
			http.Redirect(w, r, "/models/..;/admin", http.StatusFound)
			redirected.Add(1)
			return
		}
		hits.Add(1)
		w.Write(model.Bytes)
	}))
	defer web.Close()
	s := newServer(t, serving.WithLoadOptions(serving.LoadOptions{AllowLocations: []string{web.URL + "/models/"}}))
	for i, loc := range []string{
		web.URL + "/models/..;/admin",
		web.URL + "/models/..;jsessionid=x/admin",
		web.URL + "/models/.;/m",
		web.URL + "/models/..%3b/admin",
		web.URL + "/models/%2e%2e;/admin",
		web.URL + "/models/..%5cadmin",
		web.URL + "/models/%252e%252e/admin",
		web.URL + "/models/%252e%252e%252fadmin",
		web.URL + "/models/a%252fb",
		// Escaped three and four times, for a chain of decoders.
		web.URL + "/models/%25252e%25252e/admin",
		web.URL + "/models/%25252e%25252e%25252fadmin",
		web.URL + "/models/a%25252fb",
		web.URL + "/models/%2525252e%2525252e/admin",
		web.URL + "/models/..%25253b/admin",
		web.URL + "/models/..%25255cadmin",
		// Still escaped after five decodings: refused unjudged.
		web.URL + "/models/m%2525252525252520v1",
		// A stray "%" that is no escape ("%zz") beside the escaped dots:
		// a lenient decoder leaves it and decodes the rest.
		web.URL + "/models/%252e%252e;%25zz/admin",
		web.URL + "/models/%252e%252e%252f%25zzadmin",
		web.URL + "/models/%25252e%25252e;%25zz/admin",
	} {
		err := activateWithin(t, 5*time.Second, s, locDesc(loc, uint64(i+1)))
		require.ErrorIs(t, err, serving.ErrLocationNotAllowed, loc)
	}
	assert.Zero(t, hits.Load(), "a path that a lenient server reads as leaving /models received a request")
	// The same holds for a redirect's target.
	err := activateWithin(t, 5*time.Second, s, locDesc(web.URL+"/models/r", 15))
	require.ErrorIs(t, err, serving.ErrLocationNotAllowed)
	assert.Equal(t, int64(1), redirected.Load())
	assert.Zero(t, hits.Load(), "the redirect's target received a request")
	// Parameters on an ordinary segment, dots inside a name, and a name
	// escaped twice that decodes to no dot segment, are fine.
	for i, loc := range []string{web.URL + "/models/m.json;v=1", web.URL + "/models/..m", web.URL + "/models/m..json", web.URL + "/models/m%2520v1.json"} {
		_, err := s.Activate(context.Background(), locDesc(loc, uint64(20+i)))
		require.NoError(t, err, loc)
	}
}

// TestFetchAnnouncedLengthNotAllocatedAhead: a server that announces a
// body of 256 MiB (within MaxBytes) and then sends 16 bytes and stalls
// makes the fetch allocate what arrived, not what was announced. Before,
// the first buffer took the announced length, so each such Location
// held 256 MiB for the whole FetchTimeout ("268494080 bytes allocated").
func TestFetchAnnouncedLengthNotAllocatedAhead(t *testing.T) {
	const announced = 256 << 20
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(announced))
		w.Write(make([]byte, 16))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer web.Close()
	s := newServer(t, serving.WithLoadOptions(serving.LoadOptions{AllowLocations: []string{web.URL + "/"},
		MaxBytes: 1 << 30, FetchTimeout: 300 * time.Millisecond}))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := activateWithin(t, 10*time.Second, s, locDesc(web.URL+"/model", 1))
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, serving.ErrFetch)
	if n := after.TotalAlloc - before.TotalAlloc; n > 32<<20 {
		t.Errorf("%d bytes allocated for a body of 16 bytes announced as %d", n, announced)
	}
}
