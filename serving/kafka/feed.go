package kafka

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/internal/kafkalog"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/wire"
)

type feedOptions struct {
	topic  string
	topics []string // every distinct topic given with Topic, to refuse two
	start  map[int32]int64
	// startGiven says StartOffsets was given; startClash describes the
	// first partition where a later StartOffsets disagreed with it.
	startGiven bool
	startClash string
	known      map[string]uint64
	observers  []func(FeedEvent) // every Observer, in the order given
	maxBytes   int
}

// Outcome says what a ModelFeed did with one message.
type Outcome uint8

// The outcomes.
const (
	// Activated: the model became live.
	Activated Outcome = iota + 1
	// Stale: the version was not newer than the live one and was skipped,
	// as happens for every old message when the topic is replayed.
	Stale
	// Rejected: the message decoded, but the model failed to resolve,
	// be admitted, load or warm up. The live model keeps serving.
	Rejected
	// Malformed: the message is not a valid model message.
	Malformed
)

var outcomeNames = [...]string{"", "activated", "stale", "rejected", "malformed"}

// String returns the outcome's name, such as "activated".
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) && o > 0 {
		return outcomeNames[o]
	}
	return "unknown"
}

// FeedEvent reports what a ModelFeed did with one message.
type FeedEvent struct {
	// Topic, Partition and Offset locate the message.
	Topic     string
	Partition int32
	Offset    int64
	// Outcome says what happened.
	Outcome Outcome
	// Model is the model the message described, as far as it decoded.
	Model serving.ModelRef
	// Err is the reason for Stale, Rejected and Malformed.
	Err error
}

// FeedStats counts the messages a ModelFeed has handled, by outcome.
type FeedStats struct {
	// Read counts the messages read; the others count them by Outcome.
	Read      uint64 `json:"read"`
	Activated uint64 `json:"activated"`
	Stale     uint64 `json:"stale"`
	Rejected  uint64 `json:"rejected"`
	Malformed uint64 `json:"malformed"`
}

// ModelFeed reads every partition of the models topic, outside any
// consumer group, and activates each model it finds in a serving.Server.
// Every scoring instance runs its own ModelFeed, so every instance sees
// every model update.
//
// A message that fails to decode, to be admitted by the Server, or to
// load is logged with its reason, counted and skipped; the live model
// keeps serving. An old version met while replaying the topic is skipped
// quietly (Stale).
//
// A message whose handling takes long, such as one whose Location does
// not answer (see serving.LoadOptions.FetchTimeout), holds back only the
// later messages of the same model name, whichever their partition: the
// versions of a name are handled one at a time, in the order read, and
// different names are independent. A message without a version is the
// exception: the feed numbers it, so it waits for every earlier message
// of its partition to be handled, and the partition's reading with it.
// Had it gone live ahead of them, a restart that interrupted one of
// them would read it again and number it anew. The feed handles at most
// 8 names at once, and holds at most 1,024 messages read but not yet reported and
// about 1 MiB of model bytes waiting (one message of any size is always
// let in): past these bounds its partitions wait before reading on, so
// a flood of messages whose Locations hang, each under a name of its
// own, still delays the others, by up to the fetch timeout for each
// round of 8, but cannot grow the feed's memory or goroutines.
//
// The feed reads committed records only: a model written in a Kafka
// transaction goes live once the transaction commits, and never if it
// aborts. A transaction left open holds the feed at its first record
// until it ends or the broker times it out, but not CaughtUp: as for any
// read-committed consumer, the end of the topic is then the start of
// that transaction (its last stable offset).
//
// A ModelFeed is safe for concurrent use; Run may be called once.
type ModelFeed struct {
	o       feedOptions
	log     *slog.Logger
	srv     *serving.Server
	brokers []string
	client  sarama.Client   // opened by Run
	cons    sarama.Consumer // opened by Run

	cfg      *sarama.Config
	ran      atomic.Bool
	caughtUp chan struct{}

	read, activated, stale, rejected, malformed atomic.Uint64

	mu      sync.Mutex
	highest map[uint64]uint64 // per name's hash (seed), the highest version met on the topic
	seed    maphash.Seed
	full    bool // highest reached maxNumberedNames (logged once)

	// The messages read and not yet reported, and the names being
	// handled: see dispatch.
	jobs  sync.Mutex
	names map[string]*nameQueue // the names with a message queued or being handled
	ready []*nameQueue          // names with messages queued, waiting for a worker
	wake  *sync.Cond            // on jobs: a name is ready, or Run's context is done
	held  int                   // messages read and not yet reported
	bytes int                   // bytes of the messages read and not yet handled
	freed chan struct{}         // closed, and replaced, whenever held or bytes drops
	work  sync.WaitGroup        // the workers
}

// The bounds on the work a ModelFeed holds, so that a flood of messages
// whose Locations hang, or of large models, cannot grow its memory or
// its goroutines without bound. When one is reached, the partitions wait
// before reading on.
const (
	// maxFeedFetches bounds how many model names the feed handles at
	// once (admission, fetch, load, warm-up): Run starts that many
	// worker goroutines, which live as long as it does (a goroutine per
	// message cost about 7 µs of CPU per message in stack growth).
	maxFeedFetches = 8
	// maxFeedHeld bounds the messages read and not yet reported, queued
	// behind their name, waiting for a worker, being handled, or handled
	// and waiting for an earlier offset of their partition to be
	// reported. Past their handling they keep only their FeedEvent.
	maxFeedHeld = 1024
	// maxFeedBytes bounds the bytes of the messages read and not yet
	// handled, though one message of any size is always let in when no
	// other holds bytes. With sarama's buffer of one message per
	// partition, memory stays near what one partition loop handling one
	// message at a time held.
	maxFeedBytes = 1 << 20
)

// nameQueue holds the messages of one model name that wait their turn:
// a name's messages are handled one at a time, in the order the feed
// read them, by one worker.
type nameQueue struct {
	name    string
	jobs    []*feedJob
	active  bool // a worker is handling this name's messages
	waiting bool // in ModelFeed.ready
}

// feedJob is one message, from its reading until its report.
type feedJob struct {
	part *feedPartition
	d    serving.Descriptor // decoded; zeroed once handled
	size int                // bytes held until handled
	ev   FeedEvent
	log  *slog.Logger
	done bool // handled
	// quiet says that the message is left unreported, to be read again
	// by the next run: its handling was interrupted by the shutdown.
	quiet bool
}

// feedPartition reports the messages of one partition in offset order,
// and says when the partition has caught up.
type feedPartition struct {
	f       *ModelFeed
	id      int32
	mu      sync.Mutex
	jobs    []*feedJob // read and not yet reported, in offset order
	allRead bool       // every message before the catch-up offset was read
	stopped bool       // a message was left unreported: report no later one
	reached sync.Once
	caught  func() // called once the partition has caught up
}

// maxNumberedNames bounds how many model names a ModelFeed remembers the
// highest version of, so that a flood of messages with ever new names
// cannot grow its memory. Beyond it, a version-less message of a name
// not remembered is numbered from the Server's next version alone. A
// name is remembered by a 64-bit hash under a seed of the feed's own,
// so the map holds at most 2^16 pairs of words (about 2 MiB) whatever
// the names' length; two names whose hashes collide, which a writer
// cannot aim for without the seed, would only share the numbering of
// their version-less messages.
const maxNumberedNames = 1 << 16

// number returns the version of a well-formed model message of name that
// offered version (0: none), and remembers it: 1 + the highest version of
// any earlier message for name on the topic, and at least next, the
// Server's next version (see package wire, Versions).
func (f *ModelFeed) number(name string, offered, next uint64) uint64 {
	key := maphash.String(f.seed, name)
	f.mu.Lock()
	defer f.mu.Unlock()
	h, known := f.highest[key]
	v := offered
	if v == 0 {
		v = max(h+1, next)
	}
	switch {
	case known:
		f.highest[key] = max(h, v)
	case len(f.highest) < maxNumberedNames:
		f.highest[key] = v
	case !f.full:
		f.full = true
		f.log.Warn("model feed: too many model names to number version-less messages by the topic; numbering new names from the Server's next version", "model", name, "limit", maxNumberedNames)
	}
	return v
}

// reserve makes the feed remember name's highest version, if it has room
// for one more name. The partition loops call it in the order they read
// the messages, so that which names are remembered, when too many are
// met, does not depend on which name's handling ends first.
func (f *ModelFeed) reserve(name string) {
	key := maphash.String(f.seed, name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.highest[key]; !ok && len(f.highest) < maxNumberedNames {
		f.highest[key] = 0
	}
}

// NewModelFeed returns a feed that activates models in srv. It dials
// nothing: Run connects to the cluster, and closes its connections when it
// returns, so a feed that is never run holds nothing and needs no closing.
// A bad setting is an error wrapping serving.ErrConfig; an unreachable
// cluster is Run's error.
func NewModelFeed(cfg *Config, srv *serving.Server, opts ...FeedOption) (*ModelFeed, error) {
	o := feedOptions{topic: DefaultModelsTopic, maxBytes: wire.DefaultMaxModelBytes}
	for _, opt := range opts {
		opt.applyFeed(&o)
	}
	switch {
	case cfg == nil:
		return nil, configErr("NewModelFeed: nil Config")
	case srv == nil:
		return nil, configErr("NewModelFeed: nil Server")
	case o.topic == "":
		return nil, configErr("Topic: empty topic")
	case len(o.topics) > 1:
		// Two options, such as the program's own and those of a
		// registry/kafkafeed Sync's FeedOptions, that disagree: the one
		// given last would win in silence, and the other party would
		// read or record another topic.
		return nil, configErr("Topic given as %q and as %q: a ModelFeed reads one models topic (a registry/kafkafeed Sync passes its own, kafkafeed.Topic, in FeedOptions)", o.topics[0], o.topics[1])
	case o.maxBytes <= 0:
		return nil, configErr("MaxBytes(%d): must be positive", o.maxBytes)
	case slices.ContainsFunc(o.observers, func(fn func(FeedEvent)) bool { return fn == nil }):
		return nil, configErr("Observer(nil)")
	case o.startClash != "":
		// As with Topic: the map given last would win in silence, and a
		// registry/kafkafeed Sync would record offsets of a run that did
		// not start where its registry left off.
		return nil, configErr("StartOffsets given twice, disagreeing: %s", o.startClash)
	}
	for p, off := range o.start {
		if off < 0 {
			return nil, configErr("StartOffsets: partition %d: negative offset %d", p, off)
		}
	}
	sc, err := cfg.SaramaConfig(func(c *sarama.Config) {
		c.Consumer.Fetch.Max = int32(min(o.maxBytes+1<<20, 1<<30))
		// The feed bounds the model bytes it holds (maxFeedBytes), and a
		// message can be MaxBytes large: sarama's default buffer of 256
		// decoded messages per partition could hold 4 GiB of models
		// waiting their turn.
		c.ChannelBufferSize = 1
		// A model written in an aborted transaction must never go live.
		c.Consumer.IsolationLevel = sarama.ReadCommitted
	})
	if err != nil {
		return nil, err
	}
	f := &ModelFeed{o: o, log: cfg.logger, srv: srv, brokers: cfg.Brokers(), cfg: sc, caughtUp: make(chan struct{}), highest: map[uint64]uint64{}, seed: maphash.MakeSeed(),
		names: map[string]*nameQueue{}, freed: make(chan struct{})}
	f.wake = sync.NewCond(&f.jobs)
	for name, v := range o.known {
		if len(f.highest) == maxNumberedNames {
			break
		}
		if v > 0 {
			key := maphash.String(f.seed, name)
			f.highest[key] = max(f.highest[key], v)
		}
	}
	return f, nil
}

// startClash describes the first partition, in order, that a and b
// start at different offsets, a partition left out counting as offset 0
// (the oldest, which is where the feed starts it), or returns "".
func startClash(a, b map[int32]int64) string {
	ps := append(slices.Collect(maps.Keys(a)), slices.Collect(maps.Keys(b))...)
	slices.Sort(ps)
	ps = slices.Compact(ps)
	for _, p := range ps {
		if a[p] != b[p] {
			return fmt.Sprintf("partition %d at %d and at %d", p, a[p], b[p])
		}
	}
	return ""
}

// CaughtUp returns a channel that is closed once Run has handled, and
// reported to the Observer, every message that was in the topic when
// Run started. A program can wait on
// it before taking traffic, so that it starts with the newest model. It
// is never closed if Run stops before catching up, so wait on Run's
// context or result as well.
func (f *ModelFeed) CaughtUp() <-chan struct{} { return f.caughtUp }

// Stats returns the feed's counters.
func (f *ModelFeed) Stats() FeedStats {
	return FeedStats{Read: f.read.Load(), Activated: f.activated.Load(), Stale: f.stale.Load(), Rejected: f.rejected.Load(), Malformed: f.malformed.Load()}
}

// Run connects to the cluster and reads the models topic until ctx is
// done, then closes the feed's connections and returns nil, once every
// activation it started has ended: cancelling ctx interrupts a fetch or
// a load in flight, so Run returns promptly, and no model goes live and
// no event is reported after it returned. It returns an
// error early only if the cluster cannot be reached or the topic cannot
// be read at all. The partitions are listed once, when Run starts.
func (f *ModelFeed) Run(ctx context.Context) error {
	if f.ran.Swap(true) {
		return errors.New("kafka: ModelFeed.Run called twice")
	}
	client, err := sarama.NewClient(f.brokers, f.cfg)
	if err != nil {
		return fmt.Errorf("kafka: model feed: %w", err)
	}
	defer client.Close()
	cons, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return fmt.Errorf("kafka: model feed: %w", err)
	}
	defer cons.Close()
	f.client, f.cons = client, cons
	parts, err := f.client.Partitions(f.o.topic)
	if err != nil {
		return fmt.Errorf("kafka: model feed: partitions of %q: %w", f.o.topic, err)
	}
	var pending sync.WaitGroup
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	// Stop the partitions and the workers before returning, so that no
	// model goes live, nor any event is reported, after Run has returned.
	defer func() {
		cancel()
		f.work.Wait()
	}()
	// Wake the idle workers when ctx is done, so that they return. Not
	// unregistered: the deferred cancel above must still wake them.
	context.AfterFunc(ctx, func() {
		f.jobs.Lock()
		f.wake.Broadcast()
		f.jobs.Unlock()
	})
	for range maxFeedFetches {
		f.work.Add(1)
		go f.worker(ctx)
	}
	errc := make(chan error, len(parts))
	for _, p := range parts {
		want, ok := f.o.start[p]
		pc, start, hwm, err := f.open(p, want, ok)
		if err != nil {
			cancel()
			wg.Wait()
			return err
		}
		pending.Add(1)
		part := &feedPartition{f: f, id: p, caught: pending.Done}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.consume(ctx, part, pc, start, hwm); err != nil {
				errc <- err
				cancel()
			}
		}()
	}
	go func() {
		pending.Wait()
		select {
		case <-ctx.Done():
		default:
			close(f.caughtUp)
		}
	}()
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// open starts consuming partition p at offset want, if given, or else at
// the oldest offset, and returns the partition consumer, the offset it
// starts at and the high-water mark. An offset the partition does not hold, below its low-water mark
// (records deleted by retention) or above its high-water mark (the topic
// was recreated), is logged and replaced by the oldest offset, as Kafka's
// auto.offset.reset=earliest would.
func (f *ModelFeed) open(p int32, want int64, given bool) (sarama.PartitionConsumer, int64, int64, error) {
	oldest, err := f.client.GetOffset(f.o.topic, p, sarama.OffsetOldest)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("kafka: model feed: low water mark of %s/%d: %w", f.o.topic, p, err)
	}
	hwm, err := f.client.GetOffset(f.o.topic, p, sarama.OffsetNewest)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("kafka: model feed: high water mark of %s/%d: %w", f.o.topic, p, err)
	}
	start := oldest
	if off := want; given {
		if off < oldest || off > hwm {
			f.log.Warn("model feed: start offset out of range, starting at the oldest offset",
				"topic", f.o.topic, "partition", p, "start", off, "oldest", oldest, "high_water_mark", hwm)
		} else {
			start = off
		}
	}
	pc, err := f.cons.ConsumePartition(f.o.topic, p, start)
	if errors.Is(err, sarama.ErrOffsetOutOfRange) {
		// Retention moved the low-water mark since it was read.
		f.log.Warn("model feed: start offset out of range, starting at the oldest offset",
			"topic", f.o.topic, "partition", p, "start", start)
		start = oldest
		pc, err = f.cons.ConsumePartition(f.o.topic, p, sarama.OffsetOldest)
	}
	if err != nil {
		return nil, 0, 0, fmt.Errorf("kafka: model feed: consume %s/%d from %d: %w", f.o.topic, p, start, err)
	}
	return pc, start, hwm, nil
}

// consume reads one partition and hands its messages to dispatch. The
// partition has caught up once every message before hwm was read and
// reported; when consume returns, it counts as caught up, as nothing more
// will come (Run then closes CaughtUp only if its context is not done).
func (f *ModelFeed) consume(ctx context.Context, part *feedPartition, pc sarama.PartitionConsumer, start, hwm int64) error {
	p := part.id
	defer func() {
		if pc != nil { // nil once reopen gave up at the end of ctx
			pc.AsyncClose()
		}
	}()
	defer part.reached.Do(part.caught)
	if start >= hwm {
		part.readAll()
	}
	// The offsets before hwm may end in records the consumer never
	// delivers: transaction markers, and records of aborted transactions.
	// While the partition is behind and idle, probe whether any message
	// is left to come before hwm. A probe runs in a goroutine of its own,
	// since sarama's fetch takes no context: a leader that does not
	// answer must not hold up the partition, nor Run's return.
	next, idle := start, false
	probe := time.NewTicker(250 * time.Millisecond)
	defer probe.Stop()
	var probing chan probeResult // nil when no probe is running
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-probe.C:
			if part.isAllRead() {
				probe.Stop()
				continue
			}
			if idle && probing == nil {
				probing = make(chan probeResult, 1)
				go func(out chan<- probeResult, from int64) {
					left, err := f.messagesBefore(ctx, p, from, hwm)
					out <- probeResult{left, err}
				}(probing, next)
			}
			idle = true
		case r := <-probing:
			probing = nil
			if r.err != nil {
				f.log.Debug("model feed: catch-up probe", "partition", p, "err", r.err)
			} else if !r.left {
				// Nothing deliverable from the probe's offset to hwm, so
				// nothing was delivered meanwhile either.
				part.readAll()
			}
		case msg, ok := <-pc.Messages():
			if !ok {
				if pc = f.reopen(ctx, p, pc, next); pc == nil {
					return nil
				}
				continue
			}
			if ctx.Err() != nil || !f.dispatch(ctx, part, msg) {
				// The feed is stopping: this message and those after
				// it are read again by the next run.
				return nil
			}
			next, idle = msg.Offset+1, false
			if msg.Offset+1 >= hwm {
				part.readAll()
			}
		case err, ok := <-pc.Errors():
			if !ok {
				if pc = f.reopen(ctx, p, pc, next); pc == nil {
					return nil
				}
				continue
			}
			f.log.Warn("model feed: consumer error", "topic", err.Topic, "partition", err.Partition, "err", err.Err)
		}
	}
}

// probeResult is the answer of messagesBefore.
type probeResult struct {
	left bool
	err  error
}

// reopen replaces the consumer of partition p, which sarama shut down
// (it does so on OFFSET_OUT_OF_RANGE, when retention deleted records
// ahead of the feed), by one starting at offset next, or at the oldest
// offset if next is gone. It retries until ctx is done, and then returns
// nil.
func (f *ModelFeed) reopen(ctx context.Context, p int32, old sarama.PartitionConsumer, next int64) sarama.PartitionConsumer {
	old.AsyncClose()
	go func() {
		for range old.Errors() {
		}
	}()
	for range old.Messages() {
		// Drain to let sarama release the partition; these records are
		// read again from next.
	}
	for ctx.Err() == nil {
		f.log.Warn("model feed: partition consumer stopped, reopening", "topic", f.o.topic, "partition", p, "offset", next)
		pc, _, _, err := f.open(p, next, true)
		if err == nil {
			return pc
		}
		f.log.Warn("model feed: reopen", "topic", f.o.topic, "partition", p, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

// messagesBefore reports whether partition p holds, from offset from and
// before hwm, a message the feed's consumer would deliver: a record that
// is neither a transaction marker nor, when reading committed records
// only, part of an aborted transaction. It reads the offsets with plain
// fetch requests to the partition's leader (see internal/kafkalog), and
// stops at the first such record.
func (f *ModelFeed) messagesBefore(ctx context.Context, p int32, from, hwm int64) (bool, error) {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	found := false
	err := kafkalog.Read(ctx, f.client, f.cfg, f.o.topic, p, from, hwm, func(*sarama.ConsumerMessage) {
		found = true
		stop()
	})
	if found {
		return true, nil
	}
	return false, err
}

// observe calls every Observer with ev, in the order given.
func (f *ModelFeed) observe(log *slog.Logger, ev FeedEvent) {
	for i, fn := range f.o.observers {
		observeOne(log, i, fn, ev)
	}
}

// observeOne calls fn, the i-th Observer, with ev. An Observer is the
// user's code, run on one of the feed's goroutines, where a panic would
// end the process: it is recovered and logged with its stack, as the
// Source does a Codec's, and the Observers after it still hear of ev.
func observeOne(log *slog.Logger, i int, fn func(FeedEvent), ev FeedEvent) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("model feed: recovered a panic in an Observer", "observer", i, "model", ev.Model, "outcome", ev.Outcome, "panic", p, "stack", string(debug.Stack()))
		}
	}()
	fn(ev)
}

// dispatch decodes a message msg of partition part, and hands it to the
// worker of its model name, so that a message whose handling takes long
// (a Location that hangs, a slow admission, a large model) holds back
// only the later messages of its own name: the versions of one name go
// live in the order they were read, and different names are
// independent. A malformed message is reported at once, in its turn.
//
// A version-less message is the exception: dispatch takes it only once
// every earlier message of its partition was reported. The feed numbers
// it as it activates it, and a message that went live while an earlier
// one was in flight is not reported if the shutdown interrupts that
// one: a restart reads it again, and would number it anew and make it
// live again, an older model of its name going back live before the
// newer ones after it. A message that carries its version is merely
// stale when read again.
//
// dispatch waits while the feed holds too much (see maxFeedHeld and
// maxFeedBytes); it returns false if ctx ends meanwhile, and the message
// is then not taken.
func (f *ModelFeed) dispatch(ctx context.Context, part *feedPartition, msg *sarama.ConsumerMessage) bool {
	d, err := wire.DecodeModel(modelMessage(msg), f.o.maxBytes)
	size := 0
	if err == nil {
		size = len(msg.Value)
		if d.Version == 0 && !f.settled(ctx, part) {
			return false
		}
	}
	if !f.hold(ctx, size) {
		return false
	}
	f.read.Add(1)
	j := &feedJob{part: part, ev: FeedEvent{Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset, Model: d.Ref()},
		log: f.log.With("topic", msg.Topic, "partition", msg.Partition, "offset", msg.Offset)}
	part.add(j)
	if err != nil {
		f.malformed.Add(1)
		j.ev.Outcome, j.ev.Err = Malformed, err
		j.log.Warn("model feed: malformed model message skipped", "model", d.Name, "err", err)
		part.finish(j)
		return true
	}
	f.reserve(d.Name)
	j.d, j.size = d, size
	f.enqueue(j)
	return true
}

// settled waits until every message of part read so far was reported
// (or, after one the shutdown interrupted, dropped); it returns false if
// ctx ends first.
func (f *ModelFeed) settled(ctx context.Context, part *feedPartition) bool {
	for {
		// Taken before looking, so that a report made after the look
		// closes it: finish releases the messages it reports.
		f.jobs.Lock()
		freed := f.freed
		f.jobs.Unlock()
		part.mu.Lock()
		empty := len(part.jobs) == 0
		part.mu.Unlock()
		if empty {
			return true
		}
		select {
		case <-freed:
		case <-ctx.Done():
			return false
		}
	}
}

// hold waits until the feed may hold one more message of size bytes, and
// counts it; it returns false if ctx ends first.
func (f *ModelFeed) hold(ctx context.Context, size int) bool {
	for {
		f.jobs.Lock()
		if f.held < maxFeedHeld && (f.bytes == 0 || f.bytes+size <= maxFeedBytes) {
			f.held++
			f.bytes += size
			f.jobs.Unlock()
			return true
		}
		freed := f.freed
		f.jobs.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return false
		}
	}
}

// release forgets held messages and bytes, and wakes the partitions
// waiting in hold.
func (f *ModelFeed) release(msgs, bytes int) {
	f.jobs.Lock()
	f.held -= msgs
	f.bytes -= bytes
	close(f.freed)
	f.freed = make(chan struct{})
	f.jobs.Unlock()
}

// enqueue queues j behind the messages of its name, and, unless a
// worker is handling the name or the name waits for one already, puts
// the name in line for the first worker free.
func (f *ModelFeed) enqueue(j *feedJob) {
	f.jobs.Lock()
	defer f.jobs.Unlock()
	q := f.names[j.d.Name]
	if q == nil {
		q = &nameQueue{name: j.d.Name}
		f.names[q.name] = q
	}
	q.jobs = append(q.jobs, j)
	if !q.active && !q.waiting {
		q.waiting = true
		f.ready = append(f.ready, q)
		f.wake.Signal()
	}
}

// worker takes the names in line, one at a time, and handles each
// one's messages in order until none is left. It returns once ctx is
// done and no name is in line: the messages queued by then are left
// unreported (see handle), so that the next run reads them again.
func (f *ModelFeed) worker(ctx context.Context) {
	defer f.work.Done()
	f.jobs.Lock()
	defer f.jobs.Unlock()
	for {
		for len(f.ready) == 0 {
			if ctx.Err() != nil {
				return
			}
			f.wake.Wait()
		}
		q := f.ready[0]
		f.ready[0] = nil
		f.ready = f.ready[1:]
		q.waiting, q.active = false, true
		for len(q.jobs) > 0 {
			j := q.jobs[0]
			q.jobs[0] = nil
			q.jobs = q.jobs[1:]
			f.jobs.Unlock()
			f.handle(ctx, j)
			j.d = serving.Descriptor{}
			f.release(0, j.size)
			j.part.finish(j)
			f.jobs.Lock()
		}
		q.active = false
		delete(f.names, q.name)
	}
}

// add appends j, just read, to the messages of p waiting to be reported.
func (p *feedPartition) add(j *feedJob) {
	p.mu.Lock()
	p.jobs = append(p.jobs, j)
	p.mu.Unlock()
}

// finish marks j handled, and reports the handled messages at the head of
// p's, in offset order; none after one left unreported (see feedJob.quiet).
// The Observer runs under p's lock, so that its calls for one partition
// never overlap and come in offset order.
func (p *feedPartition) finish(j *feedJob) {
	p.mu.Lock()
	defer p.mu.Unlock()
	j.done = true
	n := 0
	for ; n < len(p.jobs) && p.jobs[n].done; n++ {
		h := p.jobs[n]
		p.jobs[n] = nil
		if h.quiet {
			p.stopped = true
		}
		if !p.stopped {
			p.f.observe(h.log, h.ev)
		}
	}
	if n > 0 {
		p.jobs = p.jobs[n:]
		p.f.release(n, 0)
	}
	p.check()
}

// readAll records that every message of p before the catch-up offset was
// read.
func (p *feedPartition) readAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.allRead = true
	p.check()
}

func (p *feedPartition) isAllRead() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.allRead
}

// check calls p.caught once every message before the catch-up offset was
// read and reported. p.mu is held.
func (p *feedPartition) check() {
	if p.allRead && len(p.jobs) == 0 {
		p.reached.Do(p.caught)
	}
}

// handle numbers and activates the decoded message of j, and sets its
// event.
func (f *ModelFeed) handle(ctx context.Context, j *feedJob) {
	ev, log, d := &j.ev, j.log, j.d
	if ctx.Err() != nil {
		// The feed is stopping: leave the message for the next run.
		j.quiet = true
		return
	}
	defer func() {
		if ev.Outcome == Rejected {
			if ctx.Err() != nil {
				// The feed is stopping: whatever failed was most likely
				// interrupted, not refused. Reported, the offset would be
				// recorded as applied by a registry, and the model
				// skipped after a restart; unreported, it is read again.
				log.Info("model feed: model left for the next run, interrupted by the shutdown", "model", ev.Model, "err", ev.Err)
				j.quiet = true
				return
			}
			f.rejected.Add(1)
		}
	}()
	cur, live := f.srv.Current(d.Name)
	offered := d.Version
	// The Server's next version, not its live one: after a rollback it
	// restored, the versions above the live one already name models.
	d.Version = f.number(d.Name, offered, f.srv.NextVersion(d.Name))
	ev.Model.Version = d.Version
	if offered != 0 && live && d.Version <= cur.Version {
		f.stale.Add(1)
		ev.Outcome, ev.Err = Stale, &serving.VersionError{Name: d.Name, Live: cur.Version, Offered: d.Version}
		log.Debug("model feed: stale version skipped", "model", d.Name, "version", d.Version, "live_version", cur.Version)
		return
	}
	ref, err := f.srv.Activate(ctx, d)
	ev.Model = ref
	switch {
	case err == nil:
		f.activated.Add(1)
		ev.Outcome = Activated
	case errors.Is(err, serving.ErrStaleVersion):
		// A concurrent activation, not by this feed, won the race.
		f.stale.Add(1)
		ev.Outcome, ev.Err = Stale, err
	default:
		// The Server has logged the reason already.
		ev.Outcome, ev.Err = Rejected, err
	}
}
