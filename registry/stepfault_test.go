package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
)

// errStep is the failure stepStorage injects.
var errStep = errors.New("injected failure")

// stepStorage numbers the steps of every write transaction (each Put,
// each Delete, then the commit) and fails the one numbered failAt: the
// Writer call returns errStep, or, for the commit, the transaction does
// after all its writes. A Storage must then apply none of the
// transaction.
type stepStorage struct {
	Storage
	steps, failAt int
}

func (s *stepStorage) step() bool { s.steps++; return s.steps == s.failAt }

func (s *stepStorage) Update(ctx context.Context, fn func(Writer) error) error {
	return s.Storage.Update(ctx, func(w Writer) error {
		if err := fn(stepWriter{w, s}); err != nil {
			return err
		}
		if s.step() {
			return fmt.Errorf("commit: %w", errStep)
		}
		return nil
	})
}

type stepWriter struct {
	Writer
	s *stepStorage
}

func (w stepWriter) Put(k, v []byte) error {
	if w.s.step() {
		return fmt.Errorf("put: %w", errStep)
	}
	return w.Writer.Put(k, v)
}

func (w stepWriter) Delete(k []byte) error {
	if w.s.step() {
		return fmt.Errorf("delete: %w", errStep)
	}
	return w.Writer.Delete(k)
}

// dump returns every key and value of st.
func dump(t *testing.T, st Storage) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := st.View(context.Background(), func(r Reader) error {
		return r.Scan(nil, nil, false, func(k, v []byte) (bool, error) {
			out[string(k)] = string(v)
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// stepOps is a registry's life in small steps: puts that assign
// versions and prune old bytes, a Location model, an idempotent put, a
// conflict, activations, an alias and offsets.
var stepOps = []struct {
	name string
	do   func(context.Context, *Registry) error
}{
	{"put v1", func(ctx context.Context, r *Registry) error { return stepPut(ctx, r, "m", 0, "one") }},
	{"put v2", func(ctx context.Context, r *Registry) error { return stepPut(ctx, r, "m", 0, "two") }},
	{"activate v2", func(ctx context.Context, r *Registry) error { return stepActivate(ctx, r, 2, 1) }},
	{"alias prod", func(ctx context.Context, r *Registry) error { return r.SetAlias(ctx, "m", "prod", 1) }},
	{"put v3, prune", func(ctx context.Context, r *Registry) error { return stepPut(ctx, r, "m", 0, "three") }},
	{"put v4, prune", func(ctx context.Context, r *Registry) error { return stepPut(ctx, r, "m", 4, "four") }},
	{"put a location", func(ctx context.Context, r *Registry) error {
		_, err := r.Put(ctx, serving.Descriptor{Name: "n", Format: "blob", Version: 9, Location: "https://h/n", SHA256: serving.ContentID([]byte("n"))})
		return err
	}},
	{"offsets", func(ctx context.Context, r *Registry) error {
		return r.SetOffsets(ctx, "models", map[int32]int64{0: 12, 1: 7})
	}},
	{"activate v4", func(ctx context.Context, r *Registry) error { return stepActivate(ctx, r, 4, 2) }},
	{"put v5, prune", func(ctx context.Context, r *Registry) error { return stepPut(ctx, r, "m", 0, "five") }},
}

func stepPut(ctx context.Context, r *Registry, name string, v uint64, content string) error {
	_, err := r.Put(ctx, serving.Descriptor{Name: name, Format: "blob", Version: v, Bytes: []byte(content), Labels: map[string]string{"c": content}})
	return err
}

func stepActivate(ctx context.Context, r *Registry, v uint64, at int64) error {
	d, err := r.Get(ctx, "m", v)
	if err != nil {
		return err
	}
	return r.RecordActivation(ctx, serving.Activation{Model: d.Ref(), Kind: serving.EventActivated, At: time.Unix(at, 0)})
}

// TestEveryWriteStepFailsWhole fails each step of each write of a
// registry (each key it puts or deletes, and the commit), over the
// memory Storage and over registry/bolt. At every step the operation
// must report the failure and leave the storage exactly as it was; once
// the failure is gone, the same operation must succeed and the registry
// go on exactly as a run without failures. Over bolt the file is also
// closed and reopened after the failure, as a process that died there
// would find it.
func TestEveryWriteStepFailsWhole(t *testing.T) {
	clock := func() time.Time { return time.Unix(1_800_000_000, 0) }
	opts := []Option{Retain(2), withClock(clock)}
	kinds := map[string]func(t *testing.T) (st Storage, reopen func(Storage) Storage){
		"memory": func(*testing.T) (Storage, func(Storage) Storage) { return newMemStorage(), nil },
		"bolt": func(t *testing.T) (Storage, func(Storage) Storage) {
			path := filepath.Join(t.TempDir(), "r.db")
			open := func() Storage {
				st, err := OpenBoltStorage(path)
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
			return open(), func(old Storage) Storage { old.Close(); return open() }
		},
	}
	for _, kind := range slices.Sorted(maps.Keys(kinds)) {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			// The reference: no failure; the state after each operation
			// and how many steps each one takes.
			ref := &stepStorage{Storage: func() Storage { st, _ := kinds[kind](t); return st }()}
			r, err := New(ref, opts...)
			if err != nil {
				t.Fatal(err)
			}
			var after []map[string]string
			var steps []int
			for _, op := range stepOps {
				before := ref.steps
				if err := op.do(ctx, r); err != nil {
					t.Fatalf("%s: %v", op.name, err)
				}
				steps = append(steps, ref.steps-before)
				after = append(after, dump(t, ref))
			}
			r.Close()

			total := 0
			for i, op := range stepOps {
				for k := 1; k <= steps[i]; k++ {
					total++
					base, reopen := kinds[kind](t)
					st := &stepStorage{Storage: base}
					r, err := New(st, opts...)
					if err != nil {
						t.Fatal(err)
					}
					for _, prev := range stepOps[:i] {
						if err := prev.do(ctx, r); err != nil {
							t.Fatalf("%s: %v", prev.name, err)
						}
					}
					was := dump(t, st)
					st.failAt = st.steps + k
					err = op.do(ctx, r)
					if !errors.Is(err, errStep) {
						t.Fatalf("%s, step %d of %d failed: the operation returned %v", op.name, k, steps[i], err)
					}
					if got := dump(t, st); !maps.Equal(got, was) {
						t.Fatalf("%s, step %d of %d failed: the storage changed:\n%s", op.name, k, steps[i], diff(was, got))
					}
					if reopen != nil {
						st.Storage = reopen(st.Storage)
						if r, err = New(st, opts...); err != nil {
							t.Fatal(err)
						}
						if got := dump(t, st); !maps.Equal(got, was) {
							t.Fatalf("%s, step %d of %d failed, reopened: the storage changed:\n%s", op.name, k, steps[i], diff(was, got))
						}
					}
					// The failure is gone: the same operation, and the
					// rest, give what a run without failures gave.
					for j := i; j < len(stepOps); j++ {
						if err := stepOps[j].do(ctx, r); err != nil {
							t.Fatalf("%s after a failure of %s at step %d: %v", stepOps[j].name, op.name, k, err)
						}
						if got := dump(t, st); !maps.Equal(got, after[j]) {
							t.Fatalf("%s after a failure of %s at step %d: the state differs from a run without failures:\n%s", stepOps[j].name, op.name, k, diff(after[j], got))
						}
					}
					r.Close()
				}
			}
			t.Logf("%d operations, %d steps, each failed once", len(stepOps), total)
		})
	}
}

// diff describes how got differs from want, key by key.
func diff(want, got map[string]string) string {
	var b bytes.Buffer
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if g, ok := got[k]; !ok {
			fmt.Fprintf(&b, "  lost    %q\n", k)
		} else if g != want[k] {
			fmt.Fprintf(&b, "  changed %q\n", k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			fmt.Fprintf(&b, "  added   %q\n", k)
		}
	}
	return b.String()
}
