package registry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// errClass names the sentinel err wraps.
func errClass(err error) string {
	for _, e := range []error{ErrNotFound, ErrVersionConflict, serving.ErrConfig, serving.ErrCorruptState, ErrPruned, ErrNotActive, serving.ErrClosed, serving.ErrChecksum} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	if err != nil {
		return "other: " + err.Error()
	}
	return ""
}

// TestStoresAgree runs the same random sequence of operations against
// Memory and Bolt, with and without retention, and requires the same
// results and the same error classes at every step.
func TestStoresAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("fsyncs a few thousand bolt writes")
	}
	for seed := uint64(1); seed <= 12; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		retain := rng.IntN(3)
		clock := func() time.Time { return time.Unix(1000, 0) }
		mem, _ := NewMemory(Retain(retain), withClock(clock))
		bo, err := Open(filepath.Join(t.TempDir(), fmt.Sprint(seed)), Retain(retain), withClock(clock))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		names := []string{"a", "b"}
		base := time.Unix(2000, 0)
		var parents []string
		for step := 0; step < 200; step++ {
			name := names[rng.IntN(2)]
			var r1, r2 any
			var e1, e2 error
			op := rng.IntN(10)
			switch op {
			case 0, 1:
				d := servingtest.Spec{Value: float64(rng.IntN(4))}.Descriptor(name, uint64(rng.IntN(3))*uint64(rng.IntN(4)))
				d.Created = time.Unix(5, 0)
				if len(parents) > 0 && rng.IntN(2) == 0 {
					d.Parent = parents[rng.IntN(len(parents))]
				}
				if rng.IntN(5) == 0 {
					d.Bytes = nil
					d.Location = "file:///x"
				}
				parents = append(parents, d.SHA256)
				r1, e1 = mem.Put(ctx, d)
				r2, e2 = bo.Put(ctx, d)
			case 2:
				v := uint64(rng.IntN(5))
				e1 = mem.SetAlias(ctx, name, "champ", v)
				e2 = bo.SetAlias(ctx, name, "champ", v)
			case 3:
				k := []serving.EventKind{serving.EventActivated, serving.EventRolledBack, serving.EventRetired}[rng.IntN(3)]
				a := serving.Activation{Model: serving.ModelRef{Name: name, Version: uint64(rng.IntN(5))}, Kind: k, At: base.Add(time.Duration(rng.IntN(20)) * time.Second)}
				e1 = mem.RecordActivation(ctx, a)
				e2 = bo.RecordActivation(ctx, a)
			case 4:
				at := base.Add(time.Duration(rng.IntN(22)-1) * time.Second)
				r1, e1 = mem.At(ctx, name, at)
				r2, e2 = bo.At(ctx, name, at)
			case 5:
				v := uint64(rng.IntN(5))
				r1, e1 = mem.Get(ctx, name, v)
				r2, e2 = bo.Get(ctx, name, v)
			case 6:
				r1, e1 = mem.List(ctx, name)
				r2, e2 = bo.List(ctx, name)
			case 7:
				v := uint64(rng.IntN(5))
				r1, e1 = mem.Lineage(ctx, name, v)
				r2, e2 = bo.Lineage(ctx, name, v)
			case 8:
				alias := []string{"champ", Latest}[rng.IntN(2)]
				r1, e1 = mem.Resolve(ctx, name, alias)
				r2, e2 = bo.Resolve(ctx, name, alias)
			case 9:
				r1, e1 = mem.History(ctx, name)
				r2, e2 = bo.History(ctx, name)
				n1, _ := mem.Names(ctx)
				n2, _ := bo.Names(ctx)
				if !reflect.DeepEqual(n1, n2) {
					t.Fatalf("seed %d step %d: names %v vs %v", seed, step, n1, n2)
				}
			}
			if errClass(e1) != errClass(e2) {
				t.Fatalf("seed %d step %d op %d: errors differ: memory %v, bolt %v", seed, step, op, e1, e2)
			}
			if !reflect.DeepEqual(norm(r1), norm(r2)) {
				t.Fatalf("seed %d step %d op %d: results differ:\nmemory %#v\nbolt   %#v", seed, step, op, r1, r2)
			}
		}
		mem.Close()
		bo.Close()
	}
}

// norm clears differences that do not matter: nil versus empty, and
// time zones.
func norm(x any) any {
	switch v := x.(type) {
	case serving.Descriptor:
		if len(v.Bytes) == 0 {
			v.Bytes = nil
		}
		if len(v.Labels) == 0 {
			v.Labels = nil
		}
		v.Created = v.Created.UTC()
		return v
	case []Version:
		out := make([]Version, len(v))
		for i, w := range v {
			w.Descriptor.Created, w.Stored = w.Descriptor.Created.UTC(), w.Stored.UTC()
			if len(w.Descriptor.Labels) == 0 {
				w.Descriptor.Labels = nil
			}
			out[i] = w
		}
		return out
	case []serving.Activation:
		out := make([]serving.Activation, len(v))
		for i, w := range v {
			w.At = w.At.UTC()
			out[i] = w
		}
		return out
	}
	return x
}
