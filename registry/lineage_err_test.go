package registry

import (
	"context"
	"errors"
	"testing"
)

// idScanFails is a Storage whose readers fail every scan of the content
// ID index, as a Storage over a remote or damaged medium may.
type idScanFails struct{ Storage }

var errScan = errors.New("injected: read failed")

func (s idScanFails) View(ctx context.Context, fn func(Reader) error) error {
	return s.Storage.View(ctx, func(r Reader) error { return fn(idScanReader{r}) })
}

type idScanReader struct{ Reader }

func (r idScanReader) Scan(from, to []byte, reverse bool, fn func(k, v []byte) (bool, error)) error {
	if len(from) > 0 && from[0] == kID {
		return errScan
	}
	return r.Reader.Scan(from, to, reverse, fn)
}

// TestLineageReportsReadErrors: a Storage that fails to read the content
// ID index makes Lineage fail with that error. It returned the model
// alone and nil, a lineage cut short that looked like a root.
func TestLineageReportsReadErrors(t *testing.T) {
	ctx := context.Background()
	r, err := New(idScanFails{newMemStorage()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	root := mustPut(t, r, fakeModel("teacher", 1))
	child := fakeModel("teacher", 2)
	child.Parent = root.SHA256
	mustPut(t, r, child)
	if vs, err := r.Lineage(ctx, "teacher", 2); !errors.Is(err, errScan) {
		t.Fatalf("Lineage = %v, %v; want the storage's read error", vs, err)
	}
}
