package registry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

// stores runs a test against both implementations.
func stores(t *testing.T, fn func(t *testing.T, s *Registry), opts ...Option) {
	t.Run("memory", func(t *testing.T) {
		s, err := NewMemory(opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		fn(t, s)
	})
	t.Run("bolt", func(t *testing.T) {
		s, check, err := OpenBolt(filepath.Join(t.TempDir(), "reg.db"), opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		fn(t, s)
		if err := check(); err != nil && !errors.Is(err, serving.ErrClosed) {
			t.Fatalf("bolt check: %v", err)
		}
	})
}

func fakeModel(name string, value float64) serving.Descriptor {
	return servingtest.Spec{Value: value}.Descriptor(name, 0)
}

func mustPut(t *testing.T, s *Registry, d serving.Descriptor) serving.Descriptor {
	t.Helper()
	got, err := s.Put(context.Background(), d)
	if err != nil {
		t.Fatalf("put %s: %v", d.Ref(), err)
	}
	return got
}

func TestPutAssignsMonotonicVersions(t *testing.T) {
	stores(t, func(t *testing.T, s *Registry) {
		ctx := context.Background()
		for i := 1; i <= 3; i++ {
			got := mustPut(t, s, fakeModel("m", float64(i)))
			if got.Version != uint64(i) {
				t.Fatalf("put %d: version %d", i, got.Version)
			}
			if got.SHA256 == "" {
				t.Fatal("put returned no content ID")
			}
		}
		// An explicit version beyond the highest is kept, and the next
		// assigned one follows it.
		d := fakeModel("m", 10)
		d.Version = 10
		mustPut(t, s, d)
		if got := mustPut(t, s, fakeModel("m", 11)); got.Version != 11 {
			t.Fatalf("after v10: assigned v%d", got.Version)
		}
		// Another name starts at 1.
		if got := mustPut(t, s, fakeModel("other", 1)); got.Version != 1 {
			t.Fatalf("other: v%d", got.Version)
		}
		names, err := s.Names(ctx)
		if err != nil || !slices.Equal(names, []string{"m", "other"}) {
			t.Fatalf("names = %v, %v", names, err)
		}
		vs, err := s.List(ctx, "m")
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		for _, v := range vs {
			got = append(got, v.Descriptor.Version)
			if !v.HasBytes || v.Size == 0 || v.Stored.IsZero() {
				t.Fatalf("metadata %+v", v)
			}
		}
		if !slices.Equal(got, []uint64{1, 2, 3, 10, 11}) {
			t.Fatalf("list versions %v", got)
		}
		latest, err := s.Resolve(ctx, "m", Latest)
		if err != nil || latest.Version != 11 || string(latest.Bytes) != string(fakeModel("m", 11).Bytes) {
			t.Fatalf("latest = %v, %v", latest.Ref(), err)
		}
	})
}

func TestIdempotentPutAndConflict(t *testing.T) {
	stores(t, func(t *testing.T, s *Registry) {
		ctx := context.Background()
		v1 := mustPut(t, s, fakeModel("m", 1))
		v2 := mustPut(t, s, fakeModel("m", 2))
		// A retried publish of the latest content with no version is
		// absorbed.
		if again := mustPut(t, s, fakeModel("m", 2)); again.Version != v2.Version {
			t.Fatalf("retry of latest made v%d", again.Version)
		}
		// Re-putting a stored version with identical bytes is a no-op.
		d := fakeModel("m", 1)
		d.Version = 1
		d.Description = "changed metadata does not matter"
		if again := mustPut(t, s, d); again.Version != 1 || again.SHA256 != v1.SHA256 || again.Description != "" {
			t.Fatalf("idempotent re-put returned %+v", again.Ref())
		}
		// Different bytes under a stored version are refused.
		bad := fakeModel("m", 99)
		bad.Version = 1
		_, err := s.Put(ctx, bad)
		var ce *ConflictError
		if !errors.Is(err, ErrVersionConflict) || !errors.As(err, &ce) || ce.Stored.ID != v1.SHA256 || ce.Offered.ID != serving.ContentID(bad.Bytes) ||
			ce.Stored.Name != "m" || ce.Stored.Version != 1 || ce.Offered.Name != "m" || ce.Offered.Version != 1 {
			t.Fatalf("conflicting put: %v", err)
		}
		// The same bytes under another format are different content too.
		bad = fakeModel("m", 1)
		bad.Version, bad.Format = 1, "linear"
		if _, err := s.Put(ctx, bad); !errors.Is(err, ErrVersionConflict) {
			t.Fatalf("format change: %v", err)
		}
		got, err := s.Get(ctx, "m", 1)
		if err != nil || got.SHA256 != v1.SHA256 || string(got.Bytes) != string(fakeModel("m", 1).Bytes) {
			t.Fatalf("v1 after refused puts: %v %v", got.Ref(), err)
		}
		vs, _ := s.List(ctx, "m")
		if len(vs) != 2 {
			t.Fatalf("%d versions stored, want 2", len(vs))
		}
	})
}

func TestPutValidates(t *testing.T) {
	stores(t, func(t *testing.T, s *Registry) {
		ctx := context.Background()
		d := fakeModel("m", 1)
		d.SHA256 = serving.ContentID([]byte("something else"))
		if _, err := s.Put(ctx, d); !errors.Is(err, serving.ErrChecksum) {
			t.Fatalf("checksum: %v", err)
		}
		for _, d := range []serving.Descriptor{
			{Format: "fake", Bytes: []byte("{}")},
			{Name: "m", Bytes: []byte("{}")},
			{Name: "m", Format: "fake"},
			{Name: "m", Format: "fake", Location: "file:///x"},
		} {
			if _, err := s.Put(ctx, d); !errors.Is(err, serving.ErrInvalidDescriptor) {
				t.Fatalf("put %+v: %v", d, err)
			}
		}
		// A location with a checksum is stored as metadata only.
		loc := serving.Descriptor{Name: "big", Format: "fake", Location: "file:///models/big", SHA256: serving.ContentID([]byte("x"))}
		got := mustPut(t, s, loc)
		back, err := s.Get(ctx, "big", got.Version)
		if err != nil || back.Location != loc.Location || back.Bytes != nil || back.SHA256 != loc.SHA256 {
			t.Fatalf("location-only get: %+v %v", back, err)
		}
		if _, err := s.Get(ctx, "m", 1); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing name: %v", err)
		}
		if _, err := s.Get(ctx, "big", 7); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing version: %v", err)
		}
		if _, err := s.Resolve(ctx, "nope", Latest); !errors.Is(err, ErrNotFound) {
			t.Fatalf("latest of missing: %v", err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Put(cctx, fakeModel("m", 1)); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled put: %v", err)
		}
	})
}

func TestReturnedValuesAreCopies(t *testing.T) {
	stores(t, func(t *testing.T, s *Registry) {
		ctx := context.Background()
		d := fakeModel("m", 1)
		d.Labels = map[string]string{"k": "v"}
		b := d.Bytes
		mustPut(t, s, d)
		b[0] ^= 0xff
		d.Labels["k"] = "changed"
		got, err := s.Get(ctx, "m", 1)
		if err != nil {
			t.Fatal(err)
		}
		if serving.ContentID(got.Bytes) != got.SHA256 || got.Labels["k"] != "v" {
			t.Fatal("store shares memory with the caller's descriptor")
		}
		got.Bytes[0] ^= 0xff
		again, _ := s.Get(ctx, "m", 1)
		if serving.ContentID(again.Bytes) != again.SHA256 {
			t.Fatal("store shares memory with a returned descriptor")
		}
	})
}

func TestAliases(t *testing.T) {
	stores(t, func(t *testing.T, s *Registry) {
		ctx := context.Background()
		for i := 1; i <= 3; i++ {
			mustPut(t, s, fakeModel("m", float64(i)))
		}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		resolve := func(alias string) uint64 {
			t.Helper()
			d, err := s.Resolve(ctx, "m", alias)
			if err != nil {
				t.Fatalf("resolve %s: %v", alias, err)
			}
			if serving.ContentID(d.Bytes) != d.SHA256 {
				t.Fatalf("resolve %s: bytes do not match", alias)
			}
			return d.Version
		}
		must(s.SetAlias(ctx, "m", "champion", 1))
		must(s.SetAlias(ctx, "m", "challenger", 3))
		if resolve("champion") != 1 || resolve("challenger") != 3 || resolve(Latest) != 3 {
			t.Fatal("aliases resolve wrongly")
		}
		must(s.SetAlias(ctx, "m", "champion", 3)) // promote
		must(s.SetAlias(ctx, "m", "challenger", 0))
		if resolve("champion") != 3 {
			t.Fatal("promotion not visible")
		}
		if _, err := s.Resolve(ctx, "m", "challenger"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleted alias: %v", err)
		}
		as, err := s.Aliases(ctx, "m")
		if err != nil || len(as) != 1 || as["champion"] != 3 {
			t.Fatalf("aliases = %v, %v", as, err)
		}
		if err := s.SetAlias(ctx, "m", "champion", 9); !errors.Is(err, ErrNotFound) {
			t.Fatalf("alias to missing version: %v", err)
		}
		if err := s.SetAlias(ctx, "m", Latest, 1); !errors.Is(err, serving.ErrConfig) {
			t.Fatalf("reserved alias: %v", err)
		}
		if err := s.SetAlias(ctx, "nope", "champion", 1); !errors.Is(err, ErrNotFound) {
			t.Fatalf("alias of missing name: %v", err)
		}
	})
}

func TestAliasSwapIsAtomicForReaders(t *testing.T) {
	stores(t, func(t *testing.T, s *Registry) {
		ctx := context.Background()
		a := mustPut(t, s, fakeModel("m", 1))
		b := mustPut(t, s, fakeModel("m", 2))
		if err := s.SetAlias(ctx, "m", "champion", 1); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if err := s.SetAlias(ctx, "m", "champion", uint64(1+i%2)); err != nil {
					t.Error(err)
				}
			}
			close(stop)
		}()
		for done := false; !done; {
			select {
			case <-stop:
				done = true
			default:
			}
			d, err := s.Resolve(ctx, "m", "champion")
			if err != nil {
				t.Fatal(err)
			}
			// A reader sees one whole version, never a mix.
			if !(d.Version == 1 && d.SHA256 == a.SHA256) && !(d.Version == 2 && d.SHA256 == b.SHA256) {
				t.Fatalf("resolved %v with id %s", d.Ref(), d.SHA256)
			}
			if serving.ContentID(d.Bytes) != d.SHA256 {
				t.Fatal("resolved bytes do not match their id")
			}
		}
		wg.Wait()
	})
}

func TestLineage(t *testing.T) {
	stores(t, func(t *testing.T, s *Registry) {
		ctx := context.Background()
		root := mustPut(t, s, fakeModel("teacher", 1))
		child := fakeModel("teacher", 2)
		child.Parent = root.SHA256
		child = mustPut(t, s, child)
		// A student of another name distilled from teacher v2.
		student := fakeModel("student", 1)
		student.Parent = child.SHA256
		student = mustPut(t, s, student)
		// Re-publishing the root's content as a new teacher version must
		// not confuse the walk: the original (lowest) version is chosen.
		republished := fakeModel("teacher", 1)
		republished.Version = 7
		mustPut(t, s, republished)

		vs, err := s.Lineage(ctx, "student", 1)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range vs {
			got = append(got, v.Descriptor.Ref().String())
		}
		if want := []string{"student@v1", "teacher@v2", "teacher@v1"}; !slices.Equal(got, want) {
			t.Fatalf("lineage %v, want %v", got, want)
		}
		// An unknown parent ends the walk; the last element names it.
		orphan := fakeModel("orphan", 1)
		orphan.Parent = serving.ContentID([]byte("gone"))
		mustPut(t, s, orphan)
		vs, err = s.Lineage(ctx, "orphan", 1)
		if err != nil || len(vs) != 1 || vs[0].Descriptor.Parent != orphan.Parent {
			t.Fatalf("orphan lineage %v, %v", vs, err)
		}
		// A cycle (a model naming its own content as parent) ends too.
		self := fakeModel("self", 1)
		self.Parent = self.SHA256
		mustPut(t, s, self)
		if vs, err := s.Lineage(ctx, "self", 1); err != nil || len(vs) != 1 {
			t.Fatalf("self lineage %v, %v", vs, err)
		}
		if _, err := s.Lineage(ctx, "student", 5); !errors.Is(err, ErrNotFound) {
			t.Fatalf("lineage of missing: %v", err)
		}
	})
}

// act builds an activation of name@vN at t.
func act(name string, v uint64, kind serving.EventKind, at time.Time) serving.Activation {
	return serving.Activation{Model: serving.ModelRef{Name: name, Version: v, ID: fmt.Sprintf("id%d", v), Format: "fake"}, Kind: kind, At: at}
}

func TestAtIsExactAtActivationBoundaries(t *testing.T) {
	stores(t, func(t *testing.T, s *Registry) {
		ctx := context.Background()
		t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
		ns := time.Nanosecond
		t1, t2, t3, t4 := t0.Add(time.Second), t0.Add(2*time.Second), t0.Add(3*time.Second), t0.Add(4*time.Second)
		events := []serving.Activation{
			act("m", 1, serving.EventActivated, t0),
			act("m", 2, serving.EventActivated, t1),
			act("m", 1, serving.EventRolledBack, t2),
			act("m", 1, serving.EventRetired, t3),
			act("m", 3, serving.EventActivated, t4),
		}
		// Record out of order: the history is kept in time order.
		for _, i := range []int{3, 0, 4, 2, 1} {
			if err := s.RecordActivation(ctx, events[i]); err != nil {
				t.Fatal(err)
			}
		}
		// Recording the same activation again is a no-op.
		if err := s.RecordActivation(ctx, events[1]); err != nil {
			t.Fatal(err)
		}
		h, err := s.History(ctx, "m")
		if err != nil || len(h) != len(events) {
			t.Fatalf("history %v, %v", h, err)
		}
		for i := range h {
			if !sameActivation(h[i], normActivation(events[i])) {
				t.Fatalf("history[%d] = %+v, want %+v", i, h[i], events[i])
			}
		}
		cases := []struct {
			at   time.Time
			want uint64 // 0: not active
		}{
			{t0.Add(-ns), 0},
			{t0, 1},
			{t1.Add(-ns), 1},
			{t1, 2},
			{t2.Add(-ns), 2},
			{t2, 1}, // the rollback is active at its own instant
			{t3.Add(-ns), 1},
			{t3, 0}, // retired
			{t4.Add(-ns), 0},
			{t4, 3},
			{t4.Add(time.Hour), 3},
		}
		for _, c := range cases {
			ref, err := s.At(ctx, "m", c.at)
			if c.want == 0 {
				if !errors.Is(err, ErrNotActive) {
					t.Errorf("At(%s) = %v, %v; want ErrNotActive", c.at.Format(time.RFC3339Nano), ref, err)
				}
				continue
			}
			if err != nil || ref.Version != c.want || ref.ID != fmt.Sprintf("id%d", c.want) {
				t.Errorf("At(%s) = %v, %v; want v%d", c.at.Format(time.RFC3339Nano), ref, err, c.want)
			}
		}
		// Two different activations at the same instant: the one
		// recorded last wins.
		if err := s.RecordActivation(ctx, act("m", 4, serving.EventActivated, t4)); err != nil {
			t.Fatal(err)
		}
		if ref, err := s.At(ctx, "m", t4); err != nil || ref.Version != 4 {
			t.Fatalf("same-instant activation: %v, %v", ref, err)
		}
		// Instants beyond the int64 nanosecond range are defined too.
		if _, err := s.At(ctx, "m", time.Time{}); !errors.Is(err, ErrNotActive) {
			t.Fatalf("At(zero time): %v", err)
		}
		if ref, err := s.At(ctx, "m", time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil || ref.Version != 4 {
			t.Fatalf("At(year 9999) = %v, %v", ref, err)
		}
		if err := s.RecordActivation(ctx, act("m", 9, serving.EventActivated, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))); !errors.Is(err, serving.ErrConfig) {
			t.Fatalf("activation in the year 3000: %v", err)
		}
		// A time zone does not change the instant.
		if ref, err := s.At(ctx, "m", t1.In(time.FixedZone("x", 5*3600))); err != nil || ref.Version != 2 {
			t.Fatalf("At in another zone: %v, %v", ref, err)
		}
		if _, err := s.At(ctx, "none", t0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("At of unknown name: %v", err)
		}
		if err := s.RecordActivation(ctx, act("m", 1, serving.EventLoaded, t0)); !errors.Is(err, serving.ErrConfig) {
			t.Fatalf("loaded is not an activation: %v", err)
		}
	})
}

func TestRetention(t *testing.T) {
	stores(t, func(t *testing.T, s *Registry) {
		ctx := context.Background()
		mustPut(t, s, fakeModel("m", 1))
		mustPut(t, s, fakeModel("m", 2))
		if err := s.SetAlias(ctx, "m", "champion", 1); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordActivation(ctx, act("m", 2, serving.EventActivated, time.Now())); err != nil {
			t.Fatal(err)
		}
		for i := 3; i <= 6; i++ {
			mustPut(t, s, fakeModel("m", float64(i)))
		}
		// Kept: v5, v6 (the last two), v1 (champion), v2 (active).
		for v := uint64(1); v <= 6; v++ {
			d, err := s.Get(ctx, "m", v)
			kept := v != 3 && v != 4
			switch {
			case kept && (err != nil || serving.ContentID(d.Bytes) != d.SHA256):
				t.Fatalf("v%d should be kept: %v", v, err)
			case !kept && !errors.Is(err, ErrPruned):
				t.Fatalf("v%d should be pruned: %v", v, err)
			case !kept && (d.Version != v || d.SHA256 == "" || d.Bytes != nil):
				t.Fatalf("pruned v%d metadata: %+v", v, d.Ref())
			}
		}
		vs, err := s.List(ctx, "m")
		if err != nil || len(vs) != 6 {
			t.Fatalf("metadata of %d versions, want 6 (%v)", len(vs), err)
		}
		if !vs[2].Pruned || vs[2].HasBytes || vs[2].Size == 0 {
			t.Fatalf("v3 metadata %+v", vs[2])
		}
		// A pruned version can still be re-put idempotently.
		d := fakeModel("m", 3)
		d.Version = 3
		if _, err := s.Put(ctx, d); err != nil {
			t.Fatal(err)
		}
	}, Retain(2))
}

func TestOffsets(t *testing.T) {
	stores(t, func(t *testing.T, s *Registry) {
		ctx := context.Background()
		got, err := s.Offsets(ctx, "models")
		if err != nil || len(got) != 0 {
			t.Fatalf("empty offsets = %v, %v", got, err)
		}
		if err := s.SetOffsets(ctx, "models", map[int32]int64{0: 10, 1: 20}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetOffsets(ctx, "models", map[int32]int64{1: 25, 2: 1}); err != nil {
			t.Fatal(err)
		}
		got, err = s.Offsets(ctx, "models")
		if err != nil || len(got) != 3 || got[0] != 10 || got[1] != 25 || got[2] != 1 {
			t.Fatalf("offsets = %v, %v", got, err)
		}
		if other, _ := s.Offsets(ctx, "other"); len(other) != 0 {
			t.Fatalf("other topic = %v", other)
		}
		if err := s.SetOffsets(ctx, "", nil); !errors.Is(err, serving.ErrConfig) {
			t.Fatalf("empty topic: %v", err)
		}
	})
}

func TestClosed(t *testing.T) {
	stores(t, func(t *testing.T, s *Registry) {
		mustPut(t, s, fakeModel("m", 1))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second close: %v", err)
		}
		ctx := context.Background()
		if _, err := s.Put(ctx, fakeModel("m", 2)); !errors.Is(err, serving.ErrClosed) {
			t.Fatalf("put after close: %v", err)
		}
		if _, err := s.Get(ctx, "m", 1); !errors.Is(err, serving.ErrClosed) {
			t.Fatalf("get after close: %v", err)
		}
	})
}

func TestConcurrentPutsAndGets(t *testing.T) {
	stores(t, func(t *testing.T, s *Registry) {
		ctx := context.Background()
		const writers, each = 4, 25
		var wg sync.WaitGroup
		errc := make(chan error, 64)
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					d, err := s.Put(ctx, fakeModel("m", float64(w*1000+i)))
					if err != nil {
						errc <- err
						return
					}
					// Read back what was just acknowledged.
					back, err := s.Get(ctx, "m", d.Version)
					if err != nil || back.SHA256 != d.SHA256 {
						errc <- fmt.Errorf("read back v%d: %v", d.Version, err)
						return
					}
				}
			}()
		}
		stop := make(chan struct{})
		var rg sync.WaitGroup
		for r := 0; r < 2; r++ {
			rg.Add(1)
			go func() {
				defer rg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if d, err := s.Resolve(ctx, "m", Latest); err == nil && serving.ContentID(d.Bytes) != d.SHA256 {
						errc <- fmt.Errorf("latest v%d has torn bytes", d.Version)
						return
					}
					if _, err := s.List(ctx, "m"); err != nil && !errors.Is(err, ErrNotFound) {
						errc <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(stop)
		rg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
		vs, err := s.List(ctx, "m")
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for i, v := range vs {
			if v.Descriptor.Version != uint64(i+1) {
				t.Fatalf("versions not contiguous: index %d has v%d", i, v.Descriptor.Version)
			}
			ids[v.Descriptor.SHA256] = true
		}
		if len(vs) != writers*each || len(ids) != writers*each {
			t.Fatalf("%d versions, %d distinct ids; want %d", len(vs), len(ids), writers*each)
		}
	})
}

func TestBoltSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reg.db")
	ctx := context.Background()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	v1 := mustPut(t, s, fakeModel("m", 1))
	mustPut(t, s, fakeModel("m", 2))
	if err := s.SetAlias(ctx, "m", "champion", 1); err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	if err := s.RecordActivation(ctx, act("m", 1, serving.EventActivated, at)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetOffsets(ctx, "models", map[int32]int64{0: 3}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d, err := s.Resolve(ctx, "m", "champion")
	if err != nil || d.SHA256 != v1.SHA256 || serving.ContentID(d.Bytes) != v1.SHA256 {
		t.Fatalf("champion after reopen: %v, %v", d.Ref(), err)
	}
	if ref, err := s.At(ctx, "m", at); err != nil || ref.Version != 1 {
		t.Fatalf("At after reopen: %v, %v", ref, err)
	}
	if offs, err := s.Offsets(ctx, "models"); err != nil || offs[0] != 3 {
		t.Fatalf("offsets after reopen: %v, %v", offs, err)
	}
	if got := mustPut(t, s, fakeModel("m", 3)); got.Version != 3 {
		t.Fatalf("next version after reopen: %d", got.Version)
	}
}

func TestOptionsValidate(t *testing.T) {
	if _, err := NewMemory(Retain(-1)); !errors.Is(err, serving.ErrConfig) {
		t.Fatalf("Retain(-1): %v", err)
	}
	if _, err := New(nil); !errors.Is(err, serving.ErrConfig) {
		t.Fatalf("New(nil): %v", err)
	}
}

// TestPutRefusesVersionOverflow: after version 2^64-1 there is no next
// version. Assigning one must fail, not wrap to 0 and overwrite (bolt)
// or duplicate (memory) a stored version.
func TestPutRefusesVersionOverflow(t *testing.T) {
	stores(t, func(t *testing.T, s *Registry) {
		ctx := context.Background()
		top := fakeModel("m", 1)
		top.Version = math.MaxUint64
		mustPut(t, s, top)
		for i := range 2 {
			if got, err := s.Put(ctx, fakeModel("m", float64(2+i))); !errors.Is(err, serving.ErrConfig) {
				t.Fatalf("put %d after the last version: got v%d, %v", i, got.Version, err)
			}
		}
		// The idempotent re-put of the top version still works.
		again := fakeModel("m", 1)
		if got, err := s.Put(ctx, again); err != nil || got.Version != math.MaxUint64 {
			t.Fatalf("re-put of the top version: v%d, %v", got.Version, err)
		}
		vs, err := s.List(ctx, "m")
		if err != nil || len(vs) != 1 || vs[0].Descriptor.Version != math.MaxUint64 {
			t.Fatalf("List = %+v, %v", vs, err)
		}
	})
}

// TestPutValidatesLocationSHA256: without bytes, the SHA256 is the only
// content ID the store has; it must be one (64 lowercase hex digits), or
// an ID such as "X\x00y" would corrupt the content-ID index that
// lineage reads, and "ABC..." would name the same content as "abc...".
func TestPutValidatesLocationSHA256(t *testing.T) {
	stores(t, func(t *testing.T, s *Registry) {
		ctx := context.Background()
		good := serving.ContentID([]byte("x"))
		for _, sum := range []string{"x", good[:63], good + "0", strings.ToUpper(good), good[:62] + "\x00a", good[:63] + "g"} {
			d := serving.Descriptor{Name: "m", Format: "fake", Location: "file:///m", SHA256: sum}
			if _, err := s.Put(ctx, d); !errors.Is(err, serving.ErrInvalidDescriptor) {
				t.Fatalf("sha256 %q: %v", sum, err)
			}
		}
		if _, err := s.Names(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestNewRefusesOtherLayouts: a Storage written with another key
// layout is refused with serving.ErrCorruptState, and left as it was.
func TestNewRefusesOtherLayouts(t *testing.T) {
	st := newMemStorage()
	if err := st.Update(context.Background(), func(w Writer) error { return w.Put(keySchema, []byte("99")) }); err != nil {
		t.Fatal(err)
	}
	if _, err := New(st); !errors.Is(err, serving.ErrCorruptState) {
		t.Fatalf("New over layout 99: %v", err)
	}
	st.View(context.Background(), func(r Reader) error {
		if got := string(r.Get(keySchema)); got != "99" {
			t.Fatalf("schema rewritten to %q", got)
		}
		return nil
	})
}
