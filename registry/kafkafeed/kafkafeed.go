package kafkafeed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/modelstream/modelstream/registry"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
)

// Option configures a Sync.
type Option func(*Sync)

// Topic sets the models topic, overriding the default of
// kafka.DefaultModelsTopic. It must match the feed's kafka.Topic;
// FeedOptions sets both.
func Topic(t string) Option { return func(s *Sync) { s.topic = t } }

// Check sets a check a model must pass before it is stored and
// activated, such as governance.Verifier.Verify. The default accepts
// every model the feed could resolve.
func Check(fn func(ctx context.Context, d serving.Descriptor) error) Option {
	return func(s *Sync) { s.check = fn }
}

// Observer adds fn to the feed's observer hook, called after the offset
// is recorded; FeedOptions sets kafka.Observer, so other observers
// (such as govkafka.FeedObserver) go here. It may be given several times.
func Observer(fn func(kafka.FeedEvent)) Option {
	return func(s *Sync) { s.observers = append(s.observers, fn) }
}

// Logger sets the logger for storage failures, overriding the default of
// slog.Default().
func Logger(l *slog.Logger) Option { return func(s *Sync) { s.logger = l } }

// Sync keeps a registry.Store in step with a ModelFeed. It is safe for
// concurrent use; the feed calls it from one goroutine per partition.
type Sync struct {
	store     registry.Store
	topic     string
	check     func(context.Context, serving.Descriptor) error
	observers []func(kafka.FeedEvent)
	logger    *slog.Logger

	stored   atomic.Uint64
	failures atomic.Uint64
	mu       sync.Mutex
	lastErr  error
}

// New returns a Sync writing to store.
func New(store registry.Store, opts ...Option) (*Sync, error) {
	s := &Sync{store: store, topic: kafka.DefaultModelsTopic, logger: slog.Default()}
	for _, o := range opts {
		o(s)
	}
	switch {
	case store == nil:
		return nil, errors.New("kafkafeed: nil store")
	case s.topic == "":
		return nil, errors.New("kafkafeed: Topic(\"\")")
	case s.logger == nil:
		return nil, errors.New("kafkafeed: Logger(nil)")
	}
	if slices.ContainsFunc(s.observers, func(fn func(kafka.FeedEvent)) bool { return fn == nil }) {
		return nil, errors.New("kafkafeed: Observer(nil)")
	}
	return s, nil
}

// FeedOptions reads the stored offsets and returns the feed options
// described in the package documentation. Pass them to
// kafka.NewModelFeed, after any options of your own; do not also pass
// WithVerifier or Observer, which they set.
func (s *Sync) FeedOptions(ctx context.Context) ([]kafka.FeedOption, error) {
	offs, err := s.store.Offsets(ctx, s.topic)
	if err != nil {
		return nil, fmt.Errorf("kafkafeed: offsets of %q: %w", s.topic, err)
	}
	return []kafka.FeedOption{
		kafka.Topic(s.topic),
		kafka.StartOffsets(offs),
		kafka.WithVerifier(s.Admit),
		kafka.Observer(s.Observe),
	}, nil
}

// Admit runs the check, then stores d. It has the shape of the feed's
// verifier hook: an error rejects the model, which then neither is
// stored nor replaces the live one.
func (s *Sync) Admit(ctx context.Context, d serving.Descriptor) error {
	if s.check != nil {
		if err := s.check(ctx, d); err != nil {
			return err
		}
	}
	if _, err := s.store.Put(ctx, d); err != nil {
		// A version conflict means the topic holds two different models
		// under one version: refuse the second, keep the first.
		s.fail(err)
		return fmt.Errorf("kafkafeed: store %s: %w", d.Ref(), err)
	}
	s.stored.Add(1)
	return nil
}

// Observe records the offset after e as the partition's resume point,
// then calls the Observer functions. It has the shape of the feed's
// observer hook.
func (s *Sync) Observe(e kafka.FeedEvent) {
	if e.Topic == s.topic {
		if err := s.store.SetOffsets(context.Background(), s.topic, map[int32]int64{e.Partition: e.Offset + 1}); err != nil {
			s.fail(err)
			s.logger.Error("kafkafeed: recording offset failed; a restart re-reads from the previous one",
				"topic", e.Topic, "partition", e.Partition, "offset", e.Offset, "err", err)
		}
	}
	for _, fn := range s.observers {
		fn(e)
	}
}

func (s *Sync) fail(err error) {
	s.failures.Add(1)
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
}

// Stored returns how many models Admit stored (idempotent re-puts
// included).
func (s *Sync) Stored() uint64 { return s.stored.Load() }

// Failures returns how many store writes failed, and the last error.
func (s *Sync) Failures() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failures.Load(), s.lastErr
}
