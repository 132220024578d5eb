package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestFollowRollbackRestore drives a real Server through activations, a
// rollback and a retirement while a Follower records them, then checks
// that At answers exactly at each recorded instant, and that a restarted
// Server restores the active version from the durable store.
func TestFollowRollbackRestore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "reg.db")
	store, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	f := Follow(store, quietLogger())
	srv, err := serving.NewServer(serving.WithLogger(quietLogger()), serving.WithHooks(f))
	if err != nil {
		t.Fatal(err)
	}
	var ds []serving.Descriptor
	for v := uint64(1); v <= 3; v++ {
		d := mustPut(t, store, servingtest.Spec{Value: float64(v)}.Descriptor("m", 0))
		if _, err := srv.Activate(ctx, d); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	ref, err := Rollback(ctx, store, srv, "m", 2)
	if err != nil || ref.Version != 2 {
		t.Fatalf("rollback = %v, %v", ref, err)
	}
	if cur, _ := srv.Current("m"); cur.Version != 2 || cur.ID != ds[1].SHA256 {
		t.Fatalf("server serves %v after rollback", cur)
	}
	res, err := srv.Model("m").Score(ctx, serving.Record{})
	if err != nil || res.Value != 2 || res.Provenance.Model.Version != 2 {
		t.Fatalf("score after rollback: %v, %v", res, err)
	}
	// Rolling back to a version that is not stored changes nothing.
	if _, err := Rollback(ctx, store, srv, "m", 9); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rollback to missing version: %v", err)
	}
	if cur, _ := srv.Current("m"); cur.Version != 2 {
		t.Fatalf("failed rollback changed the live model to %v", cur)
	}

	// The store's history equals the Server's: the Follower and Rollback
	// recorded the rollback once.
	h, err := store.History(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	sh := srv.History("m")
	if len(h) != 4 || len(sh) != 4 {
		t.Fatalf("store history %d entries, server %d; want 4", len(h), len(sh))
	}
	for i := range h {
		if !sameActivation(h[i], normActivation(sh[i])) {
			t.Fatalf("history[%d]: store %+v, server %+v", i, h[i], sh[i])
		}
	}
	if h[3].Kind != serving.EventRolledBack || h[3].Model.Version != 2 {
		t.Fatalf("last entry %+v, want a rollback to v2", h[3])
	}
	for i, a := range h {
		ref, err := store.At(ctx, "m", a.At)
		if err != nil || ref.Version != a.Model.Version {
			t.Fatalf("At(entry %d) = %v, %v; want v%d", i, ref, err, a.Model.Version)
		}
	}
	if n, err := f.Failures(); n != 0 {
		t.Fatalf("follower failures: %d, %v", n, err)
	}
	// A graceful shutdown: Close is not recorded as retirements.
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	// A restart: a fresh Server over the reopened store serves v2 again.
	store, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// Restore goes through the Server's admission, as a restore: the
	// Admitter is asked, and told it is not a topic message (IsRollback),
	// so that a replay check seeded with v3 lets the recorded v2 through.
	var admitted []string
	srv2, err := serving.NewServer(serving.WithLogger(quietLogger()), serving.WithAdmission(serving.AdmitterFunc(
		func(ctx context.Context, d serving.Descriptor) error {
			admitted = append(admitted, d.Ref().String())
			if !serving.IsRollback(ctx) {
				return errors.New("not a restore")
			}
			return nil
		})))
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	got, err := Restore(ctx, store, srv2)
	if err != nil || len(got) != 1 || got[0].Version != 2 {
		t.Fatalf("restore = %v, %v", got, err)
	}
	if cur, _ := srv2.Current("m"); cur.ID != ds[1].SHA256 {
		t.Fatalf("restored %v", cur)
	}
	if len(admitted) != 1 || admitted[0] != "m@v2" {
		t.Fatalf("admitted %v, want [m@v2]", admitted)
	}
	// A name already live at that version or newer is left alone.
	if got, err := Restore(ctx, store, srv2); err != nil || len(got) != 0 || len(admitted) != 1 {
		t.Fatalf("second restore = %v, %v (admitted %v)", got, err, admitted)
	}

	// An Admitter that refuses keeps the model out, and Restore says why.
	srv3, err := serving.NewServer(serving.WithLogger(quietLogger()), serving.WithAdmission(serving.AdmitterFunc(
		func(context.Context, serving.Descriptor) error { return errors.New("untrusted") })))
	if err != nil {
		t.Fatal(err)
	}
	defer srv3.Close()
	if got, err := Restore(ctx, store, srv3); !errors.Is(err, serving.ErrNotAdmitted) || len(got) != 0 {
		t.Fatalf("restore through a refusing Admitter = %v, %v", got, err)
	}
	if _, ok := srv3.Current("m"); ok {
		t.Fatal("a refused model was restored")
	}
}

func TestFollowerCountsFailures(t *testing.T) {
	st := &failingStorage{Storage: newMemStorage()}
	m, err := New(st)
	if err != nil {
		t.Fatal(err)
	}
	st.fail.Store(true)
	f := Follow(m, quietLogger())
	srv, _ := serving.NewServer(serving.WithLogger(quietLogger()), serving.WithHooks(f))
	defer srv.Close()
	if _, err := srv.Activate(context.Background(), servingtest.Spec{Value: 1}.Descriptor("m", 1)); err != nil {
		t.Fatal(err)
	}
	if n, err := f.Failures(); n != 1 || err == nil {
		t.Fatalf("failures = %d, %v", n, err)
	}
	// The swap happened regardless.
	if cur, ok := srv.Current("m"); !ok || cur.Version != 1 {
		t.Fatalf("current = %v", cur)
	}
	f.Stop()
	srv.Retire("m")
	if n, _ := f.Failures(); n != 1 {
		t.Fatalf("a stopped follower recorded: %d failures", n)
	}
}

func TestFollowNilStorePanicsAtOnce(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Follow(nil, …) did not panic")
		}
	}()
	Follow(nil, nil)
}

// TestRestoreNumbersAboveTheStore: a Server restarted on a store whose
// history ends in a rollback (v1, v2, v3, then v1 again) serves v1, and
// numbers its next version-less activation v4, above every stored
// version: v2 already names another model, and the store refuses to
// store a second model under it (ErrVersionConflict).
func TestRestoreNumbersAboveTheStore(t *testing.T) {
	ctx := context.Background()
	store, err := Open(filepath.Join(t.TempDir(), "reg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	f := Follow(store, quietLogger())
	srv, err := serving.NewServer(serving.WithLogger(quietLogger()), serving.WithHooks(f))
	if err != nil {
		t.Fatal(err)
	}
	for v := uint64(1); v <= 3; v++ {
		if _, err := srv.Activate(ctx, mustPut(t, store, servingtest.Spec{Value: float64(v)}.Descriptor("m", 0))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Rollback(ctx, store, srv, "m", 1); err != nil {
		t.Fatal(err)
	}
	srv.Close()

	srv2, err := serving.NewServer(serving.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	if got, err := Restore(ctx, store, srv2); err != nil || len(got) != 1 || got[0].Version != 1 {
		t.Fatalf("restore = %v, %v; want m@v1", got, err)
	}
	d := servingtest.Spec{Value: 4}.Descriptor("m", 0)
	ref, err := srv2.Activate(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Version != 4 {
		t.Fatalf("next version after restoring a rollback = v%d, want v4", ref.Version)
	}
	d.Version = ref.Version
	if _, err := store.Put(ctx, d); err != nil {
		t.Fatalf("storing what the Server numbered: %v", err)
	}
}

// TestRestoreReportsUnstoredLiveModel: a name whose history says a model
// is live but which has no stored version (it was activated only with
// ActivateModel) cannot be restored, and Restore says so, naming it, in
// an error that wraps ErrNotFound, while the stored names are still
// restored. A name retired before the restart is not reported.
func TestRestoreReportsUnstoredLiveModel(t *testing.T) {
	ctx := context.Background()
	store, err := Open(filepath.Join(t.TempDir(), "reg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	srv, err := serving.NewServer(serving.WithLogger(quietLogger()), serving.WithHooks(Follow(store, quietLogger())))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Activate(ctx, mustPut(t, store, servingtest.Spec{Value: 1}.Descriptor("stored", 0))); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"adhoc", "gone"} {
		if _, err := srv.ActivateModel(ctx, serving.ModelRef{Name: name}, &servingtest.Fake{Output: serving.Prediction{Value: 2}}); err != nil {
			t.Fatal(err)
		}
	}
	srv.Retire("gone")
	srv.Close()

	srv2, err := serving.NewServer(serving.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	got, err := Restore(ctx, store, srv2)
	if len(got) != 1 || got[0].Name != "stored" || got[0].Version != 1 {
		t.Fatalf("restored %v, want [stored@v1]", got)
	}
	if !errors.Is(err, ErrNotFound) || !strings.Contains(fmt.Sprint(err), "adhoc@v1") {
		t.Fatalf("restore error = %v; want ErrNotFound naming adhoc@v1", err)
	}
	if strings.Contains(fmt.Sprint(err), "gone") {
		t.Fatalf("restore error = %v; names a retired model", err)
	}
}

// TestRestoreReadsTheLastEntryWhateverTheClock: Restore serves what the
// history's last entry made live, even when that entry is later than the
// clock now reads, as after a restart on a host whose clock was stepped
// back (NTP), or with a history another host recorded. Reading the
// history at the clock's now restored m@v1, which v2 had replaced, and
// stopped reporting unstored names at the first one whose history lay
// wholly after now, so that "later" below hid "sooner".
func TestRestoreReadsTheLastEntryWhateverTheClock(t *testing.T) {
	ctx := context.Background()
	store, err := NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Now()
	v1 := mustPut(t, store, servingtest.Spec{Value: 1}.Descriptor("m", 0))
	v2 := mustPut(t, store, servingtest.Spec{Value: 2}.Descriptor("m", 0))
	for _, a := range []serving.Activation{
		{Model: v1.Ref(), Kind: serving.EventActivated, At: now.Add(-time.Hour)},
		{Model: v2.Ref(), Kind: serving.EventActivated, At: now.Add(time.Minute)},
		// Live in the history, never stored: names of one length, so
		// that "later" is scanned first.
		{Model: serving.ModelRef{Name: "later", Version: 1}, Kind: serving.EventActivated, At: now.Add(time.Minute)},
		{Model: serving.ModelRef{Name: "soonr", Version: 1}, Kind: serving.EventActivated, At: now.Add(-time.Hour)},
	} {
		if err := store.RecordActivation(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := serving.NewServer(serving.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	got, err := Restore(ctx, store, srv)
	if len(got) != 1 || got[0] != v2.Ref() {
		t.Fatalf("restored %v; want [%v], the last entry of m's history", got, v2.Ref())
	}
	for _, name := range []string{"later@v1", "soonr@v1"} {
		if !errors.Is(err, ErrNotFound) || !strings.Contains(fmt.Sprint(err), name) {
			t.Errorf("restore error = %v; want ErrNotFound naming %s", err, name)
		}
	}
}
