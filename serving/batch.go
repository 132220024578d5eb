package serving

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// BatchScorer is implemented by Scorers that score several records in
// one call for less than one call each, such as the Scorer of
// Server.Model. Callers find it by type assertion and fall back to
// Score.
//
// ScoreBatch scores rs[i] into out[i] and errs[i], which have len(rs)
// elements: each record gets its own Result, with its own provenance, and
// its own error, exactly as Score would have given it, so one bad record
// fails alone.
type BatchScorer interface {
	ScoreBatch(ctx context.Context, rs []Record, out []Result, errs []error)
}

// ScoreBatch implements BatchScorer. The whole batch is scored by the
// version live when the call starts. When that model is a BatchPredictor
// the valid records go to one PredictBatch call; if it fails, they are
// predicted one by one, so that only the record at fault fails. The
// Server's counters and HookScored see every record, each timed as the
// batch's time divided by its size.
func (ss *slotScorer) ScoreBatch(ctx context.Context, rs []Record, out []Result, errs []error) {
	sl := (*slot)(ss)
	if len(out) < len(rs) || len(errs) < len(rs) {
		panic(fmt.Sprintf("serving: ScoreBatch of %d records into %d results and %d errors", len(rs), len(out), len(errs)))
	}
	l := sl.acquire()
	if l == nil {
		for i := range rs {
			out[i], errs[i] = Result{}, fmt.Errorf("%w: %q", ErrNoModel, sl.name)
		}
		return
	}
	defer l.release(sl.s.o.logger)
	if err := ctx.Err(); err != nil {
		for i := range rs {
			out[i], errs[i] = Result{Provenance: Provenance{Model: l.ref}}, &ScoreError{Model: l.ref, Err: err}
		}
		return
	}
	policy := sl.s.o.nonFinite
	sc := batchScratch.Get().(*scratch)
	defer sc.put()
	bufs, rows, idx := sc.bufs[:0], sc.rows[:0], sc.idx[:0] // rows[k] is the features of rs[idx[k]]
	for i := range rs {
		r := &rs[i]
		out[i], errs[i] = Result{Provenance: Provenance{Model: l.ref}}, nil
		feats := r.Features
		if r.Layout != nil {
			var buf *[]float64
			var err error
			if feats, buf, err = l.named(r); err != nil {
				errs[i] = &ScoreError{Model: l.ref, Err: err}
				continue
			}
			if buf != nil {
				bufs = append(bufs, buf)
			}
		}
		if policy != PassNonFinite {
			if err := checkFinite(feats, policy); err != nil {
				errs[i] = &ScoreError{Model: l.ref, Err: err}
				continue
			}
		}
		rows = append(rows, feats)
		idx = append(idx, i)
	}
	defer func() {
		for _, b := range bufs {
			l.in.put(b)
		}
		sc.bufs, sc.rows, sc.idx = bufs, rows, idx
	}()
	if len(rows) == 0 {
		return
	}
	start := time.Since(monoBase)
	failed := 0
	done := false
	if bp, ok := l.m.(BatchPredictor); ok && len(rows) > 1 {
		preds := slices.Grow(sc.preds[:0], len(rows))[:len(rows)]
		sc.preds = preds
		if bp.PredictBatch(ctx, rows, preds) == nil {
			for k, i := range idx {
				out[i].Prediction = preds[k]
			}
			done = true
		}
	}
	if !done {
		for k, i := range idx {
			p, err := l.m.Predict(ctx, rows[k])
			if err != nil {
				errs[i] = &ScoreError{Model: l.ref, Err: err}
				failed++
				continue
			}
			out[i].Prediction = p
		}
	}
	took := time.Since(monoBase) - start
	per := took / time.Duration(len(rows))
	n := l.stats.recordBatch(per, len(rows), failed)
	// Sample for validation as Score does: the calls counted here are
	// numbered n-len(rows)+1 to n, and one in 64 successful ones is kept.
	if keep := sl.s.o.valid.Samples; keep > 0 {
		first := n - uint64(len(rows)) + 1
		for k, i := range idx {
			if (first+uint64(k))&sampleMask == 0 && errs[i] == nil {
				sl.samples.add(&rs[i], keep)
			}
		}
	}
	for _, h := range sl.s.o.hooks.scored {
		for _, i := range idx {
			var err error
			if errs[i] != nil {
				err = errs[i].(*ScoreError).Err
			}
			h.OnScored(l.ref, per, err)
		}
	}
}

// scratch is the working memory of one ScoreBatch call, pooled so that
// a batch allocates nothing of its own.
type scratch struct {
	bufs  []*[]float64
	rows  [][]float64
	idx   []int
	preds []Prediction
}

var batchScratch = sync.Pool{New: func() any { return new(scratch) }}

// put clears the references scratch holds and returns it to the pool.
// Scratch grown beyond 4096 records is dropped.
func (sc *scratch) put() {
	if cap(sc.rows) > 4096 || cap(sc.preds) > 4096 {
		return
	}
	clear(sc.bufs[:cap(sc.bufs)])
	clear(sc.rows[:cap(sc.rows)])
	clear(sc.preds[:cap(sc.preds)])
	batchScratch.Put(sc)
}

// recordBatch records n calls of d each, failed of them failed, with one
// update of each counter, and returns how many calls were counted, as
// record does.
func (c *counters) recordBatch(d time.Duration, n, failed int) uint64 {
	total := c.n.Add(uint64(n))
	if failed > 0 {
		c.errs.Add(uint64(failed))
	}
	ns := int64(d)
	c.total.Add(ns * int64(n))
	for {
		m := c.min.Load()
		if ns >= m || c.min.CompareAndSwap(m, ns) {
			break
		}
	}
	for {
		m := c.max.Load()
		if ns <= m || c.max.CompareAndSwap(m, ns) {
			break
		}
	}
	return total
}
