package serving_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// TestHTTPAllowMatchesTheWholeHost: an entry's host is matched whole,
// port included. An entry without a port allows no other port of that
// host (an admin endpoint beside the model store), and a host that
// merely starts like the allowed one is another host. Matching the host
// by prefix passed every test.
func TestHTTPAllowMatchesTheWholeHost(t *testing.T) {
	var hits atomic.Int64
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(servingtest.Spec{Value: 1}.Descriptor("m", 1).Bytes)
	}))
	defer web.Close()
	u, err := url.Parse(web.URL)
	require.NoError(t, err)
	host, port := u.Hostname(), u.Port()
	s := newServer(t, serving.WithLoadOptions(serving.LoadOptions{AllowLocations: []string{
		"http://" + host + "/",                                   // that host on port 80 only
		"http://" + host + ":" + port[:len(port)-1] + "/",        // a port that is a prefix of web's
		"http://" + strings.ToUpper(host[:1]) + host[1:] + ":1/", // case aside, the same host: port 1 only
	}}))
	err = activateWithin(t, 5*time.Second, s, locDesc(web.URL+"/model", 1))
	require.ErrorIs(t, err, serving.ErrLocationNotAllowed)
	assert.Zero(t, hits.Load(), "a port no entry names received a request")
}

// TestHTTPLocationRefusals: a Location carrying user information is
// refused before any request (it would send credentials chosen by
// whoever writes the models topic); an answer other than 200 is a fetch
// failure, its body never taken for the model; and a redirect loop
// inside the allowed prefix ends after 5 redirects, not at the
// deadline. None of the three was checked by any test.
func TestHTTPLocationRefusals(t *testing.T) {
	model := servingtest.Spec{Value: 1}.Descriptor("m", 1).Bytes
	var hits, loops atomic.Int64
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/models/gone":
			w.WriteHeader(http.StatusNotFound)
			w.Write(model) // a body that would load
		case "/models/partial":
			w.WriteHeader(http.StatusPartialContent)
			w.Write(model)
		case "/models/loop":
			loops.Add(1)
			http.Redirect(w, r, "/models/loop", http.StatusFound)
		default:
			w.Write(model)
		}
	}))
	defer web.Close()
	s := newServer(t, serving.WithLoadOptions(serving.LoadOptions{AllowLocations: []string{web.URL + "/models/"}, FetchTimeout: 20 * time.Second}))

	withUser := strings.Replace(web.URL, "http://", "http://user:secret@", 1) + "/models/m"
	err := activateWithin(t, 5*time.Second, s, locDesc(withUser, 1))
	require.ErrorIs(t, err, serving.ErrLocationNotAllowed)
	assert.NotContains(t, err.Error(), "secret")
	assert.Zero(t, hits.Load(), "a Location with user information received a request")

	for i, p := range []string{"/models/gone", "/models/partial"} {
		err := activateWithin(t, 5*time.Second, s, locDesc(web.URL+p, uint64(2+i)))
		require.ErrorIs(t, err, serving.ErrFetch, p)
	}

	err = activateWithin(t, 15*time.Second, s, locDesc(web.URL+"/models/loop", 4))
	require.ErrorIs(t, err, serving.ErrFetch)
	assert.LessOrEqual(t, loops.Load(), int64(6), "requests in the redirect loop")

	_, ok := s.Current("m")
	assert.False(t, ok, "a refused Location went live")
}

// TestAllowedDirectoryReachedThroughALink: an allowed directory that is
// itself a link (/var/run to /run, a mounted volume's path) allows its
// files; a link inside it that leads out is still refused. Every file of
// such a directory was refused as leading outside it, since its resolved
// path was judged against the directory as written.
func TestAllowedDirectoryReachedThroughALink(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "real")
	require.NoError(t, os.Mkdir(real, 0o755))
	link := filepath.Join(base, "link")
	require.NoError(t, os.Symlink(real, link))
	model := servingtest.Spec{Value: 3}.Descriptor("m", 1)
	require.NoError(t, os.WriteFile(filepath.Join(real, "m.json"), model.Bytes, 0o600))
	outside := filepath.Join(base, "outside.json")
	require.NoError(t, os.WriteFile(outside, model.Bytes, 0o600))
	require.NoError(t, os.Symlink(outside, filepath.Join(real, "escape")))
	s := newServer(t, serving.WithLoadOptions(serving.LoadOptions{AllowLocations: []string{"file://" + link + "/"}}))

	err := activateWithin(t, 5*time.Second, s, locDesc("file://"+link+"/escape", 1))
	require.ErrorIs(t, err, serving.ErrLocationNotAllowed)
	err = activateWithin(t, 5*time.Second, s, locDesc("file://"+real+"/m.json", 2))
	require.ErrorIs(t, err, serving.ErrLocationNotAllowed, "the resolved path as written is not the allowed one")
	ref, err := s.Activate(context.Background(), locDesc("file://"+link+"/m.json", 3))
	require.NoError(t, err)
	assert.Equal(t, uint64(3), ref.Version)
}
