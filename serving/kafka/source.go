package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/wire"
)

type sourceOptions struct {
	topics   []string
	codec    Codec
	window   int
	workers  int
	interval time.Duration
	drain    time.Duration
	hooks    hooks
	maxBatch int
	batchWin time.Duration // see BatchWindow
	tracer   *tracer       // nil: tracing off

	exactlyOnce bool
}

// SourceStats counts what a Source has done.
type SourceStats struct {
	// Consumed counts records read from Kafka.
	Consumed uint64 `json:"consumed"`
	// Scored counts records whose score Kafka acknowledged.
	Scored uint64 `json:"scored"`
	// DeadLettered counts records whose dead letter Kafka acknowledged.
	DeadLettered uint64 `json:"dead_lettered"`
	// Commits counts the offset commits the Source sent that carried an
	// offset beyond those it had sent before: a commit the broker
	// refused, sent again with no new record, is counted once, when
	// first sent, with or without commit hooks. It does not say the
	// broker stored the offsets (see [HookCommit]). With [ExactlyOnce],
	// it counts the transactions committed.
	Commits uint64 `json:"commits"`
	// Aborts counts transactions aborted, with [ExactlyOnce].
	Aborts uint64 `json:"aborts"`
	// Claims is the number of partitions the Source holds now.
	Claims int `json:"claims"`
}

// Source reads the data topics in a consumer group, decodes each record
// with a Codec, scores it with a serving.Scorer and writes the result
// through a Sink. Scaling out is adding instances to the group; failover
// is Kafka moving a dead instance's partitions to the survivors.
//
// # Delivery
//
// Delivery is at-least-once unless [ExactlyOnce] is given (see the
// package documentation, "Exactly once"). The offset after a record is marked, and
// later committed, only once Kafka has acknowledged the record's score or
// dead letter, and only when every earlier record of the partition is
// acknowledged too. A crash therefore replays, at most, the records in
// flight and those acknowledged since the last commit.
//
// # Concurrency and order
//
// Each claimed partition runs a pipeline: a reader hands records in
// offset order to a shared pool of scoring workers and to an ordered
// queue; a writer takes scores from the queue in offset order, waiting
// for each one's scoring to finish, and writes them to the Sink; a marker
// waits for acknowledgements in the same order. So records of one
// partition are scored concurrently, but written in input order, and the
// Sink's idempotent producer keeps that order within each output
// partition. At most Window records per partition are in flight; the
// reader stops reading when the window is full. sarama's consumer reads
// ahead of the window, up to its ChannelBufferSize records (256 by
// default) and a fetch response per partition: [Window] gives the bound.
//
// # Failure
//
// A record that fails to decode or score goes to the dead-letter topic
// and the pipeline moves on; so does one on which the Codec or the Scorer
// panics (see [ErrPanic]). A dead letter is logged at Warn, at most one
// a second: each line says how many were not logged since the previous
// one, and Run logs the rest when it returns ([Source.Stats] and
// [HookDeadLetter] see every one). If Kafka refuses a write, or is still
// unavailable after [RetryTimeout], the partition stops marking offsets
// at that record and Run stops with the error (wrapping [ErrUnavailable]
// in the second case): the record will be read again by whoever owns the
// partition next. A Source that lost its consumer group session joins
// again, without a limit: it holds no write then.
//
// A Source is safe for concurrent use; Run may be called once.
type Source struct {
	o       sourceOptions
	log     *slog.Logger
	brokers []string
	group   string
	scorer  serving.Scorer
	sink    *Sink
	cfg     *sarama.Config
	conf    *Config // for the start-up check of the topics read (CheckTopics: creates none)

	ran     atomic.Bool
	crashed chan struct{} // closed by crash, for tests of abrupt stops
	// beforeCommit, when set (by tests, before Run), is called between
	// taking the marked offsets for a commit and sending it.
	beforeCommit func()
	crashOn      sync.Once

	errOnce  sync.Once
	err      error
	halted   atomic.Bool // set by fail: write nothing more
	cancelMu sync.Mutex
	cancel   context.CancelFunc

	poison  poison   // with ExactlyOnce, outputs that failed to be written
	deadLog logLimit // one dead-letter line per deadLogEvery

	consumed, scored, dead, commits, aborts atomic.Uint64
	check                                   commitCheck // for HookCommit
	claims                                  atomic.Int64
	joined, stopped                         atomic.Bool
}

// ErrNotReady is returned by [Source.Ready] before the Source has joined
// its consumer group, and after Run has returned.
var ErrNotReady = errors.New("kafka: source not ready")

// Ready returns nil once the Source has joined its consumer group for the
// first time and until Run returns, and an error wrapping ErrNotReady
// otherwise. It stays nil through later rebalances, when the group
// briefly holds no session, so that readiness does not flap. It is meant
// for readiness probes, such as admin.Ready("kafka", src.Ready).
func (s *Source) Ready() error {
	switch {
	case s.stopped.Load():
		return fmt.Errorf("%w: stopped", ErrNotReady)
	case !s.joined.Load():
		return fmt.Errorf("%w: consumer group %q not joined yet", ErrNotReady, s.group)
	}
	return nil
}

// NewSource returns a Source that reads as member of the consumer group
// group, reads the topics named with [Topics] (there is no default: a
// Source without them is refused), scores with scorer, and writes
// through sink. The Source does not
// close the sink: one Sink may serve several Sources, and its owner
// closes it after the Sources' Run calls return. A bad setting is an
// error wrapping serving.ErrConfig; so is a sarama configuration, from
// [Sarama], that turns automatic commits back on, since they would
// commit records not yet written.
//
// Start the Source once a model is live (see ModelFeed.CaughtUp): records
// scored with no model live fail with serving.ErrNoModel and go to the
// dead-letter topic.
func NewSource(cfg *Config, group string, scorer serving.Scorer, sink *Sink, opts ...SourceOption) (*Source, error) {
	o := sourceOptions{codec: JSON{}, window: 512, workers: runtime.GOMAXPROCS(0), interval: time.Second, drain: 30 * time.Second, maxBatch: defaultMaxBatch, batchWin: defaultBatchWindow}
	for _, opt := range opts {
		opt.applySource(&o)
	}
	switch {
	case cfg == nil:
		return nil, configErr("NewSource: nil Config")
	case group == "":
		return nil, configErr("NewSource: empty group")
	case scorer == nil:
		return nil, configErr("NewSource: nil Scorer")
	case sink == nil:
		return nil, configErr("NewSource: nil Sink")
	case len(o.topics) == 0:
		return nil, configErr("NewSource: no Topics: name the topics the Source reads")
	case slices.Contains(o.topics, ""):
		return nil, configErr("Topics: %q", o.topics)
	case o.codec == nil:
		return nil, configErr("RecordCodec(nil)")
	case o.window < 1:
		return nil, configErr("Window(%d): must be at least 1", o.window)
	case o.workers < 1:
		return nil, configErr("Workers(%d): must be at least 1", o.workers)
	case o.interval <= 0:
		return nil, configErr("CommitInterval(%v): must be positive", o.interval)
	case o.drain < 0:
		return nil, configErr("DrainTimeout(%v): must not be negative", o.drain)
	case o.maxBatch < 1:
		return nil, configErr("MaxBatch(%d): must be at least 1", o.maxBatch)
	case o.batchWin < 0:
		return nil, configErr("BatchWindow(%v): must not be negative", o.batchWin)
	}
	var client func(*sarama.Config)
	if o.exactlyOnce {
		client = func(c *sarama.Config) { c.Consumer.IsolationLevel = sarama.ReadCommitted }
	}
	sc, err := cfg.SaramaConfig(client)
	if err != nil {
		return nil, err
	}
	if sc.Consumer.Offsets.AutoCommit.Enable {
		return nil, configErr("Sarama: a Source needs Consumer.Offsets.AutoCommit.Enable = false: auto-commit would commit records not yet written")
	}
	if o.exactlyOnce {
		if err := checkExactlyOnce(sc, sink, o.interval); err != nil {
			return nil, err
		}
	}
	return &Source{o: o, log: cfg.logger, brokers: cfg.Brokers(), group: group, scorer: scorer, sink: sink, cfg: sc, conf: cfg, crashed: make(chan struct{}), deadLog: logLimit{every: deadLogEvery}}, nil
}

// Stats returns the Source's counters.
func (s *Source) Stats() SourceStats {
	return SourceStats{Consumed: s.consumed.Load(), Scored: s.scored.Load(), DeadLettered: s.dead.Load(), Commits: s.commits.Load(), Aborts: s.aborts.Load(), Claims: int(s.claims.Load())}
}

// Run consumes until ctx is done or a write fails for good. It first
// checks that every topic it reads exists, creating none: a missing one
// (a misspelt name, say) is a *[TopicError] naming it, returned at once
// rather than waited for. On
// cancellation it stops reading, finishes scoring and writing the records
// in flight (scoring within [DrainTimeout]), waits for their
// acknowledgements, commits, and leaves the group. It returns nil after a
// cancellation, even when leaving the group fails (that is logged), and
// the write error otherwise.
func (s *Source) Run(ctx context.Context) error {
	if s.ran.Swap(true) {
		return errors.New("kafka: Source.Run called twice")
	}
	defer s.stopped.Store(true)
	defer s.check.close()
	parent := ctx
	if err := s.conf.CheckTopics(ctx, s.o.topics...); err != nil {
		if parent.Err() != nil {
			return nil
		}
		return err
	}
	group, err := sarama.NewConsumerGroup(s.brokers, s.group, s.cfg)
	if err != nil {
		return fmt.Errorf("kafka: source: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.cancelMu.Lock()
	s.cancel = cancel
	crashed := s.isCrashed()
	s.cancelMu.Unlock()
	if crashed {
		cancel()
	}
	go func() {
		for err := range group.Errors() {
			s.log.Warn("kafka source: consumer group error", "group", s.group, "err", err)
		}
	}()
	work := make(chan *batch, s.o.workers*4)
	var workers sync.WaitGroup
	// Scoring outlives cancellation by the drain timeout, so that records
	// in flight are drained rather than dead-lettered as "context
	// canceled"; then it is cancelled, so that a stuck Scorer that
	// respects its context cannot hold Run forever.
	scoreCtx, cancelScoring := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelScoring()
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-ctx.Done():
		case <-finished:
			return
		}
		t := time.NewTimer(s.o.drain)
		defer t.Stop()
		select {
		case <-t.C:
			cancelScoring()
		case <-finished:
		}
	}()
	for range s.o.workers {
		workers.Go(func() {
			// Each worker decodes the features of its batches over one
			// buffer (see process).
			var fs floatSlab
			for b := range work {
				s.process(scoreCtx, b, &fs)
			}
		})
	}
	h := &handler{s: s, work: work}
	for ctx.Err() == nil {
		if err := group.Consume(ctx, s.o.topics, h); err != nil {
			if errors.Is(err, sarama.ErrClosedConsumerGroup) {
				break
			}
			s.log.Warn("kafka source: consume", "group", s.group, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	cerr := group.Close()
	close(work)
	workers.Wait()
	if n := s.deadLog.flush(); n > 0 {
		s.log.Warn("kafka source: dead letters not logged", "not_logged", n)
	}
	if s.err != nil {
		return s.err
	}
	switch {
	case cerr == nil || s.isCrashed():
	case parent.Err() != nil:
		// Leaving the group is best effort once cancelled: the broker
		// expires the member after its session timeout anyway.
		s.log.Warn("kafka source: leaving the group after cancellation", "group", s.group, "err", cerr)
	default:
		return fmt.Errorf("kafka: source: close group: %w", cerr)
	}
	return nil
}

// fail records the first fatal error and stops Run.
func (s *Source) fail(err error) {
	s.errOnce.Do(func() {
		s.err = err
		s.halted.Store(true)
		s.log.Error("kafka source: stopping", "err", err)
		s.cancelMu.Lock()
		s.cancel()
		s.cancelMu.Unlock()
	})
}

// crash stops the Source abruptly, as a killed process would: records in
// flight are abandoned, no further offsets are marked and nothing is
// committed on the way out. It exists for tests (see export_test.go).
func (s *Source) crash() {
	s.crashOn.Do(func() { close(s.crashed) })
	s.cancelMu.Lock()
	defer s.cancelMu.Unlock()
	if s.cancel != nil {
		s.cancel()
	}
}

func (s *Source) isCrashed() bool {
	select {
	case <-s.crashed:
		return true
	default:
		return false
	}
}

// maxBatch bounds how many records that are already waiting in a
// partition's channel the reader takes at once.
const maxBatch = 256

// item is one record on its way through a partition pipeline.
type item struct {
	msg   *sarama.ConsumerMessage
	err   error // decode or score failure: the record is dead-lettered
	stage string
	out   *sarama.ProducerMessage // the score or dead letter to write
	tr    *recordTrace            // nil unless tracing (see trace.go)
	b     *batch                  // set by Sink.sendBatch, for acked
	at    int                     // the item's index in b.items
}

// acked acknowledges the write of the item's output to its batch. An
// item is its own acknowledgement (see Sink.sendBatch), so that writing
// a record allocates no closure.
func (it *item) acked(err error) { it.b.ack(it.at, err) }

// batch is a run of consecutive records of one partition. Records travel
// in batches so that the hand-offs between goroutines cost per batch, not
// per record; a batch holds only records that were already waiting, so
// batching adds no latency.
type batch struct {
	items   []item
	read    int64         // when the reader took it (Unix ns); set only when tracing
	scored  chan struct{} // closed by the worker
	cut     int           // items from cut on were abandoned at shutdown
	pending atomic.Int32  // writes not yet acknowledged
	acked   chan struct{} // closed when pending reaches zero
	mu      sync.Mutex
	werr    error      // first write error
	werrAt  int        // its index
	errs    []error    // every write error, by index, once there is one
	slab    *scoreSlab // the outputs' records, for Sink.recycle once acked
}

func (b *batch) ack(i int, err error) {
	if err != nil {
		b.mu.Lock()
		if b.werr == nil || i < b.werrAt {
			b.werr, b.werrAt = err, i
		}
		if b.errs == nil {
			b.errs = make([]error, len(b.items))
		}
		b.errs[i] = err
		b.mu.Unlock()
	}
	if b.pending.Add(-1) == 0 {
		close(b.acked)
	}
}

// process decodes, scores and encodes a batch. Once ctx, the scoring
// context, is cancelled at the end of the drain, it abandons the rest of
// the batch from the first record whose scoring failed.
//
// The features of the batch's records are decoded into fs, over those of
// the worker's previous batch: nothing reads them once they are scored,
// since a Scorer must not keep them (see serving.Record). Allocating and
// zeroing them anew for every batch cost about 40 ns a record, a third
// of decoding a JSON array of 8 numbers.
func (s *Source) process(ctx context.Context, b *batch, fs *floatSlab) {
	defer close(b.scored)
	s.o.tracer.begin(s, b)
	fs.reset(len(b.items))
	if bs, ok := s.scorer.(serving.BatchScorer); ok && len(b.items) > 1 && s.o.maxBatch > 1 {
		s.processBatch(ctx, b, bs, fs)
		return
	}
	b.cut = len(b.items)
	slab := s.sink.scoreSlab(len(b.items))
	b.slab = slab
	for i := range b.items {
		if ctx.Err() != nil {
			b.cut = i
			return
		}
		it := &b.items[i]
		r, err := s.decodeItem(it, fs)
		if err != nil {
			it.err, it.stage = err, wire.StageDecode
			it.out = s.sink.deadLetterMessage(it.msg, it.stage, it.err)
			continue
		}
		r.Key, r.Time = it.msg.Key, it.msg.Timestamp
		res, err := s.scoreItem(ctx, it, r)
		if err != nil && ctx.Err() != nil && !errors.Is(err, ErrPanic) {
			b.cut = i // not the record's fault: leave it to be read again
			return
		}
		if err != nil {
			it.err, it.stage = err, wire.StageScore
			it.out = s.sink.deadLetterMessage(it.msg, it.stage, it.err)
			continue
		}
		if it.out, err = s.sink.scoreMessageIn(slab, it.msg, &res); err != nil {
			it.err, it.stage = err, wire.StageScore
		}
	}
}

// ErrPanic is the dead-letter reason of a record on which the Codec, the
// Scorer or the Sink's ScoreEncoder panicked. The Source recovers the
// panic, logs it with its stack, and dead-letters the record, so that one
// bad record cannot crash every instance that reads it, one after
// another.
var ErrPanic = errors.New("kafka: panic")

func (s *Source) decode(v []byte) (r serving.Record, err error) {
	defer s.recoverPanic("codec", &err)
	return s.o.codec.Decode(v)
}

func (s *Source) score(ctx context.Context, r serving.Record) (res serving.Result, err error) {
	defer s.recoverPanic("scorer", &err)
	return s.scorer.Score(ctx, r)
}

// hook runs call, a call to one of the user's hooks, on one of the
// Source's goroutines, where a panic would end the process: it is
// recovered and logged with its stack, and the hooks after it are still
// called.
func (s *Source) hook(kind string, call func()) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("kafka source: recovered a panic in a hook", "hook", kind, "panic", p, "stack", string(debug.Stack()))
		}
	}()
	call()
}

func (s *Source) recoverPanic(who string, err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("%w in the %s: %v", ErrPanic, who, p)
		s.log.Error("kafka source: recovered a panic; the record goes to the dead-letter topic", "in", who, "panic", p, "stack", string(debug.Stack()))
	}
}

// handler is the sarama.ConsumerGroupHandler of a Source.
type handler struct {
	s    *Source
	work chan<- *batch

	mu     sync.Mutex
	marked map[topicPartition]int64 // next offset, marked since the last commit
	sent   map[topicPartition]int64 // highest next offset committed in this session
	// reported is the highest offset read back and reported to the
	// commit hooks in this session.
	reported map[topicPartition]int64
	lags     map[topicPartition]func() int64
	stop     chan struct{}
	ticker   sync.WaitGroup
}

// Setup starts the session's periodic commits.
func (h *handler) Setup(sess sarama.ConsumerGroupSession) error {
	h.s.joined.Store(true)
	h.marked = map[topicPartition]int64{}
	h.sent = map[topicPartition]int64{}
	h.reported = map[topicPartition]int64{}
	h.lags = map[topicPartition]func() int64{}
	h.stop = make(chan struct{})
	h.ticker.Go(func() {
		t := time.NewTicker(h.s.o.interval)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-h.s.crashed:
				return
			case <-t.C:
				h.commit(sess.Context(), sess)
				h.reportLag()
			}
		}
	})
	return nil
}

// Cleanup stops the periodic commits and commits what was marked, unless
// the Source crashed.
func (h *handler) Cleanup(sess sarama.ConsumerGroupSession) error {
	close(h.stop)
	h.ticker.Wait()
	if !h.s.isCrashed() {
		// The session has ended: only readBackTimeout bounds the wait
		// for the read-back of this last commit.
		h.commit(context.Background(), sess)
	}
	return nil
}

// commit commits the marked offsets and reports them to the hooks,
// waiting for their read-back (commitCheck) until ctx ends at most.
func (h *handler) commit(ctx context.Context, sess sarama.ConsumerGroupSession) {
	if h.s.o.exactlyOnce {
		return // offsets are committed in the transactions
	}
	h.mu.Lock()
	if len(h.marked) == 0 {
		h.mu.Unlock()
		// A commit the coordinator refused stays pending in sarama until
		// the next Commit: retry it now, not when the next record is
		// marked, which on a quiet topic may be never. Nothing is sent
		// when nothing is pending.
		sess.Commit()
		return
	}
	marked := h.marked
	h.marked = map[topicPartition]int64{}
	fresh := false // an offset not committed before, not one put back below
	for tp, off := range marked {
		if prev, ok := h.sent[tp]; !ok || off > prev {
			h.sent[tp], fresh = off, true
		}
	}
	h.mu.Unlock()
	if f := h.s.beforeCommit; f != nil {
		f()
	}
	sess.Commit()
	if fresh {
		h.s.commits.Add(1)
	}
	if len(h.s.o.hooks.commits) == 0 {
		return
	}
	// sarama's Commit sends the offsets marked when it is called, which
	// may be past those taken above: the marker goes on marking. The
	// hooks hear of the offset read back, so that they see what the
	// group holds, and of each offset once.
	stored := h.s.check.committed(ctx, h.s, marked)
	for tp, off := range marked {
		got := stored[tp]
		h.mu.Lock()
		if got < off { // not stored: tell the hooks after a later commit
			h.marked[tp] = max(h.marked[tp], off)
			h.mu.Unlock()
			continue
		}
		prev, ok := h.reported[tp]
		h.reported[tp] = max(prev, got)
		h.mu.Unlock()
		if ok && got <= prev {
			continue
		}
		for _, hk := range h.s.o.hooks.commits {
			h.s.hook("commit", func() { hk.OnCommit(tp.Topic, tp.Partition, got) })
		}
	}
}

func (h *handler) reportLag() {
	if len(h.s.o.hooks.lags) == 0 {
		return
	}
	h.mu.Lock()
	lags := make(map[topicPartition]int64, len(h.lags))
	for tp, f := range h.lags {
		lags[tp] = f()
	}
	h.mu.Unlock()
	for tp, l := range lags {
		for _, hk := range h.s.o.hooks.lags {
			h.s.hook("lag", func() { hk.OnLag(tp.Topic, tp.Partition, l) })
		}
	}
}

// pipe is what the goroutines of one claimed partition share.
type pipe struct {
	tp topicPartition
	// inflight counts records read and not yet released (through the
	// marker, or committed in a transaction); the reader waits on freed
	// when it reaches the window.
	inflight atomic.Int64
	freed    chan struct{}
	ordered  chan *batch // batches in offset order, from the reader
	next     atomic.Int64
	// halt, when closed, stops the reader early: a transaction was
	// aborted and the partition is to be read again from its commit.
	halt     chan struct{}
	haltOnce sync.Once
	// suspects are the offsets from suspect to suspectTo of records
	// whose outputs the broker refused in an aborted transaction (see
	// ErrWrite), if any. They are written in parts of doubling size
	// (see part): the reader cuts its batches at the parts' bounds, and
	// the transactional writer gives each part a transaction of its
	// own, so that n suspects none of which is refused again cost about
	// log2(n) transactions, and a refusal narrows the suspects to one
	// part.
	suspect, suspectTo int64
}

func (p *pipe) suspected(offset int64) bool { return p.suspect <= offset && offset <= p.suspectTo }

// part returns the last offset of the part of the suspects that holds
// offset, or -1 when offset is not a suspect. The parts are the first
// suspect alone, then the next two, the next four, and so on: the
// suspects start at the first write refused, and the broker refuses the
// batch of writes that holds a poison record whole, while the writes
// after it fail with the transaction, so the poison record is most
// often at or near the start. Halving would put it in the first half at
// each refusal, and cost an abort, and a rejoin of the group, per
// halving.
func (p *pipe) part(offset int64) int64 {
	if !p.suspected(offset) {
		return -1
	}
	lo, size := p.suspect, int64(1)
	for {
		hi := min(lo+size-1, p.suspectTo)
		if offset <= hi {
			return hi
		}
		lo, size = hi+1, 2*size
	}
}

func (p *pipe) release(n int) {
	p.inflight.Add(-int64(n))
	select {
	case p.freed <- struct{}{}:
	default:
	}
}

func (p *pipe) stop() { p.haltOnce.Do(func() { close(p.halt) }) }

// ConsumeClaim runs the pipeline of one partition; see Source.
func (h *handler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	s := h.s
	s.claims.Add(1)
	defer s.claims.Add(-1)
	p := &pipe{
		tp:      topicPartition{Topic: claim.Topic(), Partition: claim.Partition()},
		freed:   make(chan struct{}, 1),
		ordered: make(chan *batch, s.o.window),
		halt:    make(chan struct{}),
	}
	p.suspect, p.suspectTo = s.poison.suspects(p.tp)
	p.next.Store(claim.InitialOffset())
	h.mu.Lock()
	h.lags[p.tp] = func() int64 { return max(0, claim.HighWaterMarkOffset()-p.next.Load()) }
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.lags, p.tp)
		h.mu.Unlock()
	}()

	var wg sync.WaitGroup
	if s.o.exactlyOnce {
		wg.Go(func() { h.transact(sess, p) })
	} else {
		acking := make(chan *batch, s.o.window)
		wg.Go(func() { h.write(p, acking) })
		wg.Go(func() { h.mark(sess, p, acking) })
	}
	h.read(sess, claim, p)
	wg.Wait()
	return nil
}

// write writes results in offset order, up to the first record abandoned
// at shutdown, and hands each batch on to the marker.
func (h *handler) write(p *pipe, acking chan<- *batch) {
	s, tp := h.s, p.tp
	defer close(acking)
	abandoned := false
	for b := range p.ordered {
		select {
		case <-b.scored:
		case <-s.crashed:
			return
		}
		if s.isCrashed() {
			return
		}
		if abandoned || s.halted.Load() {
			// After a fatal error, nothing more is written: it would
			// only hold Run up, and be read again anyway.
			s.o.tracer.abandon(b.items)
			p.release(len(b.items))
			continue
		}
		if b.cut < len(b.items) {
			s.o.tracer.abandon(b.items[b.cut:])
			abandoned = true
			s.log.Info("kafka source: records abandoned at shutdown, to be read again", "topic", tp.Topic, "partition", tp.Partition, "from_offset", b.items[b.cut].msg.Offset)
		}
		if b.cut == 0 {
			p.release(len(b.items))
			continue
		}
		s.send(b)
		select {
		case acking <- b:
		case <-s.crashed:
			return
		}
	}
}

// send hands the outputs of b's records up to b.cut to the Sink, to be
// acknowledged to b.
func (s *Source) send(b *batch) {
	b.pending.Store(int32(b.cut))
	if s.o.tracer == nil {
		s.sink.sendBatch(b)
		return
	}
	for i := range b.items[:b.cut] {
		s.write(s.sink.send, &b.items[i], func(err error) { b.ack(i, err) })
	}
}

// mark marks offsets in order as their writes are acknowledged.
func (h *handler) mark(sess sarama.ConsumerGroupSession, p *pipe, acking <-chan *batch) {
	s, tp := h.s, p.tp
	failed := false
	for b := range acking {
		select {
		case <-b.acked:
		case <-s.crashed:
			return
		}
		// Every output is acknowledged: nothing reads them any more.
		s.sink.recycle(b.slab)
		b.slab = nil
		p.release(len(b.items))
		if failed || s.isCrashed() {
			continue
		}
		good := b.items[:b.cut]
		if b.cut < len(b.items) {
			failed = true // nothing after an abandoned record is marked
		}
		if b.werr != nil {
			failed = true
			good = b.items[:b.werrAt]
			s.fail(writeFailed(tp, b.items[b.werrAt].msg.Offset, b.werr))
		}
		if len(good) == 0 {
			continue
		}
		s.count(tp, good)
		next := good[len(good)-1].msg.Offset + 1
		sess.MarkOffset(tp.Topic, tp.Partition, next, "")
		h.mu.Lock()
		h.marked[tp] = next
		h.mu.Unlock()
	}
}

// count counts records whose outputs are acknowledged (or, in a
// transaction, committed) as scored or dead-lettered, and calls the
// dead-letter hooks.
func (s *Source) count(tp topicPartition, items []item) {
	scored := 0
	for i := range items {
		it := &items[i]
		if it.err == nil {
			scored++
			continue
		}
		s.dead.Add(1)
		if ok, dropped := s.deadLog.allow(time.Now()); ok {
			// Cut as the dead letter's reason header is: an error's text can be any size.
			s.log.Warn("kafka source: dead letter", "topic", tp.Topic, "partition", tp.Partition, "offset", it.msg.Offset, "stage", it.stage, "err", cutReason(it.err.Error(), maxReason), "not_logged", dropped)
		}
		for _, hk := range s.o.hooks.dead {
			s.hook("dead-letter", func() { hk.OnDeadLetter(tp.Topic, tp.Partition, it.msg.Offset, it.err) })
		}
	}
	s.scored.Add(uint64(scored))
}

// read hands records to the workers and to the ordered queue in batches
// of what is waiting, within the window, until the session or the claim
// ends, the Source crashes, or p.stop is called. It closes p.ordered.
func (h *handler) read(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim, p *pipe) {
	s := h.s
	defer close(p.ordered)
	done := sess.Context().Done()
	msgs := claim.Messages()
	window := int64(s.o.window)
	var held *sarama.ConsumerMessage // read, for the next batch
	for {
		for p.inflight.Load() >= window {
			select {
			case <-p.freed:
			case <-done:
				return
			case <-s.crashed:
				return
			case <-p.halt:
				return
			}
		}
		msg, ok := held, held != nil
		held = nil
		if !ok {
			select {
			case msg, ok = <-msgs:
			case <-done:
			case <-s.crashed:
			case <-p.halt:
			}
		}
		if !ok {
			return
		}
		room := int(min(window-p.inflight.Load(), maxBatch))
		b := &batch{items: make([]item, 1, min(room, len(msgs)+1)), scored: make(chan struct{}), acked: make(chan struct{})}
		if s.o.tracer != nil {
			b.read = time.Now().UnixNano()
		}
		b.items[0].msg = msg
		part := p.part(msg.Offset) // a batch holds one part of the suspects, or none
	more:
		for len(b.items) < room {
			select {
			case m, ok := <-msgs:
				if !ok {
					break more
				}
				if p.part(m.Offset) != part {
					held = m // it starts the next batch
					break more
				}
				b.items = append(b.items, item{msg: m})
			default:
				break more
			}
		}
		if held == nil && part < 0 {
			held = s.fill(b, msgs, min(room, s.o.maxBatch), p, done)
		}
		n := len(b.items)
		p.inflight.Add(int64(n))
		s.consumed.Add(uint64(n))
		p.next.Store(b.items[n-1].msg.Offset + 1)
		select {
		case h.work <- b:
		case <-s.crashed:
			return
		}
		p.ordered <- b // never blocks: at most window batches are in flight
	}
}

type topicPartition struct {
	Topic     string
	Partition int32
}
