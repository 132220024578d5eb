package bolt_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/modelstream/modelstream/registry"
	"github.com/modelstream/modelstream/registry/bolt"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// TestSurvivesReopenAndLocks: what a Registry wrote through a Storage is
// there after Close and Open, and a second opener of a locked file times
// out instead of hanging.
func TestSurvivesReopenAndLocks(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "reg.db")
	st, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.New(st)
	if err != nil {
		t.Fatal(err)
	}
	d, err := reg.Put(ctx, servingtest.Spec{Value: 1}.Descriptor("m", 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bolt.Open(path, bolt.LockTimeout(50*time.Millisecond)); err == nil {
		t.Fatal("second Open of a locked file succeeded")
	}
	if err := reg.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.View(ctx, func(registry.Reader) error { return nil }); !errors.Is(err, serving.ErrClosed) {
		t.Fatalf("View after Close: %v", err)
	}

	st, err = bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	reg, err = registry.New(st)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	got, err := reg.Resolve(ctx, "m", registry.Latest)
	if err != nil || got.SHA256 != d.SHA256 || !bytes.Equal(got.Bytes, d.Bytes) {
		t.Fatalf("after reopen: %v, %v", got.Ref(), err)
	}
	if err := st.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestScan: ranges, both directions, bounds and early stop, against the
// same data in the Registry's memory storage semantics.
func TestScan(t *testing.T) {
	ctx := context.Background()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "scan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Update(ctx, func(w registry.Writer) error {
		for _, k := range []string{"a1", "a2", "a3", "b1"} {
			if err := w.Put([]byte(k), []byte("v"+k)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	scan := func(from, to string, reverse bool, limit int) string {
		var out []byte
		var toB []byte
		if to != "" {
			toB = []byte(to)
		}
		st.View(ctx, func(r registry.Reader) error {
			return r.Scan([]byte(from), toB, reverse, func(k, _ []byte) (bool, error) {
				out = append(append(out, k...), ' ')
				return len(out)/3 < limit, nil
			})
		})
		return string(out)
	}
	for _, c := range []struct {
		from, to string
		reverse  bool
		limit    int
		want     string
	}{
		{"a", "b", false, 9, "a1 a2 a3 "},
		{"a", "b", true, 9, "a3 a2 a1 "},
		{"a2", "", false, 9, "a2 a3 b1 "},
		{"a2", "", true, 9, "b1 a3 a2 "},
		{"a", "a3", true, 1, "a2 "},
		{"c", "", false, 9, ""},
		{"", "a1", true, 9, ""},
	} {
		if got := scan(c.from, c.to, c.reverse, c.limit); got != c.want {
			t.Errorf("Scan(%q, %q, reverse %v) = %q, want %q", c.from, c.to, c.reverse, got, c.want)
		}
	}
	// A failed Update writes nothing.
	boom := errors.New("boom")
	if err := st.Update(ctx, func(w registry.Writer) error {
		w.Put([]byte("c1"), []byte("x"))
		return boom
	}); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if got := scan("c", "", false, 9); got != "" {
		t.Fatalf("a failed Update wrote %q", got)
	}
}

func TestOpenValidates(t *testing.T) {
	if _, err := bolt.Open(filepath.Join(t.TempDir(), "x.db"), bolt.LockTimeout(0)); !errors.Is(err, serving.ErrConfig) {
		t.Fatalf("LockTimeout(0): %v", err)
	}
}

// TestOpenRefusesForeignFiles: Open of a file that is not a registry
// fails with an error (never a panic, never an overwrite), and a file of
// the first registry layout fails with serving.ErrCorruptState.
func TestOpenRefusesForeignFiles(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	junk := make([]byte, 64<<10)
	for i := range junk {
		junk[i] = byte(i*7 + i>>8)
	}
	if err := os.WriteFile(garbage, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := bolt.Open(garbage, bolt.LockTimeout(time.Second)); err == nil {
		s.Close()
		t.Fatal("Open of a garbage file succeeded")
	}
	if back, _ := os.ReadFile(garbage); !bytes.Equal(back, junk) {
		t.Fatal("Open changed a file it refused")
	}

	old := filepath.Join(dir, "v1.db")
	db, err := bbolt.Open(old, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucket([]byte("models"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := bolt.Open(old); !errors.Is(err, serving.ErrCorruptState) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open of a first-layout file: %v", err)
	}
}

// TestCheckReportsCorruptionWithoutLeaking: Check on a file whose
// freelist lost its entries (so several pages are neither reachable nor
// free) returns an error, and leaves no goroutine behind: bbolt's check
// sends every problem on an unbuffered channel, and one left unread
// blocks its goroutine, still reading the file, forever.
func TestCheckReportsCorruptionWithoutLeaking(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reg.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	pageSize := db.Info().PageSize
	val := bytes.Repeat([]byte{7}, 3*pageSize)
	for i := range 8 {
		if err := db.Update(func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("registry"))
			if err != nil {
				return err
			}
			return b.Put([]byte{byte(i)}, val)
		}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 8 { // frees their pages
		if err := db.Update(func(tx *bbolt.Tx) error { return tx.Bucket([]byte("registry")).Delete([]byte{byte(i)}) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Empty the freelist page of the newest meta page (the page header's
	// count, after id and flags; meta: freelist page id at 48, txid at
	// 64, all little-endian).
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	le := func(off int) uint64 {
		var v uint64
		for i := 7; i >= 0; i-- {
			v = v<<8 | uint64(raw[off+i])
		}
		return v
	}
	meta := 0
	if le(pageSize+64) > le(64) {
		meta = pageSize
	}
	fl := int(le(meta + 48))
	raw[fl*pageSize+10], raw[fl*pageSize+11] = 0, 0
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	st, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	before := runtime.NumGoroutine()
	if err := st.Check(); err == nil {
		t.Fatal("Check found nothing wrong with pages that are neither reachable nor free")
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("Check left %d goroutines behind", n-before)
	}
}
