package speculative

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelstream/modelstream/serving"
)

// Every combinator is a serving.Scorer, and names itself through
// serving.Referrer when it is a candidate of another.
var (
	_ serving.Scorer   = (*Budget)(nil)
	_ serving.Scorer   = (*Ensemble)(nil)
	_ serving.Scorer   = (*Split)(nil)
	_ serving.Scorer   = (*Switch)(nil)
	_ serving.Scorer   = (*Shadow)(nil)
	_ serving.Referrer = (*Budget)(nil)
	_ serving.Referrer = (*Ensemble)(nil)
	_ serving.Referrer = (*Split)(nil)
	_ serving.Referrer = (*Switch)(nil)
	_ serving.Referrer = (*Shadow)(nil)
)

// engine runs one call's fan-out: every candidate in its own goroutine,
// answers gathered on a buffered channel, decisions taken as they land.
// Budget and Ensemble are two configurations of it.
type engine struct {
	cfg      *config
	kind     string // the Decision's Combinator
	scorers  []serving.Scorer
	fb       int           // 1 when scorers[0] is a fallback, else 0
	budget   time.Duration // 0: no deadline
	decider  Decider
	dname    string
	pool     sync.Pool // *flight
	desks    sync.Pool // *desk
	counters *counters
}

func newEngine(kind string, cfg *config, scorers []serving.Scorer, fb int, budget time.Duration, d Decider) *engine {
	e := &engine{
		cfg:      cfg,
		kind:     kind,
		scorers:  scorers,
		fb:       fb,
		budget:   budget,
		decider:  d,
		dname:    deciderName(d),
		counters: newCounters(len(scorers)),
	}
	n := len(scorers)
	e.pool.New = func() any {
		return &flight{ch: make(chan landing, n), pool: &e.pool}
	}
	e.desks.New = func() any {
		t := time.NewTimer(time.Hour)
		t.Stop()
		return &desk{done: make([]bool, n), timer: t}
	}
	return e
}

// flight is the state one call shares with its candidate goroutines. It
// is pooled: the last of the call and its goroutines to let go of it
// drains the channel and puts it back, so a straggler that outlives the
// call never writes into a flight reused by a later call.
type flight struct {
	ch   chan landing // capacity = number of candidates: sends never block
	refs atomic.Int32
	rec  serving.Record // the caller's record, copied: stragglers may outlive the call
	pool *sync.Pool
}

// desk is the caller's own per-call state, pooled apart from the flight
// so that it is reused at once even while stragglers hold the flight.
type desk struct {
	done  []bool
	round Round
	timer *time.Timer
}

type landing struct {
	i    int
	res  serving.Result
	err  error
	took time.Duration
}

// load copies r into the flight's own buffers.
func (f *flight) load(r serving.Record) { copyRecord(&f.rec, r) }

// copyRecord makes dst a copy of r that reuses dst's buffers: the Key,
// Features and Text are copied, the Layout (immutable, shared by the
// records of one codec) and Time are not. A nil Key or Text stays nil.
func copyRecord(dst *serving.Record, r serving.Record) {
	dst.Features = append(dst.Features[:0], r.Features...)
	if r.Key == nil {
		dst.Key = nil
	} else {
		dst.Key = append(dst.Key[:cap(dst.Key)][:0], r.Key...)
	}
	if r.Text == nil {
		dst.Text = nil
	} else {
		dst.Text = append(dst.Text[:cap(dst.Text)][:0], r.Text...)
	}
	dst.Layout, dst.Time = r.Layout, r.Time
}

func (f *flight) release() {
	if f.refs.Add(-1) != 0 {
		return
	}
	for len(f.ch) > 0 {
		<-f.ch
	}
	f.pool.Put(f)
}

// fly runs candidate i. It always sends exactly one landing, even if the
// scorer panics, and then lets go of the flight.
func (f *flight) fly(ctx context.Context, s serving.Scorer, i int) {
	t0 := time.Now()
	var l landing
	defer func() {
		if p := recover(); p != nil {
			l = landing{err: fmt.Errorf("speculative: candidate %d panicked: %v", i, p)}
		}
		l.i, l.took = i, time.Since(t0)
		f.ch <- l
		f.release()
	}()
	l.res, l.err = s.Score(ctx, f.rec)
}

// testHookOvertime, set only by tests, runs when a Budget's early timer
// has fired and it starts waiting for its fallback until the budget.
var testHookOvertime func()

// stop reasons
const (
	stopDecided = iota // a winner, or a definitive failure, before the end
	stopDeadline
	stopCtx
)

func (e *engine) score(ctx context.Context, r serving.Record) (serving.Result, error) {
	start := time.Now()
	n := len(e.scorers)
	if err := ctx.Err(); err != nil {
		// Done before we start: ask nobody.
		dec, _ := newDecision(n)
		dec.Combinator, dec.Decider, dec.Winner = e.kind, e.dname, -1
		for i := range dec.Candidates {
			dec.Candidates[i] = serving.Candidate{Model: refOf(e.cfg.name, e.scorers[i], i), Status: serving.StatusCancelled}
		}
		e.counters.record(dec, err)
		for _, h := range e.cfg.hooks {
			h.OnDecision(e.cfg.name, dec, time.Since(start))
		}
		return serving.Result{Provenance: serving.Provenance{Decision: dec}}, &DecisionError{Combinator: e.cfg.name, kind: err, decision: dec}
	}
	f := e.pool.Get().(*flight)
	dk := e.desks.Get().(*desk)
	f.load(r)
	f.refs.Store(int32(n + 1))
	cctx, cancel := context.WithCancel(ctx)
	defer cancel() // also if a Decider or hook panics
	for i, s := range e.scorers {
		go f.fly(cctx, s, i)
	}
	dec, preds := newDecision(n)
	dec.Combinator, dec.Decider, dec.Winner = e.kind, e.dname, -1
	clear(dk.done)
	var deadline <-chan time.Time
	var due time.Duration // when the timer is due, since start
	if e.budget > 0 {
		due = e.budget - timerLateness.lead(e.budget)
		dk.timer.Reset(due - time.Since(start))
		deadline = dk.timer.C
	}

	fb := e.fb
	others := dec.Candidates[fb:]
	round := &dk.round // pooled: a Round passed to a Decider escapes
	*round = Round{Candidates: others, Done: dk.done[fb:], Pending: n - fb}
	winner := -1
	var decErr, fbErr error
	gaveUp := len(others) == 0 // the others can no longer produce a winner
	pending := n
	reason := stopDecided
	overtime := false // waiting past the early timer for the fallback
	ctxDone := ctx.Done()

loop:
	for pending > 0 {
		select {
		case m := <-f.ch:
			e.land(dec, preds, m)
			if m.i < fb {
				fbErr = m.err
			}
			dk.done[m.i] = true
			pending--
			if m.i >= fb && !gaveUp {
				round.Pending--
				w, err := e.decide(round)
				switch {
				case w >= 0:
					winner = w + fb
					break loop
				case err != nil:
					decErr, gaveUp = err, true
				case round.Pending == 0:
					gaveUp = true
				}
			}
			if (gaveUp || overtime) && (fb == 0 || dk.done[0]) {
				break loop // nothing left to wait for
			}
		case <-deadline:
			timerLateness.observe(time.Since(start)-due, e.budget)
			reason = stopDeadline
			// Answers already delivered came before this goroutine saw
			// the timer (select picks among ready cases at random): land
			// them, so that an answer in time is not called late.
			for drained := false; !drained && pending > 0; {
				select {
				case m := <-f.ch:
					e.land(dec, preds, m)
					if m.i < fb {
						fbErr = m.err
					}
					dk.done[m.i] = true
					pending--
					if m.i >= fb && !gaveUp {
						round.Pending--
					}
				default:
					drained = true
				}
			}
			if overtime || fb == 0 || dk.done[0] || due >= e.budget {
				break loop
			}
			// The timer fired early, by the learned lead, and the
			// fallback has not answered yet. If the others have no
			// winner, wait for the fallback until the budget itself:
			// the lead must not make a fallback that answers in time
			// late.
			if !gaveUp {
				round.Pending = 0
				w, err := e.decide(round)
				if w >= 0 {
					winner = w + fb
					break loop
				}
				decErr, gaveUp = err, true
			}
			overtime, due = true, e.budget
			dk.timer.Reset(e.budget - time.Since(start))
			if testHookOvertime != nil {
				testHookOvertime()
			}
		case <-ctxDone:
			reason = stopCtx
			break loop
		}
	}
	cancel()
	f.release() // the stragglers may keep the flight; the desk stays ours
	if e.budget > 0 {
		dk.timer.Stop()
	}
	// Name and close the candidates that did not finish.
	now := time.Since(start)
	fallbackLate := false
	for i := range dec.Candidates {
		if dk.done[i] {
			continue
		}
		c := &dec.Candidates[i]
		c.Model = refOf(e.cfg.name, e.scorers[i], i)
		c.Latency = now
		if reason == stopDeadline {
			c.Status = serving.StatusLate
			if i < fb {
				fallbackLate = true
			}
		} else {
			c.Status = serving.StatusCancelled
		}
		dk.done[i] = true
	}
	var err error
	if reason == stopCtx {
		err = &DecisionError{Combinator: e.cfg.name, kind: ctx.Err(), decision: dec}
	} else {
		if winner < 0 && !gaveUp {
			round.Pending = 0
			w, derr := e.decide(round)
			if w >= 0 {
				winner = w + fb
			} else {
				decErr = derr
			}
		}
		if winner < 0 {
			e.counters.noWinner.Add(1)
			err = e.fallback(dec, decErr, fbErr)
			if err == nil {
				winner = 0
			}
		}
	}
	round.Candidates, round.Done = nil, nil
	e.desks.Put(dk)
	if fallbackLate {
		e.counters.fallbackMisses.Add(1)
	}
	dec.Winner = winner
	e.counters.record(dec, err)
	for _, h := range e.cfg.hooks {
		h.OnDecision(e.cfg.name, dec, time.Since(start))
	}
	if err != nil {
		return serving.Result{Provenance: serving.Provenance{Decision: dec}}, err
	}
	w := &dec.Candidates[winner]
	return serving.Result{Prediction: *w.Prediction, Provenance: serving.Provenance{Model: w.Model, Decision: dec}}, nil
}

// fallback settles a call the others could not win: with the fallback's
// answer for a Budget, with an error otherwise.
func (e *engine) fallback(dec *serving.Decision, decErr, fbErr error) error {
	if e.fb == 0 {
		kind := decErr
		if kind == nil {
			kind = ErrNoWinner
		}
		return &DecisionError{Combinator: e.cfg.name, kind: kind, decision: dec}
	}
	c := &dec.Candidates[0]
	switch c.Status {
	case serving.StatusOK:
		return nil
	case serving.StatusError:
		return &DecisionError{Combinator: e.cfg.name, kind: ErrFallbackFailed, cause: fbErr, decision: dec}
	default:
		return &DecisionError{Combinator: e.cfg.name, kind: ErrFallbackLate, decision: dec}
	}
}

// decide asks the decider and checks its answer.
func (e *engine) decide(r *Round) (int, error) {
	w, err := e.decider.Decide(r)
	if err != nil {
		return -1, err
	}
	if w < 0 {
		return -1, nil
	}
	if w >= len(r.Candidates) || !r.ok(w) {
		return -1, fmt.Errorf("%w: %s chose %d", ErrBadDecision, e.dname, w)
	}
	return w, nil
}

// land records one candidate's answer.
func (e *engine) land(dec *serving.Decision, preds []serving.Prediction, m landing) {
	c := &dec.Candidates[m.i]
	c.Latency = m.took
	c.Model = m.res.Provenance.Model
	if c.Model.Name == "" {
		c.Model = refOf(e.cfg.name, e.scorers[m.i], m.i)
	}
	c.Decision = m.res.Provenance.Decision
	if m.err != nil {
		c.Status = serving.StatusError
		c.Error = m.err.Error()
		return
	}
	c.Status = serving.StatusOK
	preds[m.i] = m.res.Prediction
	c.Prediction = &preds[m.i]
}

func (e *engine) stats(roles func(int) string) Stats {
	return e.counters.snapshot(e.cfg.name, e.kind, e.scorers, roles)
}

// Budget is a Scorer that answers within a latency budget: it asks a fast
// fallback model and any number of slower, better models at once, and
// answers with the best answer that arrived in time.
//
// The models' answers are judged as they arrive by a [Decider] (by
// default [First]): as soon as it chooses one of the other models, that
// answer is returned and the models still running are cancelled. When the
// budget runs out, the decider makes a final choice among the other
// models that answered; if it chooses none, the fallback's answer is
// returned. If the fallback is needed but failed or is late, Score
// returns a *[DecisionError] of kind ErrFallbackFailed or
// ErrFallbackLate, along with a Result whose Provenance records the
// Decision.
//
// Score returns within the budget, whatever the models do (the Decider
// and hooks run in the caller's goroutine and must be fast): every model
// runs in its own goroutine, stragglers' contexts are cancelled when
// Score returns, and a model that ignores its context only keeps its own
// goroutine until it returns. Go's timers fire late by the time the
// runtime takes to run the waiting goroutine, so the Budget learns how
// late this process's timers fire (a running estimate of the 99.9th
// percentile, shared by every Budget in the process) and sets its timer
// that much before the budget, up to a quarter of it. The other models
// then have the budget less that lead, and the answer is back by the
// budget unless the process waits for a CPU longer than the lead: on a
// machine whose cores are busy, that is about 1 call in 60, and when
// the process's own goroutines keep every P busy, most calls (see the
// package documentation for measurements). The fallback alone keeps the
// whole budget: when the early timer fires before it has answered, the
// Budget waits for it until the budget itself. The record is copied for
// the models, so they never see the caller's buffers after Score returns.
//
// The Decision has Combinator "budget", the decider's name, and one
// Candidate per model: the fallback first, then the others in the order
// given. A Budget is safe for concurrent use.
type Budget struct {
	e *engine
}

// NewBudget returns a Budget of d over fallback and others. d must be
// positive, and the scorers non-nil; others may be empty, which makes the
// Budget a deadline on the fallback alone. Options: [WithDecider],
// [WithName], [WithHooks].
func NewBudget(d time.Duration, fallback serving.Scorer, others []serving.Scorer, opts ...BudgetOption) (*Budget, error) {
	cfg, err := newConfig(kindBudget, opts, BudgetOption.applyBudget)
	if err != nil {
		return nil, err
	}
	if d <= 0 {
		return nil, configError("budget %v: must be positive", d)
	}
	if isNil(fallback) {
		return nil, configError("budget: nil fallback")
	}
	if err := checkScorers("budget", others); err != nil {
		return nil, err
	}
	if cfg.decider == nil {
		cfg.decider = First()
	}
	if v, ok := cfg.decider.(validator); ok {
		if err := v.validate(); err != nil {
			return nil, err
		}
	}
	scorers := append([]serving.Scorer{fallback}, others...)
	return &Budget{e: newEngine("budget", cfg, scorers, 1, d, cfg.decider)}, nil
}

// Score implements serving.Scorer. See [Budget] for what it does and
// returns. When ctx is done first, Score returns at once with a
// *DecisionError wrapping ctx.Err().
func (b *Budget) Score(ctx context.Context, r serving.Record) (serving.Result, error) {
	return b.e.score(ctx, r)
}

// Ref implements serving.Referrer: the Budget's name (see [WithName]).
func (b *Budget) Ref() serving.ModelRef { return serving.ModelRef{Name: b.e.cfg.name} }

// Stats returns the Budget's counters. Models[0] is the fallback.
func (b *Budget) Stats() Stats {
	return b.e.stats(func(i int) string {
		if i == 0 {
			return "fallback"
		}
		return "model"
	})
}

// Ensemble is a Scorer that asks all its models at once and answers with
// the one a [Decider] chooses, such as [Vote] or [Best]. It waits for the
// decider's choice, for every model, or for ctx, whichever comes first;
// for a latency bound, put it inside a [Budget] or give ctx a deadline.
// Models still running when the choice is made are cancelled.
//
// Without a winner, Score returns a *[DecisionError] of kind ErrNoWinner,
// or the decider's error (ErrNoQuorum for a Vote), with a Result whose
// Provenance records the Decision. The Decision has Combinator
// "ensemble", the decider's name, and one Candidate per model in the
// order given. An Ensemble is safe for concurrent use.
type Ensemble struct {
	e *engine
}

// NewEnsemble returns an Ensemble that asks models and chooses with d.
// There must be at least one model, and none nil. Options: [WithName],
// [WithHooks].
func NewEnsemble(d Decider, models []serving.Scorer, opts ...EnsembleOption) (*Ensemble, error) {
	cfg, err := newConfig(kindEnsemble, opts, EnsembleOption.applyEnsemble)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, configError("ensemble: nil decider")
	}
	if v, ok := d.(validator); ok {
		if err := v.validate(); err != nil {
			return nil, err
		}
	}
	if len(models) == 0 {
		return nil, configError("ensemble: no models")
	}
	if err := checkScorers("ensemble", models); err != nil {
		return nil, err
	}
	scorers := append([]serving.Scorer(nil), models...)
	return &Ensemble{e: newEngine("ensemble", cfg, scorers, 0, 0, d)}, nil
}

// Score implements serving.Scorer. See [Ensemble].
func (en *Ensemble) Score(ctx context.Context, r serving.Record) (serving.Result, error) {
	return en.e.score(ctx, r)
}

// Ref implements serving.Referrer: the Ensemble's name (see [WithName]).
func (en *Ensemble) Ref() serving.ModelRef { return serving.ModelRef{Name: en.e.cfg.name} }

// Stats returns the Ensemble's counters.
func (en *Ensemble) Stats() Stats {
	return en.e.stats(func(int) string { return "model" })
}

// newDecision allocates a Decision with n candidates and the predictions
// they point to in one block for the common small n.
func newDecision(n int) (*serving.Decision, []serving.Prediction) {
	switch {
	case n <= 1:
		b := new(struct {
			d serving.Decision
			c [1]serving.Candidate
			p [1]serving.Prediction
		})
		b.d.Candidates = b.c[:n]
		return &b.d, b.p[:n]
	case n <= 2:
		b := new(struct {
			d serving.Decision
			c [2]serving.Candidate
			p [2]serving.Prediction
		})
		b.d.Candidates = b.c[:n]
		return &b.d, b.p[:n]
	case n <= 3:
		b := new(struct {
			d serving.Decision
			c [3]serving.Candidate
			p [3]serving.Prediction
		})
		b.d.Candidates = b.c[:n]
		return &b.d, b.p[:n]
	case n <= 5:
		b := new(struct {
			d serving.Decision
			c [5]serving.Candidate
			p [5]serving.Prediction
		})
		b.d.Candidates = b.c[:n]
		return &b.d, b.p[:n]
	case n <= 8:
		b := new(struct {
			d serving.Decision
			c [8]serving.Candidate
			p [8]serving.Prediction
		})
		b.d.Candidates = b.c[:n]
		return &b.d, b.p[:n]
	}
	return &serving.Decision{Candidates: make([]serving.Candidate, n)}, make([]serving.Prediction, n)
}
