package kafka

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving/wire"
)

// ExactlyOnce makes a Source consume, score and produce in Kafka
// transactions, overriding the default of at-least-once delivery. The
// scores and dead letters of a run of records and the consumed offset
// after them are committed in one transaction, so a read_committed
// consumer of the scores and dead-letter topics sees each input's output
// exactly once, across crashes, restarts and rebalances. See the package
// documentation, "Exactly once", for what this does and does not cover,
// and for what it costs.
//
// A cluster that refuses the transactional producers (transactional ID
// or cluster authorisation, an unsupported version) stops Run with the
// error; other failures abort the transaction and the partitions are
// read again. So does an outage longer than [RetryTimeout], which stops
// an at-least-once Source with [ErrUnavailable]: an exactly-once Source
// holds no write that an abort would lose, and keeps rejoining its
// group until the cluster is back.
//
// It needs Kafka 2.5 or later (the default [DefaultVersion] is 2.8):
// NewSource refuses an older protocol version from [Sarama], and a
// sarama configuration that reads input with read_uncommitted, with an
// error wrapping serving.ErrConfig.
func ExactlyOnce() SourceOption { return sourceOpt(func(o *sourceOptions) { o.exactlyOnce = true }) }

// txnTimeout is the transaction timeout the Source's transactional
// producers ask for, as Kafka Streams does under exactly-once: a
// transaction left open by an instance that died is aborted by the
// broker after it, if no new owner of the partition has aborted it
// sooner. Transactions last one CommitInterval, which must be shorter.
const txnTimeout = 10 * time.Second

// maxWriteFailures is how many times in a row the output of one record
// may fail to be written, each failure aborting the transaction, before
// the record is dead-lettered with the write error as its reason
// instead; and, twice that, before Run stops with the error.
const maxWriteFailures = 2

// transactionalID is the transactional.id of the producer that writes
// the outputs of one input partition for a consumer group. Topic names
// cannot hold '/', so the ID is unambiguous.
func transactionalID(group string, tp topicPartition) string {
	return group + "/" + tp.Topic + "/" + strconv.FormatInt(int64(tp.Partition), 10)
}

// checkExactlyOnce refuses settings under which the Source could not
// keep its exactly-once promise. consumer is the Source's consumer
// configuration.
func checkExactlyOnce(consumer *sarama.Config, sink *Sink, interval time.Duration) error {
	if !consumer.Version.IsAtLeast(sarama.V2_5_0_0) {
		return configErr("ExactlyOnce: needs Kafka protocol 2.5 or later (KIP-447 group metadata and stable offset fetches), got %s", consumer.Version)
	}
	if consumer.Consumer.IsolationLevel != sarama.ReadCommitted {
		return configErr("ExactlyOnce: needs Consumer.IsolationLevel = ReadCommitted: inputs of aborted transactions would be scored")
	}
	pc, err := sink.txnConfig("modelstream-check")
	if err != nil {
		return err
	}
	if pc.Producer.Transaction.Timeout <= interval {
		return configErr("ExactlyOnce: CommitInterval(%v) must be shorter than Producer.Transaction.Timeout (%v)", interval, pc.Producer.Transaction.Timeout)
	}
	return nil
}

// txnConfig returns the sarama configuration of a transactional producer
// that writes what the Sink writes, under transactional.id id.
func (s *Sink) txnConfig(id string) (*sarama.Config, error) {
	return s.cfg.SaramaConfig(func(c *sarama.Config) {
		sinkDefaults(c)
		c.Producer.Transaction.ID = id
		c.Producer.Transaction.Timeout = txnTimeout
	})
}

// txnProducer is the transactional producer of one claimed partition.
type txnProducer struct {
	p    sarama.AsyncProducer
	done chan struct{} // closed when every acknowledgement is delivered
}

// newTxnProducer starts the producer of tp's outputs. Its
// initialisation (InitProducerId with the partition's transactional.id)
// fences the previous owner of the partition: a zombie can write and
// commit nothing more, and a transaction it left open is aborted now
// rather than at its timeout.
//
// Once its transaction has failed, the producer's retries of the writes
// it still holds wait no backoff: see failedFast.
func (s *Source) newTxnProducer(tp topicPartition) (*txnProducer, error) {
	sc, err := s.sink.txnConfig(transactionalID(s.group, tp))
	if err != nil {
		return nil, err
	}
	var self atomic.Pointer[sarama.AsyncProducer]
	failedFast(sc, &self)
	p, err := sarama.NewAsyncProducer(s.brokers, sc)
	if err != nil {
		return nil, err
	}
	self.Store(&p)
	t := &txnProducer{p: p, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		deliver(p)
	}()
	return t, nil
}

// failedFast makes the retries of a transactional producer, *self once
// set, wait no backoff while its transaction is in error. A write the
// broker refuses puts the transaction in error (abortable, or fatal),
// and sarama then fails each request of the writes it still holds with
// that error before sending it, but reads the failure as a broken
// connection and retries the writes, with backoff, Producer.Retry.Max
// times: the whole RetryTimeout (30 s by default), during which the
// writes can only fail again and the abort, which waits for them, cannot
// start. Without the backoff, the retries spend themselves in a moment
// and the writes fail with the transaction's error. (Java's producer
// fails them at once.) Each retry costs a metadata refresh and a new
// connection; the backoff's cap for a long RetryTimeout keeps them to
// some 40 (see backoffFor). Retries of a transaction not in error,
// through a broker failover, keep sc's backoff.
func failedFast(sc *sarama.Config, self *atomic.Pointer[sarama.AsyncProducer]) {
	next := sc.Producer.Retry.BackoffFunc
	fixed := sc.Producer.Retry.Backoff
	sc.Producer.Retry.BackoffFunc = func(retries, max int) time.Duration {
		if p := self.Load(); p != nil && (*p).TxnStatus()&sarama.ProducerTxnFlagInError != 0 {
			return 0
		}
		if next != nil {
			return next(retries, max)
		}
		return fixed
	}
}

func (t *txnProducer) send(m *sarama.ProducerMessage, ack func(error)) {
	m.Metadata = ack
	t.p.Input() <- m
}

// close closes the producer once its acknowledgements are delivered. A
// transaction still open stays open, for the partition's next owner to
// abort.
func (t *txnProducer) close() {
	t.p.AsyncClose()
	<-t.done
}

// poison remembers, per partition, the records whose outputs the broker
// last refused for what they are (see recordError), and how many times
// in a row. The producer sends records in batches and the broker refuses
// a batch whole, and the producer then fails the writes it still holds
// with the refusal's error, so a first refusal names a range of
// suspects. The range is then written in parts of doubling size (see
// pipe.part), each in a transaction of its own: a part committed leaves
// the suspects after it, a part refused is the new range, and a refusal
// of a range of one names the record.
type poison struct {
	mu sync.Mutex
	at map[topicPartition]suspects
}

type suspects struct {
	from, to int64 // the range of suspect offsets
	times    int   // refusals in a row; more than one only for a range of one
	err      error // the last refusal
}

// failed records that the broker refused the outputs of tp's records
// from..to with err.
func (p *poison) failed(tp topicPartition, from, to int64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.at == nil {
		p.at = map[topicPartition]suspects{}
	}
	r, ok := p.at[tp]
	if ok && from == to && r.from <= from && from <= r.to {
		r = suspects{from: from, to: from, times: r.times + 1, err: err}
	} else {
		r = suspects{from: from, to: to, times: 1, err: err}
	}
	p.at[tp] = r
}

// check returns how many times in a row the broker refused the output of
// tp's record at offset, alone, and the last refusal.
func (p *poison) check(tp topicPartition, offset int64) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.at[tp]
	if !ok || r.from != offset || r.to != offset {
		return 0, nil
	}
	return r.times, r.err
}

// suspects returns the range of tp's suspect offsets; from > to when
// there are none.
func (p *poison) suspects(tp topicPartition) (from, to int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.at[tp]; ok {
		return r.from, r.to
	}
	return 0, -1
}

// refusedForGood reports whether err is the cluster refusing a
// transactional producer in a way no retry changes: the Source then
// stops rather than rejoin its group without end.
func refusedForGood(err error) bool {
	return errors.Is(err, sarama.ErrTransactionalIDAuthorizationFailed) || errors.Is(err, sarama.ErrClusterAuthorizationFailed) ||
		errors.Is(err, sarama.ErrUnsupportedVersion) || errors.Is(err, sarama.ErrUnsupportedForMessageFormat)
}

// recordError reports whether err is the broker refusing a record for
// what it is (its size, its content), rather than a failure of the
// cluster that a later attempt may not meet.
func recordError(err error) bool {
	var ce sarama.ConfigurationError
	return errors.Is(err, sarama.ErrMessageSizeTooLarge) || errors.Is(err, sarama.ErrMessageSetSizeTooLarge) ||
		errors.Is(err, sarama.ErrInvalidRecord) || errors.Is(err, sarama.ErrInvalidTimestamp) ||
		errors.Is(err, sarama.ErrInvalidMessage) || errors.As(err, &ce)
}

// committed clears the suspects below next, tp's committed offset.
func (p *poison) committed(tp topicPartition, next int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.at[tp]
	switch {
	case !ok:
	case r.to < next:
		delete(p.at, tp)
	case r.from < next:
		r.from = next
		r.times = 1
		p.at[tp] = r
	}
}

// ErrWrite is the reason of a dead letter written in place of a score
// that Kafka refused, in exactly-once mode, twice in a
// row, each refusal aborting the transaction: the record is then a
// poison record for the producer, which would otherwise stop its
// partition for good. The dead letter's reason names the broker's error.
var ErrWrite = errors.New("kafka: output refused by the broker")

// transaction is a run of batches written in one Kafka transaction.
type transaction struct {
	batches []*batch
	records int   // records written
	next    int64 // the offset after the last record written
}

// transact is the writer of a partition in exactly-once mode. It writes
// the outputs in offset order into a transaction of the partition's own
// producer, and every CommitInterval, or once half a window of records
// is written, adds the offset after them to the transaction and commits
// it. Records are released from the window on commit. When a transaction
// fails, it aborts it, stops the reader, and ends the claim: that ends
// the group session, and the partition is read again from its last
// commit by whichever member the group gives it to.
func (h *handler) transact(sess sarama.ConsumerGroupSession, p *pipe) {
	s, tp := h.s, p.tp
	// drain stops the reader and releases the batches it queued, none of
	// which is written. A worker may still be scoring one, and starting
	// its records' process spans: each batch is released once scored,
	// its spans ended as abandoned.
	drain := func() {
		p.stop()
		for b := range p.ordered {
			select {
			case <-b.scored:
			case <-s.crashed:
				return
			}
			s.o.tracer.abandon(b.items)
			p.release(len(b.items))
		}
	}
	t, err := s.newTxnProducer(tp)
	if err != nil {
		if refusedForGood(err) {
			s.fail(fmt.Errorf("kafka: source: transactional producer for %s/%d: %w", tp.Topic, tp.Partition, err))
		} else {
			s.log.Warn("kafka source: no transactional producer; the claim ends and the group rejoins", "topic", tp.Topic, "partition", tp.Partition, "err", err)
		}
		drain()
		return
	}
	defer t.close()
	// KIP-447: the broker refuses the offsets of a member whose
	// generation is over, so a member that lost the partition in a
	// rebalance cannot commit its records after the new owner read the
	// committed offset.
	var instance *string
	if id := s.cfg.Consumer.Group.InstanceId; id != "" {
		instance = &id
	}
	meta := sarama.NewConsumerGroupMetadataFromSession(sess, s.group, instance)
	half := max(1, s.o.window/2)
	timer := time.NewTimer(s.o.interval)
	timer.Stop()
	defer timer.Stop()
	var tick <-chan time.Time
	var txn transaction
	var txnPart int64 // the part of the suspects txn writes (see pipe.part), or -1

	// commit commits txn and reports whether it did; on failure it has
	// aborted what it could and stopped the reader.
	commit := func() bool {
		timer.Stop()
		tick = nil
		if len(txn.batches) == 0 {
			return true
		}
		err := t.p.AddOffsetsToTxnWithGroupMetadata(map[string][]*sarama.PartitionOffsetMetadata{
			tp.Topic: {{Partition: tp.Partition, Offset: txn.next}},
		}, meta)
		if err == nil {
			err = t.p.CommitTxn()
		}
		if !h.settle(t, &txn) || err != nil {
			h.abort(t, p, &txn, err)
			return false
		}
		s.o.tracer.settled(txn.batches, nil)
		for _, b := range txn.batches {
			s.count(tp, b.items[:b.cut])
			p.release(len(b.items))
		}
		s.commits.Add(1)
		s.poison.committed(tp, txn.next)
		for _, hk := range s.o.hooks.commits {
			next := txn.next
			s.hook("commit", func() { hk.OnCommit(tp.Topic, tp.Partition, next) })
		}
		txn = transaction{batches: txn.batches[:0]}
		return true
	}

	for {
		select {
		case b, ok := <-p.ordered:
			if !ok {
				commit()
				return
			}
			select {
			case <-b.scored:
			case <-s.crashed:
				return
			}
			if s.isCrashed() {
				return
			}
			// A part of the suspects is written in a transaction of its
			// own, committed once the part's last offset is written.
			part, ends := int64(-1), false
			if b.cut > 0 {
				part = p.part(b.items[0].msg.Offset)
				ends = part >= 0 && b.items[b.cut-1].msg.Offset >= part
				if len(txn.batches) > 0 && part != txnPart && !commit() {
					s.o.tracer.abandon(b.items)
					drain()
					return
				}
			}
			if b.cut == 0 {
				p.release(len(b.items))
			} else {
				if len(txn.batches) == 0 {
					if err := t.p.BeginTxn(); err != nil {
						h.abort(t, p, &txn, err)
						s.o.tracer.abandon(b.items)
						drain()
						return
					}
					timer.Reset(s.o.interval)
					tick = timer.C
					txnPart = part
				}
				txn.batches = append(txn.batches, b)
				if !h.sendTxn(t, p, &txn, b) {
					drain()
					return
				}
				txn.records += b.cut
				txn.next = b.items[b.cut-1].msg.Offset + 1
			}
			if b.cut < len(b.items) {
				// Abandoned at shutdown: commit what came before, and
				// leave the rest to be read again.
				s.o.tracer.abandon(b.items[b.cut:])
				s.log.Info("kafka source: records abandoned at shutdown, to be read again", "topic", tp.Topic, "partition", tp.Partition, "from_offset", b.items[b.cut].msg.Offset)
				commit()
				drain()
				return
			}
			if (ends || txn.records >= half) && !commit() {
				drain()
				return
			}
		case <-tick:
			if !commit() {
				drain()
				return
			}
		case <-s.crashed:
			return
		}
	}
}

// sendTxn writes the outputs of b's records up to b.cut into the open
// transaction txn, of which b is the last batch. A record whose output
// failed to be written maxWriteFailures times in a row is dead-lettered
// instead, with ErrWrite; after twice as many failures (its dead letter
// failed too), sendTxn aborts the transaction, stops Run with the error
// and reports false.
func (h *handler) sendTxn(t *txnProducer, p *pipe, txn *transaction, b *batch) bool {
	s, tp := h.s, p.tp
	b.pending.Store(int32(b.cut))
	for i := range b.items[:b.cut] {
		it := &b.items[i]
		if n, werr := s.poison.check(tp, it.msg.Offset); n >= maxWriteFailures {
			if n >= 2*maxWriteFailures {
				err := fmt.Errorf("kafka: source: %s/%d offset %d: neither its output nor its dead letter could be written: %w", tp.Topic, tp.Partition, it.msg.Offset, werr)
				// Nothing waits for the writes not sent: the batch is
				// acknowledged for them, and their records (and any
				// abandoned after b.cut) end their spans unwritten.
				s.o.tracer.abandon(b.items[i:])
				for j := i; j < b.cut; j++ {
					b.ack(j, err)
				}
				h.abort(t, p, txn, err)
				s.fail(err)
				return false
			}
			it.err, it.stage = fmt.Errorf("%w %d times in a row: %w", ErrWrite, n, werr), wire.StageScore
			it.out = s.sink.deadLetterMessage(it.msg, it.stage, it.err)
		}
		s.write(t.send, it, func(err error) { b.ack(i, err) })
	}
	return true
}

// settle waits until every write of txn is acknowledged, and reports
// whether they all succeeded. After CommitTxn or AbortTxn returns, the
// producer has delivered every acknowledgement; this waits for the
// Sink's goroutine to pass them on.
func (h *handler) settle(t *txnProducer, txn *transaction) bool {
	ok := true
	for _, b := range txn.batches {
		select {
		case <-b.acked:
		case <-t.done:
			return false
		case <-h.s.crashed:
			return false
		}
		if b.werr != nil {
			ok = false
		}
	}
	return ok
}

// abort aborts the open transaction after err, records the first write
// that failed in it (see ErrWrite), and stops the partition's reader, so
// that the claim ends and the partition is read again from its last
// commit.
func (h *handler) abort(t *txnProducer, p *pipe, txn *transaction, err error) {
	s, tp := h.s, p.tp
	p.stop()
	status := t.p.TxnStatus()
	if status&sarama.ProducerTxnFlagFatalError == 0 && status&(sarama.ProducerTxnFlagInTransaction|sarama.ProducerTxnFlagAbortableError) != 0 {
		if aerr := t.p.AbortTxn(); aerr != nil {
			s.log.Warn("kafka source: abort", "topic", tp.Topic, "partition", tp.Partition, "err", aerr)
		}
	}
	// The first write that failed, in offset order, is the likely cause;
	// the writes after it fail with it.
	for _, b := range txn.batches {
		select {
		case <-b.acked:
		case <-t.done:
		case <-s.crashed:
			return
		}
	}
	from, to := int64(-1), int64(-1)
	var rerr error
	for _, b := range txn.batches {
		for i := range b.items[:b.cut] {
			werr := b.itemErr(i)
			if werr == nil {
				continue
			}
			if err == nil {
				err = werr
			}
			if recordError(werr) {
				if from < 0 {
					from, rerr = b.items[i].msg.Offset, werr
				}
				to = b.items[i].msg.Offset
			}
		}
	}
	if from >= 0 {
		s.poison.failed(tp, from, to, rerr)
	}
	if status&sarama.ProducerTxnFlagFatalError != 0 && !errors.Is(err, sarama.ErrProducerFenced) && !errors.Is(err, sarama.ErrInvalidProducerEpoch) {
		// The producer can no longer abort, and no other owner fenced
		// it: a new producer with the partition's transactional.id
		// aborts the transaction now. Left open, its offsets would hold
		// the partition's next offset fetch until the transaction
		// timeout.
		if t2, ierr := s.newTxnProducer(tp); ierr != nil {
			s.log.Warn("kafka source: a transaction left open by a failed producer is aborted at its timeout", "topic", tp.Topic, "partition", tp.Partition, "err", ierr)
		} else {
			t2.close()
		}
	}
	aerr := errors.New("kafka: transaction aborted")
	if err != nil {
		aerr = fmt.Errorf("kafka: transaction aborted: %w", err)
	}
	s.o.tracer.settled(txn.batches, aerr)
	s.aborts.Add(1)
	s.log.Warn("kafka source: transaction aborted; the partition is read again from its last commit", "topic", tp.Topic, "partition", tp.Partition, "records", txn.records, "err", err)
	for _, b := range txn.batches {
		p.release(len(b.items))
	}
	*txn = transaction{}
}

// itemErr returns the write error of item i, if its write failed.
func (b *batch) itemErr(i int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.errs != nil {
		return b.errs[i]
	}
	return nil
}
