package serving_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

var errRefused = errors.New("refused by policy")

// TestAdmissionBeforeFetch: the Admitter sees every Descriptor before its
// Location is fetched; a refusal fetches nothing, wraps ErrNotAdmitted
// and the Admitter's reason, and leaves the live version serving.
func TestAdmissionBeforeFetch(t *testing.T) {
	ctx := context.Background()
	body := servingtest.Spec{Value: 7}.Descriptor("m", 1).Bytes
	var fetches atomic.Int64
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		w.Write(body)
	}))
	defer web.Close()

	var seen []serving.Descriptor
	allow := map[uint64]bool{1: true, 3: true}
	s := newServer(t, serving.WithLoadOptions(serving.LoadOptions{AllowLocations: []string{web.URL + "/"}}),
		serving.WithAdmission(serving.AdmitterFunc(func(_ context.Context, d serving.Descriptor) error {
			seen = append(seen, d)
			if !allow[d.Version] {
				return errRefused
			}
			return nil
		})))

	// Inline bytes: the Admitter sees the content ID the Server filled.
	inline := servingtest.Spec{Value: 1}.Descriptor("m", 1)
	inline.SHA256 = ""
	_, err := s.Activate(ctx, inline)
	require.NoError(t, err)
	require.Len(t, seen, 1)
	assert.Equal(t, serving.ContentID(inline.Bytes), seen[0].SHA256)

	loc := serving.Descriptor{Name: "m", Version: 2, Format: servingtest.FormatName, Location: web.URL, SHA256: serving.ContentID(body)}
	_, err = s.Activate(ctx, loc)
	require.ErrorIs(t, err, serving.ErrNotAdmitted)
	require.ErrorIs(t, err, errRefused)
	var le *serving.ModelError
	require.ErrorAs(t, err, &le)
	assert.Zero(t, fetches.Load(), "a refused model was fetched")
	cur, _ := s.Current("m")
	assert.Equal(t, uint64(1), cur.Version)
	_, last := s.Rejections("m")
	assert.ErrorIs(t, last, serving.ErrNotAdmitted)

	// Admitted, fetched, and held to the SHA256 it was admitted with.
	loc.Version = 3
	loc.SHA256 = serving.ContentID([]byte("what the admitter was told"))
	_, err = s.Activate(ctx, loc)
	require.ErrorIs(t, err, serving.ErrChecksum)
	assert.EqualValues(t, 1, fetches.Load())
	loc.SHA256 = serving.ContentID(body)
	got, err := s.Activate(ctx, loc)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), got.Version)

	// A stale version is refused before the Admitter is asked.
	n := len(seen)
	_, err = s.Activate(ctx, inline)
	require.ErrorIs(t, err, serving.ErrStaleVersion)
	assert.Len(t, seen, n)
}

// TestAdmissionSeesRollbacks: every Admitter is asked in order, and
// IsRollback tells an operator's rollback from a plain activation.
func TestAdmissionSeesRollbacks(t *testing.T) {
	ctx := context.Background()
	var calls []string
	rec := func(name string) serving.Admitter {
		return serving.AdmitterFunc(func(ctx context.Context, d serving.Descriptor) error {
			if serving.IsRollback(ctx) {
				name += "+rollback"
			}
			calls = append(calls, name)
			return nil
		})
	}
	s := newServer(t, serving.WithAdmission(rec("a")), serving.WithAdmission(rec("b")))
	for v := uint64(1); v <= 2; v++ {
		_, err := s.Activate(ctx, servingtest.Spec{Value: float64(v)}.Descriptor("m", v))
		require.NoError(t, err)
	}
	_, err := s.Activate(ctx, servingtest.Spec{Value: 1}.Descriptor("m", 1), serving.AllowRollback())
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "a", "b", "a+rollback", "b+rollback"}, calls)
	assert.False(t, serving.IsRollback(ctx))
}

func TestWithAdmissionNil(t *testing.T) {
	_, err := serving.NewServer(serving.WithAdmission(nil))
	require.ErrorIs(t, err, serving.ErrConfig)
}
