package registry

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"testing"
)

// TestUpdatePanicRollsBack: a panic inside an Update's function leaves
// none of its writes behind, over the memory Storage as over bolt; the
// panic reaches the caller unchanged, and the Storage stays usable.
func TestUpdatePanicRollsBack(t *testing.T) {
	kinds := map[string]func(t *testing.T) Storage{
		"memory": func(*testing.T) Storage { return newMemStorage() },
		"bolt": func(t *testing.T) Storage {
			st, err := OpenBoltStorage(filepath.Join(t.TempDir(), "r.db"))
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
	}
	for _, kind := range slices.Sorted(maps.Keys(kinds)) {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			st := kinds[kind](t)
			defer st.Close()
			if err := st.Update(ctx, func(w Writer) error {
				return w.Put([]byte("kept"), []byte("old"))
			}); err != nil {
				t.Fatal(err)
			}
			type boom struct{}
			func() {
				defer func() {
					if r := recover(); r != (boom{}) {
						t.Fatalf("recovered %v, want the panic of fn", r)
					}
				}()
				st.Update(ctx, func(w Writer) error {
					if err := w.Put([]byte("kept"), []byte("new")); err != nil {
						return err
					}
					if err := w.Put([]byte("added"), []byte("x")); err != nil {
						return err
					}
					panic(boom{})
				})
			}()
			got := map[string]string{}
			if err := st.View(ctx, func(r Reader) error {
				return r.Scan(nil, nil, false, func(k, v []byte) (bool, error) {
					got[string(k)] = string(v)
					return true, nil
				})
			}); err != nil {
				t.Fatal(err)
			}
			if want := map[string]string{"kept": "old"}; !maps.Equal(got, want) {
				t.Fatalf("after a panicking Update: %v, want %v", got, want)
			}
			if err := st.Update(ctx, func(w Writer) error { return w.Put([]byte("after"), []byte("y")) }); err != nil {
				t.Fatalf("Update after the panic: %v", err)
			}
		})
	}
}
