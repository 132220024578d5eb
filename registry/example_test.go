package registry_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/modelstream/modelstream/registry"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// A store assigns versions, moves aliases, and answers which version was
// active at a given instant.
func Example() {
	ctx := context.Background()
	store, err := registry.NewMemory(registry.Retain(10))
	if err != nil {
		panic(err)
	}
	defer store.Close()

	v1, _ := store.Put(ctx, servingtest.Spec{Value: 1}.Descriptor("fraud", 0))
	child := servingtest.Spec{Value: 2}.Descriptor("fraud", 0)
	child.Parent = v1.SHA256
	v2, _ := store.Put(ctx, child)
	fmt.Println("stored", v1.Ref(), v2.Ref())

	_ = store.SetAlias(ctx, "fraud", "champion", v1.Version)
	_ = store.SetAlias(ctx, "fraud", "challenger", v2.Version)
	champ, _ := store.Resolve(ctx, "fraud", "champion")
	fmt.Println("champion is", champ.Ref())

	lineage, _ := store.Lineage(ctx, "fraud", v2.Version)
	for _, v := range lineage {
		fmt.Println("lineage:", v.Descriptor.Ref())
	}

	// The activation history, as a Follower would record it.
	noon := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	_ = store.RecordActivation(ctx, serving.Activation{Model: v1.Ref(), Kind: serving.EventActivated, At: noon})
	_ = store.RecordActivation(ctx, serving.Activation{Model: v2.Ref(), Kind: serving.EventActivated, At: noon.Add(time.Hour)})
	_ = store.RecordActivation(ctx, serving.Activation{Model: v1.Ref(), Kind: serving.EventRolledBack, At: noon.Add(2 * time.Hour)})
	for _, t := range []time.Duration{0, 90 * time.Minute, 2 * time.Hour} {
		ref, _ := store.At(ctx, "fraud", noon.Add(t))
		fmt.Printf("active at 12:00+%v: %s\n", t, ref)
	}
	// Output:
	// stored fraud@v1 fraud@v2
	// champion is fraud@v1
	// lineage: fraud@v2
	// lineage: fraud@v1
	// active at 12:00+0s: fraud@v1
	// active at 12:00+1h30m0s: fraud@v2
	// active at 12:00+2h0m0s: fraud@v1
}

// Rollback activates an older stored version in a Server, and the
// Follower hooked into the Server keeps the store's history in step.
func ExampleRollback() {
	ctx := context.Background()
	store, _ := registry.NewMemory()
	defer store.Close()
	follower := registry.Follow(store, nil)
	srv, _ := serving.NewServer(serving.WithHooks(follower), serving.WithLogger(quiet))
	defer srv.Close()

	for v := 1; v <= 2; v++ {
		d, _ := store.Put(ctx, servingtest.Spec{Value: float64(v)}.Descriptor("fraud", 0))
		_, _ = srv.Activate(ctx, d)
	}
	ref, err := registry.Rollback(ctx, store, srv, "fraud", 1)
	fmt.Println("live:", ref, err)
	h, _ := store.History(ctx, "fraud")
	for _, a := range h {
		fmt.Println(a.Kind, a.Model)
	}
	// Output:
	// live: fraud@v1 <nil>
	// activated fraud@v1
	// activated fraud@v2
	// rolled_back fraud@v1
}

// Restore brings a restarted instance back to what it served, from the
// store alone. The store needs the models (Put) as well as the history
// (the Follower): a Follower alone records what went live, not the
// bytes to load it again.
func ExampleRestore() {
	ctx := context.Background()
	store, _ := registry.NewMemory() // registry/bolt's Storage in production
	defer store.Close()

	// The instance before the restart: each model is stored, then
	// activated; the Follower records each swap.
	before, _ := serving.NewServer(serving.WithHooks(registry.Follow(store, nil)), serving.WithLogger(quiet))
	for v := 1; v <= 2; v++ {
		d, _ := store.Put(ctx, servingtest.Spec{Value: float64(v)}.Descriptor("fraud", 0))
		_, _ = before.Activate(ctx, d)
	}
	_, _ = registry.Rollback(ctx, store, before, "fraud", 1)
	_ = before.Close() // a shutdown: the history still says fraud@v1 is live

	// After the restart: a new Server, the same store.
	after, _ := serving.NewServer(serving.WithHooks(registry.Follow(store, nil)), serving.WithLogger(quiet))
	defer after.Close()
	refs, err := registry.Restore(ctx, store, after)
	fmt.Println("restored:", refs, err)
	res, _ := after.Model("fraud").Score(ctx, serving.Record{Features: []float64{0}})
	fmt.Println("scores with:", res.Provenance.Model, res.Value)
	ref, _ := after.Activate(ctx, servingtest.Spec{Value: 3}.Descriptor("fraud", 0))
	fmt.Println("next version:", ref) // above every stored version, not v2 again
	// Output:
	// restored: [fraud@v1] <nil>
	// scores with: fraud@v1 1
	// next version: fraud@v3
}
