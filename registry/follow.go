package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelstream/modelstream/serving"
)

// Follower is a serving hook that records every activation, rollback and
// retirement of a Server into a Registry's activation history, so that
// Registry.At answers for what the Server actually served:
//
//	f := registry.Follow(store, logger)
//	srv, _ := serving.NewServer(serving.WithHooks(f))
//
// It records what went live, not the models: for [Restore] to serve them
// again, each must also be stored, with [Registry.Put] before it is
// activated, or by a registry/kafkafeed Sync given to the Server as its
// last Admitter, which stores every model that goes live.
//
// The Server calls hooks synchronously after each swap, so a durable
// store's fsync lengthens the activation (never a scoring call). A
// failed write cannot fail the swap that already happened: it is logged,
// counted, and reported by Failures. Server.Close reports no
// retirements, so the history survives a graceful shutdown for
// [Restore]. A Follower is safe for concurrent use.
type Follower struct {
	store   *Registry
	logger  *slog.Logger
	timeout time.Duration

	stopped  atomic.Bool
	failures atomic.Uint64
	mu       sync.Mutex
	lastErr  error
}

var _ serving.HookModelEvent = (*Follower)(nil)

// Follow returns a Follower writing to store and logging failures to
// logger (nil means slog.Default()). Each write is bounded by a 10s
// context; the local stores never need that long, a remote one might.
// A nil store is a programming error: Follow panics rather than fail
// inside the Server's first activation.
func Follow(store *Registry, logger *slog.Logger) *Follower {
	if store == nil {
		panic("registry: Follow with a nil Registry")
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Follower{store: store, logger: logger, timeout: 10 * time.Second}
}

// OnModelEvent implements serving.HookModelEvent.
func (f *Follower) OnModelEvent(e serving.ModelEvent) {
	if !validKind(e.Kind) || f.stopped.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	a := serving.Activation{Model: e.Model, Kind: e.Kind, At: e.Time}
	if err := f.store.RecordActivation(ctx, a); err != nil {
		f.failures.Add(1)
		f.mu.Lock()
		f.lastErr = err
		f.mu.Unlock()
		f.logger.Error("registry: recording model event failed", "model", e.Model.Name, "version", e.Model.Version, "id", e.Model.ID, "event", e.Kind.String(), "err", err)
	}
}

// Stop makes f ignore later events, such as the retirements of a
// program that retires its models with Server.Retire as it stops (a
// recorded retirement means "serve nothing" to [Restore]). Server.Close
// needs no Stop: it reports no retirements.
func (f *Follower) Stop() { f.stopped.Store(true) }

// Failures returns how many events could not be recorded, and the last
// error.
func (f *Follower) Failures() (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failures.Load(), f.lastErr
}

// Rollback makes version of name, read from store, the live model in
// srv, even though it is older than the live one (serving.AllowRollback),
// and records the activation in the store's history with the exact time
// and kind the Server recorded. If srv also has a Follower of store,
// that recording is the same activation and is not duplicated.
//
// The version goes through srv.Activate, and so through the Server's
// admission (serving.WithAdmission), as a rollback (serving.IsRollback).
// If the version cannot be read, loaded or admitted, the live model keeps
// serving and nothing is recorded. Rollback returns the ModelRef now
// live.
func Rollback(ctx context.Context, store *Registry, srv *serving.Server, name string, version uint64) (serving.ModelRef, error) {
	d, err := store.Get(ctx, name, version)
	if err != nil && !(errors.Is(err, ErrPruned) && d.Location != "") {
		return serving.ModelRef{}, fmt.Errorf("registry: rollback %s@v%d: %w", name, version, err)
	}
	ref, err := srv.Activate(ctx, d, serving.AllowRollback())
	if err != nil {
		return ref, fmt.Errorf("registry: rollback %s@v%d: %w", name, version, err)
	}
	if err := store.RecordActivation(ctx, lastActivation(srv, ref)); err != nil {
		return ref, fmt.Errorf("registry: rollback %s@v%d: activated but not recorded: %w", name, version, err)
	}
	return ref, nil
}

// lastActivation finds the Server's own record of the activation of ref,
// so the store records the same time. If the Server's bounded history no
// longer holds it (a flood of later activations), it falls back to now.
func lastActivation(srv *serving.Server, ref serving.ModelRef) serving.Activation {
	h := srv.History(ref.Name)
	for i := len(h) - 1; i >= 0; i-- {
		a := h[i]
		if a.Model == ref && (a.Kind == serving.EventActivated || a.Kind == serving.EventRolledBack) {
			return a
		}
	}
	return serving.Activation{Model: ref, Kind: serving.EventRolledBack, At: time.Now()}
}

// Restore activates in srv, for every name in store, the version the
// last entry of its activation history made live, so a restarted
// instance serves what it served before without waiting for the models
// topic. It reads the last entry, not the entry at the clock's now: a
// clock stepped back across the restart, or a history recorded on a
// host whose clock runs ahead, must not restore a version that a later
// one replaced. Names without history, or whose last event is a
// retirement, are skipped (Server.Close records none: a shutdown is not
// a retirement), and so are names srv already serves at that version or
// a newer one.
//
// It restores stored versions only: a [Follower] records the history,
// not the models. The feed of package registry/kafkafeed stores every
// model that goes live; a program that activates Descriptors itself
// stores each with [Registry.Put] and activates what Put returns. A name
// whose history says a version is live but which has no stored version
// at all, such as one activated only with serving.Server.ActivateModel,
// cannot be restored: the joined error names it and wraps [ErrNotFound],
// as it does for a name whose live version is missing while others are
// stored.
//
// Each model goes through srv.Activate, and so through the Server's
// admission (serving.WithAdmission): a model the Server would not admit
// is not restored. It is activated with serving.AllowRollback, since the
// recorded version may be older than the newest one stored, so that an
// Admitter can tell a restore from a replayed topic message
// (serving.IsRollback), and with serving.HighestVersion of the highest
// version stored, so that the Server numbers a later version-less
// activation above every stored version even when the one restored is
// older. It returns the models activated; a model that
// fails to load or is not admitted is reported in the joined error and
// the others are still restored.
func Restore(ctx context.Context, store *Registry, srv *serving.Server) ([]serving.ModelRef, error) {
	names, err := store.Names(ctx)
	if err != nil {
		return nil, err
	}
	var out []serving.ModelRef
	errs := store.unstoredLive(ctx)
	for _, name := range names {
		ref, err := store.At(ctx, name, maxNano) // the last entry
		if errors.Is(err, ErrNotActive) || errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if cur, live := srv.Current(name); live && cur.Version >= ref.Version {
			continue
		}
		d, err := store.Get(ctx, name, ref.Version)
		if err != nil && !(errors.Is(err, ErrPruned) && d.Location != "") {
			errs = append(errs, fmt.Errorf("registry: restore %s: %w", ref, err))
			continue
		}
		var high uint64
		err = store.view(ctx, func(rd Reader) error {
			v, ok, err := lastVersion(rd, name)
			if ok {
				high = v.Model.Version
			}
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("registry: restore %s: %w", ref, err))
			continue
		}
		got, err := srv.Activate(ctx, d, serving.AllowRollback(), serving.HighestVersion(high))
		if err != nil {
			errs = append(errs, fmt.Errorf("registry: restore %s: %w", ref, err))
			continue
		}
		out = append(out, got)
	}
	return out, errors.Join(errs...)
}

// unstoredLive returns an error for each name whose history's last
// entry made a version live but which has no stored version: Names
// leaves such names out, and Restore cannot activate them.
func (r *Registry) unstoredLive(ctx context.Context) []error {
	var errs []error
	err := r.view(ctx, func(rd Reader) error {
		var names []string
		p := []byte{kName}
		err := rd.Scan(p, end(p), false, func(k, _ []byte) (bool, error) {
			name := string(k[5:])
			vp := key(kVer, name)
			fk, _, err := first(rd, vp, end(vp), false)
			if err == nil && fk == nil {
				names = append(names, name)
			}
			return err == nil, err
		})
		if err != nil {
			return err
		}
		for _, name := range names {
			hp := key(kHist, name)
			_, raw, err := first(rd, hp, end(hp), true)
			if err != nil {
				return err
			}
			if raw == nil {
				continue
			}
			a, err := decodeActivation(raw)
			if err != nil {
				return err
			}
			if ref, err := activeRef(name, a, maxNano); err == nil {
				errs = append(errs, fmt.Errorf("registry: restore %s: live in the history, but no version of it is stored (activated without Registry.Put?): %w", ref, notFound(name, 0)))
			}
		}
		return nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("registry: restore: %w", err))
	}
	return errs
}
