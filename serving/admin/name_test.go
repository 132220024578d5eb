package admin_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/admin"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// escapedNames are model names that are no plain path segment: '/',
// spaces, unicode, '%', '?', '#', a name that is itself a route word,
// and the dot segments a path cleaner would resolve.
var escapedNames = []string{"team/fraud", "team/fraud/history", "a b ünï 模型", "50% off?#x", "history", "/lead", ".", ".."}

// TestModelNamesEscaped: the operator's page links /models/{name} and
// /models/{name}/history for every live model, and each link answers
// for that model and no other, whatever bytes its name holds.
func TestModelNamesEscaped(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i, name := range escapedNames {
		_, err := f.srv.Activate(ctx, servingtest.Spec{}.Descriptor(name, uint64(i+1)))
		require.NoError(t, err, name)
	}
	code, page := f.get(t, "/")
	require.Equal(t, http.StatusOK, code)
	hrefs := map[string]bool{}
	for _, m := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		hrefs[html.UnescapeString(m[1])] = true
	}
	base, err := url.Parse(f.ts.URL + "/")
	require.NoError(t, err)
	get := func(href string) (int, string) {
		u, err := base.Parse(href)
		require.NoError(t, err, href)
		return f.get(t, u.RequestURI())
	}
	for i, name := range escapedNames {
		seg := url.PathEscape(name)
		if name == "." || name == ".." {
			seg = map[string]string{".": "%2E", "..": "%2E%2E"}[name]
		}
		link := "models/" + seg
		require.True(t, hrefs[link], "the page has no link %q for %q", link, name)
		require.True(t, hrefs[link+"/history"], "the page has no link %q for %q", link+"/history", name)

		code, body := get(link)
		require.Equal(t, http.StatusOK, code, "%q: %s", name, body)
		var st admin.ModelStatus
		require.NoError(t, json.Unmarshal([]byte(body), &st), body)
		assert.Equal(t, name, st.Name)
		assert.Equal(t, uint64(i+1), st.Model.Version, name)

		code, body = get(link + "/history")
		require.Equal(t, http.StatusOK, code, "%q: %s", name, body)
		var hist []serving.Activation
		require.NoError(t, json.Unmarshal([]byte(body), &hist), body)
		require.Len(t, hist, 1, name)
		assert.Equal(t, name, hist[0].Model.Name)
	}
	// "team" is not live: its escaped sibling does not answer for it.
	code, _ = f.get(t, "/models/team")
	assert.Equal(t, http.StatusNotFound, code)
}
