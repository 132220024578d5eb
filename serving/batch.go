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
// two or more valid records go to one PredictBatch call; if it fails,
// they are predicted one by one, so that only the record at fault fails,
// unless ctx is done by then: each of them then fails with ctx's error.
// A batch of one record is scored as Score scores it. The Server's
// counters and HookScored see every record, each timed as the batch's
// time divided by its size (see Stats for when a batch is timed).
func (ss *slotScorer) ScoreBatch(ctx context.Context, rs []Record, out []Result, errs []error) {
	sl := (*slot)(ss)
	if len(out) < len(rs) || len(errs) < len(rs) {
		panic(fmt.Sprintf("serving: ScoreBatch of %d records into %d results and %d errors", len(rs), len(out), len(errs)))
	}
	switch len(rs) {
	case 0:
		return
	case 1:
		// Score counts, times, samples and answers one record exactly as
		// a batch of one, without the batch's scratch.
		out[0], errs[0] = ss.Score(ctx, rs[0])
		return
	}
	k := uint64(len(rs))
	l, n := sl.acquire(k)
	if l == nil {
		err := sl.noModel()
		for i := range rs {
			out[i], errs[i] = Result{}, err
		}
		return
	}
	defer l.release(k)
	if err := ctx.Err(); err != nil {
		l.stats.skip(k)
		for i := range rs {
			out[i], errs[i] = Result{Provenance: Provenance{Model: l.ref}}, &ModelError{Model: l.ref, Err: err}
		}
		return
	}
	policy := sl.s.o.nonFinite
	check := policy != PassNonFinite
	// One sum over the whole batch tells that no feature is NaN or ±Inf,
	// unless a recent batch held one (as data with missing values under
	// AllowMissing do): the rows are then checked one by one, without
	// that sum, until a batch has none.
	dirty := check && l.nonFinite.Load()
	named, finite := scanBatch(rs, check && !dirty)
	sc := batchScratch.Get().(*scratch)
	defer sc.put(l.in)
	// rows[k] is the features of record rs[sc.rec(k)]: the records that
	// reach the model. Each record's Result is written once, when its
	// outcome is known.
	rows := slices.Grow(sc.rows[:0], len(rs))
	if !named && (finite || !check) {
		// The common batch: every record goes to the model as it is.
		for i := range rs {
			rows = append(rows, rs[i].Features)
		}
	} else {
		// Bind the named records and, unless the batch summed to a
		// finite number, check each row on its own.
		check = check && !finite
		clean := true
		for i := range rs {
			r := &rs[i]
			feats := r.Features
			var err error
			if r.Layout != nil {
				var buf *[]float64
				if feats, buf, err = l.named(r); buf != nil {
					sc.bufs = append(sc.bufs, buf)
				}
			}
			if err == nil && check && !allFinite(feats) {
				clean = false
				err = l.in.nameInput(checkFinite(feats, policy))
			}
			if err != nil {
				out[i], errs[i] = Result{Provenance: Provenance{Model: l.ref}}, &ModelError{Model: l.ref, Err: err}
				sc.skip(len(rows))
				continue
			}
			rows = append(rows, feats)
			if sc.sparse {
				sc.idx = append(sc.idx, i)
			}
		}
		if check && clean == dirty {
			l.nonFinite.Store(!clean)
		}
	}
	sc.rows = rows
	if refused := len(rs) - len(rows); refused > 0 {
		l.stats.skip(uint64(refused))
	}
	if len(rows) == 0 {
		return
	}
	hooks := sl.s.o.hooks.scored
	timed := timeCalls(n, len(rs), len(hooks) > 0)
	var start time.Duration
	if timed {
		start = time.Since(monoBase)
	}
	failed := 0
	done := false
	if l.bp != nil && len(rows) > 1 {
		preds := slices.Grow(sc.preds[:0], len(rows))[:len(rows)]
		sc.preds = preds
		if err := l.bp.PredictBatch(ctx, rows, preds); err == nil {
			if !sc.sparse {
				// Every record reached the model: out[k] is rows[k]'s.
				for k := range preds {
					out[k].set(&preds[k], &l.ref)
					errs[k] = nil
				}
			} else {
				for k, i := range sc.idx {
					out[i].set(&preds[k], &l.ref)
					errs[i] = nil
				}
			}
			done = true
		} else if err := ctx.Err(); err != nil {
			// The caller gave up: predicting the rows one by one would
			// spend the model's time on results nobody reads.
			for k := range rows {
				i := sc.rec(k)
				out[i], errs[i] = Result{Provenance: Provenance{Model: l.ref}}, &ModelError{Model: l.ref, Err: err}
			}
			failed, done = len(rows), true
		}
	}
	if !done {
		for k := range rows {
			i := sc.rec(k)
			p, err := l.m.Predict(ctx, rows[k])
			if err != nil {
				out[i], errs[i] = Result{Provenance: Provenance{Model: l.ref}}, &ModelError{Model: l.ref, Err: err}
				failed++
				continue
			}
			out[i].set(&p, &l.ref)
			errs[i] = nil
		}
	}
	var per time.Duration
	if timed {
		per = (time.Since(monoBase) - start) / time.Duration(len(rows))
	}
	if failed > 0 {
		l.stats.errs.Add(uint64(failed))
	}
	// Sample for validation as Score does: the calls counted for rs are
	// numbered n-len(rs)+1 to n, and one in 64 successful ones is kept.
	if keep := sl.s.o.valid.Samples; keep > 0 {
		first := n - k + 1
		for i := (sampleMask + 1 - first&sampleMask) & sampleMask; i < k; i += sampleMask + 1 {
			if errs[i] == nil {
				sl.samples.add(&rs[i], keep)
			}
		}
	}
	if !timed {
		return
	}
	l.stats.time(per, len(rows))
	for _, h := range hooks {
		for k := range rows {
			var err error
			if i := sc.rec(k); errs[i] != nil {
				err = errs[i].(*ModelError).Err
			}
			h.OnScored(l.ref, per, err)
		}
	}
}

// set makes r the Result of model ref with prediction *p, field by
// field: assigning a whole Result builds it on the stack first and
// copies it twice, a tenth of the Server's cost per record in a batch.
func (r *Result) set(p *Prediction, ref *ModelRef) {
	r.Prediction = *p
	r.Provenance.Model = *ref
	r.Provenance.Decision = nil
}

// scratch is the working memory of one ScoreBatch call, pooled so that
// a batch allocates nothing of its own.
type scratch struct {
	bufs  []*[]float64
	rows  [][]float64
	preds []Prediction
	// sparse is set once a record fails before the model: from then on,
	// idx[k] is the index in the batch of rows[k]. While it is unset,
	// rows[k] is record k's, and idx is not kept.
	sparse bool
	idx    []int
}

// skip notes that a record failed before the model, when n records
// had reached it.
func (sc *scratch) skip(n int) {
	if !sc.sparse {
		sc.sparse = true
		for k := range n {
			sc.idx = append(sc.idx, k)
		}
	}
}

// rec returns the index in the batch of the record whose features are
// rows[k].
func (sc *scratch) rec(k int) int {
	if sc.sparse {
		return sc.idx[k]
	}
	return k
}

var batchScratch = sync.Pool{New: func() any { return new(scratch) }}

// put returns the gathering buffers to in, clears the references scratch
// holds and returns it to the pool. Only the used lengths need clearing:
// past them, the slices hold zeros. Scratch grown beyond 4096 records is
// dropped.
func (sc *scratch) put(in *inputs) {
	for _, b := range sc.bufs {
		in.put(b)
	}
	if cap(sc.rows) > 4096 || cap(sc.preds) > 4096 {
		return
	}
	clear(sc.bufs)
	clear(sc.rows)
	clear(sc.preds)
	sc.bufs, sc.rows, sc.idx, sc.preds = sc.bufs[:0], sc.rows[:0], sc.idx[:0], sc.preds[:0]
	sc.sparse = false
	batchScratch.Put(sc)
}
