package speculative

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/modelstream/modelstream/serving"
)

// Observation is one shadow's answer to a mirrored record, given to the
// observer set with [WithObserver] together with the primary's answer to
// the same record, so the two can be compared.
type Observation struct {
	// Record is the mirrored record. Its Key, Features and Text are the
	// Shadow's own copy, valid only during the observer call.
	Record serving.Record
	// Primary and PrimaryErr are what the primary answered.
	Primary    serving.Result
	PrimaryErr error
	// Shadow is the shadow's index among the shadows given to NewShadow,
	// and Model the model that answered (or was asked).
	Shadow int
	Model  serving.ModelRef
	// Result and Err are what the shadow answered.
	Result serving.Result
	Err    error
	// Latency is how long the shadow took; Queued how long the record
	// waited in the queue before the first shadow was asked.
	Latency time.Duration
	Queued  time.Duration
}

// Shadow is a Scorer that answers with its primary and mirrors every
// record to shadow models off the hot path, to try them on live traffic
// without risk.
//
// Score calls the primary in the caller's goroutine and returns its
// answer unchanged. It then offers a copy of the record to a bounded
// queue without waiting: when the queue is full the record is not
// mirrored and is counted in Stats.Dropped. A fixed set of worker
// goroutines takes records from the queue and asks each shadow in turn,
// with a context bounded by [WithShadowTimeout], then hands each answer
// to the observer ([WithObserver]). A shadow never adds latency to Score
// and never changes its answer; a shadow that blocks only stalls the
// workers, and the queue then drops.
//
// The Decision has Combinator "shadow" and one Candidate, the primary;
// shadows answer later, to the observer and in [Shadow.Stats], where
// Models[0] is the primary and the shadows follow with their OK, Errors,
// Late (timed out) and Cancelled (by Close) counts.
//
// A Shadow owns goroutines: call [Shadow.Close] to stop them. A Shadow is
// safe for concurrent use.
type Shadow struct {
	cfg      *config
	primary  serving.Scorer
	shadows  []serving.Scorer
	all      []serving.Scorer
	queue    chan *shadowJob
	jobs     sync.Pool
	mu       sync.RWMutex // guards closed against sends on a closed queue
	closed   bool
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	counters *counters
}

type shadowJob struct {
	rec        serving.Record
	primary    serving.Result
	primaryErr error
	queued     time.Time
}

// NewShadow returns a Shadow answering with primary and mirroring to
// shadows, and starts its workers. The scorers must be non-nil; shadows
// may be empty. Options: [WithQueue], [WithWorkers], [WithObserver],
// [WithShadowTimeout], [WithName], [WithHooks].
func NewShadow(primary serving.Scorer, shadows []serving.Scorer, opts ...ShadowOption) (*Shadow, error) {
	cfg, err := newConfig(kindShadow, opts, ShadowOption.applyShadow)
	if err != nil {
		return nil, err
	}
	if isNil(primary) {
		return nil, configError("shadow: nil primary")
	}
	if err := checkScorers("shadow", shadows); err != nil {
		return nil, err
	}
	s := &Shadow{
		cfg:      cfg,
		primary:  primary,
		shadows:  append([]serving.Scorer(nil), shadows...),
		queue:    make(chan *shadowJob, cfg.queue),
		counters: newCounters(1 + len(shadows)),
	}
	s.all = append([]serving.Scorer{primary}, s.shadows...)
	s.jobs.New = func() any { return new(shadowJob) }
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for range cfg.workers {
		s.wg.Add(1)
		go s.work()
	}
	return s, nil
}

// Score implements serving.Scorer: it returns the primary's answer, and
// its error as is, with a Result recording the Decision. After Close,
// Score still answers with the primary but mirrors nothing.
func (s *Shadow) Score(ctx context.Context, r serving.Record) (serving.Result, error) {
	start := time.Now()
	res, err := s.primary.Score(ctx, r)
	took := time.Since(start)
	dec, preds := newDecision(1)
	dec.Combinator, dec.Winner = "shadow", -1
	settle(s.cfg.name, &dec.Candidates[0], &preds[0], s.primary, 0, res, err, took)
	if err == nil {
		dec.Winner = 0
	}
	if len(s.shadows) > 0 {
		s.mirror(r, res, err)
	}
	s.counters.record(dec, err)
	for _, h := range s.cfg.hooks {
		h.OnDecision(s.cfg.name, dec, took)
	}
	out := serving.Result{Prediction: res.Prediction, Provenance: serving.Provenance{Model: dec.Candidates[0].Model, Decision: dec}}
	if err != nil {
		out.Prediction = serving.Prediction{}
	}
	return out, err
}

func (s *Shadow) mirror(r serving.Record, res serving.Result, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		s.counters.dropped.Add(1)
		return
	}
	j := s.jobs.Get().(*shadowJob)
	copyRecord(&j.rec, r)
	j.primary, j.primaryErr, j.queued = res, err, time.Now()
	select {
	case s.queue <- j:
		s.counters.mirrored.Add(1)
	default:
		s.counters.dropped.Add(1)
		s.put(j)
	}
}

func (s *Shadow) put(j *shadowJob) {
	j.primary, j.primaryErr = serving.Result{}, nil
	s.jobs.Put(j)
}

func (s *Shadow) work() {
	defer s.wg.Done()
	for j := range s.queue {
		if s.ctx.Err() != nil {
			s.counters.dropped.Add(1) // queued when Close came
			s.put(j)
			continue
		}
		queued := time.Since(j.queued)
		for i, sh := range s.shadows {
			st, o := s.ask(sh, i, j)
			if s.cfg.observer != nil {
				o.Queued = queued
				if !s.observe(o) {
					st = serving.StatusError
				}
			}
			s.counters.models[i+1].status[st].Add(1)
		}
		s.put(j)
	}
}

// observe hands o to the observer and reports whether it returned. A
// panic in the observer would end the process from this worker
// goroutine; it is recovered instead, as a panicking shadow is in ask.
func (s *Shadow) observe(o Observation) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	s.cfg.observer(o)
	return true
}

// ask runs shadow i on j and classifies the outcome.
func (s *Shadow) ask(sh serving.Scorer, i int, j *shadowJob) (st serving.Status, o Observation) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.shadowTimeout)
	defer cancel()
	o = Observation{Record: j.rec, Primary: j.primary, PrimaryErr: j.primaryErr, Shadow: i}
	t0 := time.Now()
	func() {
		defer func() {
			if p := recover(); p != nil {
				o.Err = fmt.Errorf("speculative: shadow %d panicked: %v", i, p)
			}
		}()
		o.Result, o.Err = sh.Score(ctx, j.rec)
	}()
	o.Latency = time.Since(t0)
	o.Model = o.Result.Provenance.Model
	if o.Model.Name == "" {
		o.Model = refOf(s.cfg.name, sh, i+1)
	}
	switch {
	case o.Err == nil:
		return serving.StatusOK, o
	case s.ctx.Err() != nil:
		return serving.StatusCancelled, o
	case errors.Is(o.Err, context.DeadlineExceeded) && ctx.Err() != nil:
		return serving.StatusLate, o
	default:
		return serving.StatusError, o
	}
}

// Close stops mirroring: records still queued are dropped (and counted),
// the contexts of the shadow calls in flight are cancelled, and Close
// waits for the workers to return, which takes as long as the slowest
// shadow call in flight needs to honour its context. Close is idempotent
// and always returns nil.
func (s *Shadow) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.cancel()
	close(s.queue)
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// Ref implements serving.Referrer: the Shadow's name (see [WithName]).
func (s *Shadow) Ref() serving.ModelRef { return serving.ModelRef{Name: s.cfg.name} }

// Stats returns the Shadow's counters.
func (s *Shadow) Stats() Stats {
	return s.counters.snapshot(s.cfg.name, "shadow", s.all, func(i int) string {
		if i == 0 {
			return "primary"
		}
		return "shadow"
	})
}
