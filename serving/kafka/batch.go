package kafka

import (
	"context"
	"errors"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/wire"
)

// defaultMaxBatch is the default of MaxBatch: off. Measured with
// BenchmarkPipeline (linear model, 8 features, JSON in, compact JSON
// scores out, kfake; three runs at a load average of 11 to 15 on 2
// cores), batches of up to 64 took 5-10% more CPU per record than one
// Score call per record (0.73-0.77 of a raw pass-through's records per
// CPU-second, against 0.79-0.84): the Server's own overhead (about 4.5%
// of a 1.55µs tree model's time per Score call, 2-3.5% per record in
// batches of 8 and 1-2.5% in batches of 64: serving/formats/leaves
// BenchmarkPairedOverhead) is too small a part of the pipeline's cost
// for a cheap model to win back what the batch path costs. Batching pays
// for models that predict a batch faster than its rows one by one (a
// BatchPredictor such as an ONNX Runtime session); turn it on for those.
const defaultMaxBatch = 1

// MaxBatch sets how many records of one partition a Source hands to its
// Scorer in one call, when the Scorer is a serving.BatchScorer (the
// Scorer of Server.Model is), overriding the default of 1, one Score call
// per record. A batch is made of the records already waiting in the
// partition's queue, up to MaxBatch, and of those that arrive within
// [BatchWindow] of its first record, if the batch is not full by then.
// Batches also grow by themselves when the model falls behind. Order,
// commits and dead letters are as without batching: each record gets its
// own score or dead letter, in order, and a record that fails fails
// alone.
func MaxBatch(n int) SourceOption { return sourceOpt(func(o *sourceOptions) { o.maxBatch = n }) }

// defaultBatchWindow is the default of BatchWindow. Measured with
// BenchmarkBatchWindow (records trickling in at up to one per ms, one
// partition, one worker, MaxBatch 64; loaded 2-core machine), a model
// costing 1 ms per call plus 10 µs per record scored 1.35 records per
// call with no window and a median wait of 8.4-9.0 ms (singles queue
// behind each other), and with 5 ms 4.9-5.1 records per call, a median
// wait of 4.6-4.7 ms and 3.6x the model's capacity; 2 ms gave 2.7-2.9
// records per call (2.9 ms), 10 ms 9.2-9.6 (7.3 ms), 50 ms 38-44
// (27-29 ms). For a cheap model (20 µs per call) the window is pure
// latency, 0.6-0.7 ms median without it and 4.2 ms with 5 ms: such a
// model keeps MaxBatch at 1, where the window does nothing.
const defaultBatchWindow = 5 * time.Millisecond

// BatchWindow sets how long a Source with a [MaxBatch] above 1 waits,
// from reading the first record of a batch, for more records of its
// partition to fill the batch, overriding the default of 5 ms; with 0 a
// batch is made of the records already waiting. A batch goes to the
// Scorer as soon as it holds MaxBatch records or the window has passed,
// whichever comes first, so a record waits at most d for its batch, and
// not at all when records come faster than batches fill, nor when the
// Scorer is not a serving.BatchScorer. It is
// BentoML's batch window (its max_latency_ms), without BentoML's
// adaptation of the wait to the model's measured batch cost: in a
// stream, fetches already bring records in groups under load, and a
// model that falls behind makes its batches grow. d must not be
// negative; with MaxBatch 1 it has no effect.
func BatchWindow(d time.Duration) SourceOption {
	return sourceOpt(func(o *sourceOptions) { o.batchWin = d })
}

// fill adds to b the records of msgs that arrive within the batch window,
// until b holds want records. It returns a record it read that must start
// a batch of its own, a suspect (see pipe.part), or nil. It gives up at once
// when the partition's session ends or the Source stops.
func (s *Source) fill(b *batch, msgs <-chan *sarama.ConsumerMessage, want int, p *pipe, done <-chan struct{}) *sarama.ConsumerMessage {
	if s.o.batchWin <= 0 || len(b.items) >= want {
		return nil
	}
	if _, ok := s.scorer.(serving.BatchScorer); !ok {
		return nil // records are scored one by one: waiting gains nothing
	}
	t := time.NewTimer(s.o.batchWin)
	defer t.Stop()
	for len(b.items) < want {
		select {
		case m, ok := <-msgs:
			if !ok {
				return nil
			}
			if p.suspected(m.Offset) {
				return m
			}
			b.items = append(b.items, item{msg: m})
		case <-t.C:
			return nil
		case <-done:
			return nil
		case <-s.crashed:
			return nil
		case <-p.halt:
			return nil
		}
	}
	return nil
}

// processBatch is process for a Scorer that is a serving.BatchScorer,
// such as Server.Model: the batch's records are decoded, then scored in
// one ScoreBatch call, so that the Server takes its reference to the live
// version, reads the clock and updates its counters once per batch, and
// a BatchPredictor model predicts all the rows together. Each record
// still gets its own result, error and dead letter, in order; should the
// ScoreBatch call panic, the records are scored again one by one, so the
// panic is pinned on one record.
func (s *Source) processBatch(ctx context.Context, b *batch, bs serving.BatchScorer, fs *floatSlab) {
	b.cut = len(b.items)
	n := len(b.items)
	rs := make([]serving.Record, 0, n)
	at := make([]int, 0, n) // rs[k] is the record of b.items[at[k]]
	for i := range b.items {
		it := &b.items[i]
		r, err := s.decodeItem(it, fs)
		if err != nil {
			it.err, it.stage = err, wire.StageDecode
			it.out = s.sink.deadLetterMessage(it.msg, it.stage, it.err)
			continue
		}
		r.Key, r.Time = it.msg.Key, it.msg.Timestamp
		rs = append(rs, r)
		at = append(at, i)
	}
	if ctx.Err() != nil {
		b.cut = 0
		return
	}
	out := make([]serving.Result, len(rs))
	errs := make([]error, len(rs))
	for lo := 0; lo < len(rs); lo += s.o.maxBatch {
		hi := min(lo+s.o.maxBatch, len(rs))
		t0 := s.o.tracer.now()
		if !s.scoreBatch(ctx, bs, rs[lo:hi], out[lo:hi], errs[lo:hi]) {
			for k := lo; k < hi; k++ {
				out[k], errs[k] = s.scoreItem(ctx, &b.items[at[k]], rs[k])
			}
		} else {
			s.o.tracer.scoredBatch(b, at[lo:hi], t0, out[lo:hi], errs[lo:hi])
		}
	}
	slab := s.sink.scoreSlab(len(at))
	b.slab = slab
	for k, i := range at {
		it := &b.items[i]
		err := errs[k]
		if err != nil && ctx.Err() != nil && !errors.Is(err, ErrPanic) {
			b.cut = i // not the record's fault: leave it to be read again
			return
		}
		if err != nil {
			it.err, it.stage = err, wire.StageScore
			it.out = s.sink.deadLetterMessage(it.msg, it.stage, it.err)
			continue
		}
		if it.out, err = s.sink.scoreMessageIn(slab, it.msg, &out[k]); err != nil {
			it.err, it.stage = err, wire.StageScore
		}
	}
}

// scoreBatch calls bs.ScoreBatch and reports whether it returned without
// a panic.
func (s *Source) scoreBatch(ctx context.Context, bs serving.BatchScorer, rs []serving.Record, out []serving.Result, errs []error) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Warn("kafka source: a batch scorer panicked; scoring its records one by one", "records", len(rs), "panic", p)
			ok = false
		}
	}()
	bs.ScoreBatch(ctx, rs, out, errs)
	return true
}
