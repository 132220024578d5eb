package serving

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
)

// sampleMask picks one scored record in 64 for the validation samples.
const sampleMask = 63

// samples is a slot's ring of recent records, copied so that the caller's
// buffers are not retained. It is written on one call in 64 and read when
// a version is activated.
type samples struct {
	mu    sync.Mutex
	recs  []Record
	sizes []int // the bytes each of recs holds (see recordBytes)
	bytes int   // their sum, at most maxSampleBytes
	next  int
}

// maxSampleBytes bounds the bytes a slot's samples hold, their layouts
// counted whole for each record (see recordBytes): the records of a
// stream may each carry a Layout of their own, whose field names may take
// the whole record, so the count alone (Validation.Samples) would let a
// slot keep 32 of the largest alive. A record that would take the ring
// past it is not sampled, and one larger on its own never is.
const maxSampleBytes = 4 << 20

// recordBytes is about what a sampled copy of r holds: its values, its
// texts and the Layout it keeps alive.
func recordBytes(r *Record) int {
	n := 8*len(r.Features) + 16*len(r.Text)
	for _, t := range r.Text {
		n += len(t)
	}
	if r.Layout != nil {
		n += r.Layout.size
	}
	return n
}

// add copies r into the ring of at most n records, reusing the buffers
// of the record it overwrites, unless that would take the ring past
// maxSampleBytes.
func (s *samples) add(r *Record, n int) {
	size := recordBytes(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	var i int
	if len(s.recs) < n && s.bytes+size <= maxSampleBytes {
		s.recs = append(s.recs, Record{})
		s.sizes = append(s.sizes, 0)
		i = len(s.recs) - 1
	} else {
		if len(s.recs) == 0 {
			return
		}
		i = s.next % len(s.recs)
		if s.bytes-s.sizes[i]+size > maxSampleBytes {
			return
		}
	}
	s.next = i + 1
	dst := &s.recs[i]
	// A buffer much larger than the record, left by an earlier one, is
	// let go rather than kept beyond what the sizes count.
	if cap(dst.Features) > 2*len(r.Features) {
		dst.Features = nil
	}
	dst.Features = append(dst.Features[:0], r.Features...)
	dst.Layout = r.Layout
	if r.Text != nil && cap(dst.Text) <= 2*len(r.Text) {
		dst.Text = append(dst.Text[:0], r.Text...)
	} else {
		dst.Text = slices.Clone(r.Text)
	}
	s.bytes += size - s.sizes[i]
	s.sizes[i] = size
}

// snapshot returns deep copies of the sampled records.
func (s *samples) snapshot() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Record, len(s.recs))
	for i, r := range s.recs {
		out[i] = Record{Features: slices.Clone(r.Features), Layout: r.Layout, Text: slices.Clone(r.Text)}
	}
	return out
}

// validate tries the candidate l on the name's probes and samples before
// it goes live; see Validation.
func (s *Server) validate(ctx context.Context, sl *slot, l *live) error {
	probes := s.o.valid.Probes[l.ref.Name]
	samp := sl.samples.snapshot()
	if len(probes) == 0 && len(samp) == 0 {
		return nil
	}
	want := 0
	if d, ok := l.m.(Describer); ok {
		want = d.Describe().Outputs
	}
	var cur *live
	if s.o.valid.Tolerance > 0 {
		if cur, _ = sl.acquire(1); cur != nil {
			// A hold on the live version, not a call to count.
			cur.stats.skip(1)
			defer cur.release(1)
		}
	}
	arity := -1
	check := func(kind string, i int, r *Record) (bool, error) {
		p, err := l.try(ctx, r)
		if err != nil {
			if errors.Is(err, ctx.Err()) && ctx.Err() != nil {
				return false, err
			}
			return false, fmt.Errorf("%w: %s %d: %w", ErrValidation, kind, i, err)
		}
		out := p.Outputs()
		if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
			return false, fmt.Errorf("%w: %s %d: the value is %v", ErrValidation, kind, i, p.Value)
		}
		for j, v := range out {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return false, fmt.Errorf("%w: %s %d: output %d is %v", ErrValidation, kind, i, j, v)
			}
		}
		if want > 0 && len(out) != want {
			return false, fmt.Errorf("%w: %s %d: %d outputs, the model declares %d", ErrValidation, kind, i, len(out), want)
		}
		if arity >= 0 && len(out) != arity {
			return false, fmt.Errorf("%w: %s %d: %d outputs, %d on an earlier record", ErrValidation, kind, i, len(out), arity)
		}
		arity = len(out)
		if cur != nil {
			lp, err := cur.try(ctx, r)
			if err == nil {
				if err := agree(out, lp.Outputs(), s.o.valid.Tolerance); err != nil {
					return false, fmt.Errorf("%w: %s %d: against the live %s: %w", ErrValidation, kind, i, cur.ref, err)
				}
			}
		}
		return true, nil
	}
	for i := range probes {
		if _, err := check("probe", i, &probes[i]); err != nil {
			return err
		}
	}
	for i := range samp {
		r := &samp[i]
		if r.Layout != nil {
			// A sample the candidate cannot bind says the stream lacks
			// a field it reads: that is for each record to report.
			if b := l.binds.bind(l.in, r.Layout); b.err != nil {
				continue
			}
		}
		_, err := check("sampled record", i, r)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return err
		case isOutputFault(err):
			return err
		}
		// A sample the candidate fails on (another feature count, a
		// value it refuses) is skipped like an unbindable one: each such
		// record reports its own error once the version is live, as it
		// would without validation. Only wrong answers refuse it here.
	}
	return nil
}

// isOutputFault tells a wrong answer (non-finite, arity, disagreement,
// a panic), which refuses a version on any sample, from a failure to
// answer (a *ModelError), for which the sample is skipped.
func isOutputFault(err error) bool {
	var se *ModelError
	return !errors.As(err, &se)
}

// try scores r with l without touching its stats or hooks. A panic in
// the model is returned as an error that is not a *ModelError, so that
// validation refuses a candidate that panics on any record, rather than
// let it take down the goroutine activating it.
func (l *live) try(ctx context.Context, r *Record) (p Prediction, err error) {
	defer func() {
		if v := recover(); v != nil {
			p, err = Prediction{}, fmt.Errorf("%s panicked: %v", l.ref, v)
		}
	}()
	feats := r.Features
	var buf *[]float64
	if r.Layout != nil {
		var err error
		if feats, buf, err = l.named(r); err != nil {
			return Prediction{}, &ModelError{Model: l.ref, Err: err}
		}
	}
	p, err = l.m.Predict(ctx, feats)
	l.in.put(buf)
	if err != nil {
		return p, &ModelError{Model: l.ref, Err: err}
	}
	return p, nil
}

// agree compares two output vectors within tol, relative to the live
// value where it is larger than 1.
func agree(got, live []float64, tol float64) error {
	if len(got) != len(live) {
		return fmt.Errorf("%d outputs, the live version has %d", len(got), len(live))
	}
	for i := range got {
		if d := math.Abs(got[i] - live[i]); d > tol*math.Max(1, math.Abs(live[i])) {
			return fmt.Errorf("output %d is %v, the live version says %v", i, got[i], live[i])
		}
	}
	return nil
}
