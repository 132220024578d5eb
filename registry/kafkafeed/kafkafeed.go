package kafkafeed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/modelstream/modelstream/registry"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
)

// Option configures a Sync. An option of another constructor does not
// compile here.
type Option interface{ applySync(*Sync) }

type option func(*Sync)

func (f option) applySync(s *Sync) { f(s) }

// Topic sets the models topic, overriding the default of
// kafka.DefaultModelsTopic. It is the one place to name it:
// [Sync.FeedOptions] passes it to the feed as kafka.Topic, and
// kafka.NewModelFeed refuses, with serving.ErrConfig, a kafka.Topic of
// your own that names another topic.
func Topic(t string) Option { return option(func(s *Sync) { s.topic = t }) }

// Observer adds fn to the Sync's Observe, which calls it after the
// offset is recorded. It may be given several times, and the functions
// are called in that order, each even when one before it panics (see
// [Sync.Observe]); the default is none. A kafka.Observer given to the
// feed beside [Sync.FeedOptions] is called too, in the order of the
// feed's options: before the offset is recorded if it comes before them.
func Observer(fn func(kafka.FeedEvent)) Option {
	return option(func(s *Sync) { s.observers = append(s.observers, fn) })
}

// Logger sets the logger for storage failures, overriding the default of
// slog.Default().
func Logger(l *slog.Logger) Option { return option(func(s *Sync) { s.logger = l }) }

// Sync keeps a *registry.Registry in step with a ModelFeed: it is the
// Server's last Admitter, storing every model that goes live (see
// Commit), and the feed's observer, recording the offset to resume from.
// It is safe for concurrent use; the feed's calls of Observe for one
// partition never overlap and come in offset order.
type Sync struct {
	store     *registry.Registry
	topic     string
	observers []func(kafka.FeedEvent)
	logger    *slog.Logger

	stored   atomic.Uint64
	failures atomic.Uint64
	mu       sync.Mutex
	lastErr  error
	// held lists the partitions whose resume point no longer moves in
	// this run: a model read there could not be stored, and must be read
	// again after a restart. Guarded by mu.
	held map[int32]bool
}

// New returns a Sync writing to store.
func New(store *registry.Registry, opts ...Option) (*Sync, error) {
	s := &Sync{store: store, topic: kafka.DefaultModelsTopic, logger: slog.Default()}
	for _, o := range opts {
		o.applySync(s)
	}
	switch {
	case store == nil:
		return nil, fmt.Errorf("%w: kafkafeed: nil store", serving.ErrConfig)
	case s.topic == "":
		return nil, fmt.Errorf("%w: kafkafeed: Topic(\"\")", serving.ErrConfig)
	case s.logger == nil:
		return nil, fmt.Errorf("%w: kafkafeed: Logger(nil)", serving.ErrConfig)
	}
	if slices.ContainsFunc(s.observers, func(fn func(kafka.FeedEvent)) bool { return fn == nil }) {
		return nil, fmt.Errorf("%w: kafkafeed: Observer(nil)", serving.ErrConfig)
	}
	return s, nil
}

// FeedOptions reads the stored offsets and versions and returns the feed
// options described in the package documentation. Pass them to
// kafka.NewModelFeed with any options of your own. The feed calls every
// kafka.Observer it is given, so one of yours adds to the Sync's rather
// than replace it; a kafka.Topic of yours must name the Sync's topic
// (see [Topic]), and a kafka.StartOffsets of yours must start every
// partition where the store says, or NewModelFeed refuses it with
// serving.ErrConfig; a kafka.KnownVersions of yours adds to the stored
// versions, the feed knowing the higher of the two for each name.
func (s *Sync) FeedOptions(ctx context.Context) ([]kafka.FeedOption, error) {
	offs, err := s.store.Offsets(ctx, s.topic)
	if err != nil {
		return nil, fmt.Errorf("kafkafeed: offsets of %q: %w", s.topic, err)
	}
	known, err := s.highestVersions(ctx)
	if err != nil {
		return nil, err
	}
	return []kafka.FeedOption{
		kafka.Topic(s.topic),
		kafka.StartOffsets(offs),
		kafka.KnownVersions(known),
		kafka.Observer(s.Observe),
	}, nil
}

// highestVersions returns the highest stored version of every name: the
// feed, which resumes after the messages that carried them, numbers its
// version-less messages above them. Without them, a name whose live
// version was not restored (retired, or no history recorded) would be
// numbered from 1 again, and the Sync refuse the model as a version
// conflict with the stored one.
func (s *Sync) highestVersions(ctx context.Context) (map[string]uint64, error) {
	names, err := s.store.Names(ctx)
	if err != nil {
		return nil, fmt.Errorf("kafkafeed: stored names: %w", err)
	}
	known := make(map[string]uint64, len(names))
	for _, name := range names {
		vs, err := s.store.List(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("kafkafeed: versions of %q: %w", name, err)
		}
		for _, v := range vs {
			known[name] = max(known[name], v.Descriptor.Version)
		}
	}
	return known, nil
}

// Admit implements serving.Admitter and admits everything: a Sync
// judges nothing, it records. Give it to the Server with
// serving.WithAdmission, after any Admitter that may refuse (such as a
// governance.Verifier).
func (s *Sync) Admit(context.Context, serving.Descriptor) error { return nil }

// Commit stores d, and implements serving.Committer: the Server calls it
// once the model has loaded, warmed up and passed validation, right
// before it goes live, so a model that never loads is never stored and
// cannot block a good copy of the same version. A model given by
// Location is stored as metadata, with its sha256. An error (the store
// failing, or a different model already stored under that version)
// refuses the model, which then does not replace the live one.
//
// When the store fails to write (rather than refuse the model for good:
// a version conflict, or a descriptor it cannot keep), the offset of
// that message's partition stops moving for the rest of the run, so that
// a restart reads the model again, and the messages after it, which
// idempotent puts absorb; otherwise a store that failed once and then
// recovered would let the resume point pass a model that never went
// live, and a restarted instance would never serve it.
func (s *Sync) Commit(ctx context.Context, d serving.Descriptor) error {
	if _, err := s.store.Put(ctx, d); err != nil {
		s.fail(err)
		err = fmt.Errorf("kafkafeed: store %s: %w", d.Ref(), err)
		if permanent(err) {
			// A version conflict means the topic holds two different
			// loadable models under one version: keep the first.
			return err
		}
		return &storeError{err}
	}
	s.stored.Add(1)
	return nil
}

// permanent reports whether a Put error refuses the model for good, so
// that reading its message again could not store it.
func permanent(err error) bool {
	return errors.Is(err, registry.ErrVersionConflict) || errors.Is(err, serving.ErrInvalidDescriptor) ||
		errors.Is(err, serving.ErrChecksum) || errors.Is(err, serving.ErrConfig)
}

// storeError marks a Commit that failed because the store could not
// write: Observe then holds the partition's resume point.
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

var _ serving.Committer = (*Sync)(nil)

var _ serving.Admitter = (*Sync)(nil)

// Observe records the offset after e as the partition's resume point,
// unless a model of that partition could not be stored in this run (see
// Commit), then calls the Observer functions in order. It has the shape
// of the feed's observer hook. An Observer that panics is recovered and
// logged with its stack, and the Observers after it are still called.
func (s *Sync) Observe(e kafka.FeedEvent) {
	if e.Topic == s.topic && !s.hold(e) {
		if err := s.store.SetOffsets(context.Background(), s.topic, map[int32]int64{e.Partition: e.Offset + 1}); err != nil {
			s.fail(err)
			s.logger.Error("kafkafeed: recording offset failed; a restart re-reads from the previous one",
				"topic", e.Topic, "partition", e.Partition, "offset", e.Offset, "err", err)
		}
	}
	for i, fn := range s.observers {
		s.observe(i, fn, e)
	}
}

// observe calls fn, the i-th Observer, with e. A panic there is user
// code failing on one event: it must not keep the Observers after fn
// (an audit of refused models, say) from hearing of it.
func (s *Sync) observe(i int, fn func(kafka.FeedEvent), e kafka.FeedEvent) {
	defer func() {
		if p := recover(); p != nil {
			s.logger.Error("kafkafeed: recovered a panic in an Observer", "observer", i, "topic", e.Topic, "partition", e.Partition,
				"offset", e.Offset, "model", e.Model.String(), "panic", p, "stack", string(debug.Stack()))
		}
	}()
	fn(e)
}

// hold reports whether e's partition keeps its resume point: e is, or
// follows, a model that the store failed to write.
func (s *Sync) hold(e kafka.FeedEvent) bool {
	var se *storeError
	failed := errors.As(e.Err, &se)
	s.mu.Lock()
	defer s.mu.Unlock()
	if failed && !s.held[e.Partition] {
		if s.held == nil {
			s.held = map[int32]bool{}
		}
		s.held[e.Partition] = true
		s.logger.Warn("kafkafeed: a model could not be stored; the resume point of its partition stays before it until a restart",
			"topic", e.Topic, "partition", e.Partition, "offset", e.Offset, "model", e.Model.String())
	}
	return s.held[e.Partition]
}

func (s *Sync) fail(err error) {
	s.failures.Add(1)
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
}

// Stored returns how many models Commit stored (idempotent re-puts
// included).
func (s *Sync) Stored() uint64 { return s.stored.Load() }

// Failures returns how many store writes failed, and the last error.
func (s *Sync) Failures() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failures.Load(), s.lastErr
}
