package canary

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelstream/modelstream/governance"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/speculative"
)

// The variant names of a rollout, as they appear in the scores'
// serving.Decision.Variant and as Outcome expects them.
const (
	Champion  = "champion"
	Candidate = "candidate"
)

// Action is what an evaluation decided.
type Action string

// The actions.
const (
	// Hold keeps the current step: the evidence shows no breach, and not
	// yet enough to go on.
	Hold Action = "hold"
	// Advance moves the candidate to the next step's share.
	Advance Action = "advance"
	// Promote ends the rollout: the candidate held at the last step.
	Promote Action = "promote"
	// Rollback ends the rollout: a guardrail was breached, and the
	// candidate gets no more traffic.
	Rollback Action = "rollback"
)

// Guardrail is the evidence about one guardrail at one evaluation. The
// metric is a "lower is better" quantity: the error rate, the share of
// calls slower than the latency bound, or the mean loss of the
// outcomes. The candidate is non-inferior when Candidate - Champion is
// shown to be at most Margin.
type Guardrail struct {
	// Name is "errors", "latency" or "quality".
	Name string `json:"name"`
	// Candidate and Champion are the metric's values, and N their counts
	// (candidate, champion), over the steps where both sides have data.
	// Each value is the mean of the side's per-step values, weighted as
	// the comparison weighs the steps (see the package documentation,
	// "Matched windows"), so that the difference judged is Candidate -
	// Champion.
	Candidate float64   `json:"candidate"`
	Champion  float64   `json:"champion"`
	N         [2]uint64 `json:"n"`
	// Margin is the guardrail's non-inferiority margin.
	Margin float64 `json:"margin"`
	// Low and High bound the difference with a confidence sequence: they
	// hold at every evaluation at once with probability 1-Alpha. When
	// every outcome on both sides had the same loss, the data measure no
	// spread: Low and High are then both the difference, and the verdict
	// is "inconclusive".
	Low  float64 `json:"low"`
	High float64 `json:"high"`
	// Verdict is "ok" (High <= Margin), "breach" (Low > Margin),
	// "inconclusive", or "no data" (fewer than the minimum count on a
	// side).
	Verdict string `json:"verdict"`
}

// Decision is the result of one evaluation: what was decided, why, on
// what evidence.
type Decision struct {
	// Rollout is the Controller's name.
	Rollout string `json:"rollout"`
	// Time is when the evaluation ran.
	Time time.Time `json:"time"`
	// Action is what was decided, and Reason why, in words.
	Action Action `json:"action"`
	Reason string `json:"reason"`
	// Step is the step index after the decision, and Share the
	// candidate's share of traffic from now on.
	Step  int     `json:"step"`
	Share float64 `json:"share"`
	// Seen is the share of all calls so far that the candidate answered.
	Seen float64 `json:"seen"`
	// P99 is each side's 99th percentile latency so far: candidate,
	// champion.
	P99 [2]time.Duration `json:"p99_ns"`
	// Guardrails holds the evidence for each guardrail.
	Guardrails []Guardrail `json:"guardrails"`
}

// HookRollout is implemented by hooks that want every Decision of a
// Controller, such as a metrics exporter. It is called synchronously
// after each evaluation, outside the Controller's lock.
type HookRollout interface {
	OnRollout(d Decision)
}

// Status is a snapshot of a Controller, for an operator's page.
type Status struct {
	// Name is the Controller's name.
	Name string `json:"name"`
	// Champion and Candidate name the two sides, as given.
	Champion  serving.ModelRef `json:"champion"`
	Candidate serving.ModelRef `json:"candidate"`
	// Steps are the candidate's shares, Step the index of the current
	// one, Share the candidate's share now.
	Steps []float64 `json:"steps"`
	Step  int       `json:"step"`
	Share float64   `json:"share"`
	// Done is true once the rollout was promoted or rolled back; Outcome
	// is then Promote or Rollback.
	Done    bool   `json:"done"`
	Outcome Action `json:"outcome,omitempty"`
	// RefusedOutcomes counts outcomes refused with serving.ErrOutcome.
	RefusedOutcomes uint64 `json:"refused_outcomes"`
	// Decisions are the most recent decisions, oldest first (at most
	// 256), each a step, a rollback, a promotion or a change of the
	// reason for holding.
	Decisions []Decision `json:"decisions"`
}

// Controller ramps a candidate model up against a champion in steps, for
// as long as the guardrails hold, and rolls it back when one breaks.
//
// It is a serving.Scorer: it routes each record to the champion or the
// candidate through a speculative.Split (sticky by key) whose candidate
// weight is the current step's share, and records each call's latency
// and error as evidence. The truth about answers arrives later, through
// [Controller.Outcome], as a loss per outcome. [Controller.Evaluate]
// weighs the evidence and acts; [Controller.Run] calls it periodically.
// See the package documentation for the test behind each decision.
//
// A Controller is safe for concurrent use.
type Controller struct {
	cfg      config
	split    *speculative.Split
	champRef serving.ModelRef
	candRef  serving.ModelRef
	// windows holds the evidence per step, candidate then champion; the
	// last step (all traffic to the candidate) shares the window of the
	// step before it. window is the index of the current one.
	windows   [][2]arm
	window    atomic.Int64
	stepCalls atomic.Uint64 // the candidate's calls at the current step
	refused   uint64
	refusedMu sync.Mutex

	mu      sync.Mutex // guards what follows
	step    int
	done    bool
	outcome Action
	lastKey string // what the last recorded hold waited for
	history []Decision
}

// maxHistory bounds the decisions a Controller keeps.
const maxHistory = 256

// maxLoss bounds the magnitude of an accepted loss: squares of
// differences of such losses, summed over 2^64 outcomes, stay finite.
const maxLoss = 1e100

// New returns a Controller that starts a rollout of candidate against
// champion at the first step. Both must be non-nil; they are named in
// the Status by serving.Referrer when they implement it. See [Option] for
// the settings and their defaults.
func New(champion, candidate serving.Scorer, opts ...Option) (*Controller, error) {
	cfg := defaults()
	for _, o := range opts {
		if o == nil {
			return nil, configError("nil option")
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if champion == nil || candidate == nil {
		return nil, configError("nil scorer")
	}
	c := &Controller{cfg: cfg, champRef: refOf(champion, Champion), candRef: refOf(candidate, Candidate),
		windows: make([][2]arm, len(cfg.steps)-1)}
	split, err := speculative.NewSplit([]speculative.Variant{
		{Name: Champion, Scorer: champion, Weight: 1 - cfg.steps[0]},
		{Name: Candidate, Scorer: candidate, Weight: cfg.steps[0]},
	}, speculative.WithName(cfg.name), speculative.WithSeed(cfg.seed))
	if err != nil {
		return nil, err
	}
	c.split = split
	start := Decision{Rollout: cfg.name, Time: cfg.now(), Action: Hold, Reason: "rollout started", Share: cfg.steps[0]}
	c.remember(start)
	c.audit(context.Background(), start)
	return c, nil
}

func refOf(s serving.Scorer, fallback string) serving.ModelRef {
	if r, ok := s.(serving.Referrer); ok {
		return r.Ref()
	}
	return serving.ModelRef{Name: fallback}
}

// Score implements serving.Scorer: it scores r with the champion or the
// candidate, as the current step shares them. The Result's Decision is
// the Split's, naming the side in Variant ("champion" or "candidate").
//
// Each call is evidence for its side, except one that failed after the
// caller cancelled ctx (context.Canceled): the caller gave up, which
// says nothing of the model, so that call is not counted unless it had
// already run longer than the latency bound, when it counts as a slow
// call but not as an error. A call that failed because ctx's deadline
// passed counts as an error: the side did not answer in time.
func (c *Controller) Score(ctx context.Context, r serving.Record) (serving.Result, error) {
	res, err := c.split.Score(ctx, r)
	if d := res.Provenance.Decision; d != nil {
		c.record(ctx, d, err)
	}
	return res, err
}

// record adds the call d describes to its side's evidence.
func (c *Controller) record(ctx context.Context, d *serving.Decision, err error) {
	side, i := 1, 0 // the Split's variants: champion, candidate
	if d.Variant == Candidate {
		side, i = 0, 1
	}
	if i >= len(d.Candidates) {
		return
	}
	took := d.Candidates[i].Latency
	failed := err != nil
	if failed && errors.Is(ctx.Err(), context.Canceled) {
		if took <= c.cfg.latencyBound {
			return
		}
		failed = false
	}
	c.windows[c.window.Load()][side].call(took, failed, c.cfg.latencyBound)
	if side == 0 {
		c.stepCalls.Add(1)
	}
}

// Ref implements serving.Referrer with the Controller's name.
func (c *Controller) Ref() serving.ModelRef { return serving.ModelRef{Name: c.cfg.name} }

// Outcome records the loss of one answer whose truth became known: for
// example 0 for a right answer and 1 for a wrong one, the log-loss, or
// the absolute error. Lower is better, as for every guardrail. variant
// is Champion or Candidate, as the score's serving.Decision.Variant
// named it. The loss counts in the window of the step at which it
// arrives (see the package documentation, "Matched windows").
// A loss that is not finite or whose magnitude exceeds 1e100 (so large
// that the running variance would overflow to infinity and the guardrail
// become NaN), or another variant, is refused with an error wrapping
// [serving.ErrOutcome] and counted; it changes no evidence.
func (c *Controller) Outcome(variant string, loss float64) error {
	side := -1
	switch variant {
	case Candidate:
		side = 0
	case Champion:
		side = 1
	}
	if side < 0 || !(math.Abs(loss) <= maxLoss) {
		c.refusedMu.Lock()
		c.refused++
		c.refusedMu.Unlock()
		return fmt.Errorf("%w: canary: loss %v for variant %q", serving.ErrOutcome, loss, variant)
	}
	c.windows[c.window.Load()][side].outcome(loss)
	return nil
}

// Evaluate weighs the evidence so far and acts on it. It rolls back on a
// breach of any guardrail. It advances when the candidate answered at
// least MinCalls calls at this step and every guardrail has enough data
// and none is breached; before the step that gives the candidate all the
// traffic, every guardrail must moreover be shown to hold. At the last
// step it promotes after MinCalls more calls without a breach. It holds
// otherwise. It returns the
// Decision; after the rollout is done it returns the final one again.
func (c *Controller) Evaluate(ctx context.Context) Decision {
	c.mu.Lock()
	if c.done {
		d := c.history[len(c.history)-1]
		c.mu.Unlock()
		return d
	}
	d, key := c.weigh()
	switch d.Action {
	case Rollback:
		c.done, c.outcome = true, Rollback
		d.Share = 0
		c.setShare(0)
	case Promote:
		c.done, c.outcome = true, Promote
		d.Share = 1
	case Advance:
		c.step++
		d.Step, d.Share = c.step, c.cfg.steps[c.step]
		c.window.Store(int64(min(c.step, len(c.windows)-1)))
		c.setShare(d.Share)
		c.stepCalls.Store(0)
	}
	record := d.Action != Hold || key != c.lastKey
	c.lastKey = key
	if record {
		c.remember(d)
	}
	c.mu.Unlock()
	if record {
		c.audit(ctx, d)
	}
	for _, h := range c.cfg.hooks {
		h.OnRollout(d)
	}
	if fn := c.cfg.onDone; fn != nil && (d.Action == Promote || d.Action == Rollback) {
		fn(ctx, d)
	}
	return d
}

func (c *Controller) setShare(s float64) {
	// The weights are valid by construction: shares are in (0, 1].
	if s >= 1 {
		_ = c.split.SetWeights(0, 1)
		return
	}
	_ = c.split.SetWeights(1-s, s)
}

// remember appends d to the bounded history; c.mu is held.
func (c *Controller) remember(d Decision) {
	c.history = append(c.history, d)
	if len(c.history) > maxHistory {
		c.history = slices.Delete(c.history, 0, len(c.history)-maxHistory)
	}
}

// weigh computes the decision, and for a hold a key of what it waits
// for (so that a hold for the same reasons is recorded once); c.mu is
// held.
func (c *Controller) weigh() (Decision, string) {
	n := len(c.windows)
	cands, champs := make([]*arm, n), make([]*arm, n)
	errs, slow, arms := make([][2]sample, n), make([][2]sample, n), make([][2]*arm, n)
	var nCand, nChamp uint64
	for i := range c.windows {
		cand, champ := &c.windows[i][0], &c.windows[i][1]
		cands[i], champs[i], arms[i] = cand, champ, [2]*arm{cand, champ}
		nc, nh := cand.calls.Load(), champ.calls.Load()
		nCand, nChamp = nCand+nc, nChamp+nh
		errs[i] = [2]sample{rate(cand.errors.Load(), nc), rate(champ.errors.Load(), nh)}
		slow[i] = [2]sample{rate(cand.slow.Load(), nc), rate(champ.slow.Load(), nh)}
	}
	d := Decision{Rollout: c.cfg.name, Time: c.cfg.now(), Step: c.step, Share: c.cfg.steps[c.step], P99: [2]time.Duration{p99(cands...), p99(champs...)}}
	if total := nCand + nChamp; total > 0 {
		d.Seen = float64(nCand) / float64(total)
	}
	d.Guardrails = []Guardrail{
		c.guard("errors", errs, c.cfg.errorMargin, c.cfg.minCalls),
		c.guard("latency", slow, c.cfg.latencyMargin, c.cfg.minCalls),
		c.guard("quality", qualityPairs(arms), c.cfg.qualityMargin, c.cfg.minOutcomes),
	}
	// To leave a step below the last, every guardrail must be computable
	// and none breached; to give the candidate all the traffic, every
	// guardrail must be shown to hold (verdict ok), while both sides
	// still get traffic to compare.
	final := c.cfg.steps[min(c.step+1, len(c.cfg.steps)-1)] == 1
	var breached, waiting []string
	var key strings.Builder
	for _, g := range d.Guardrails {
		switch {
		case g.Verdict == "breach":
			breached = append(breached, fmt.Sprintf("%s worse by %.4g (at least %.4g > margin %.4g)", g.Name, g.Candidate-g.Champion, g.Low, g.Margin))
		case g.Verdict == "no data":
			key.WriteString(g.Name + " no data;")
			waiting = append(waiting, fmt.Sprintf("%s: too little data (%d candidate, %d champion)", g.Name, g.N[0], g.N[1]))
		case g.Verdict == "inconclusive" && final && g.Low == g.High:
			key.WriteString(g.Name + " no spread;")
			waiting = append(waiting, fmt.Sprintf("%s: every outcome so far has the same loss (%.4g); no spread to show a difference within margin by", g.Name, g.Candidate))
		case g.Verdict == "inconclusive" && final:
			key.WriteString(g.Name + " inconclusive;")
			waiting = append(waiting, fmt.Sprintf("%s: not yet shown within margin (difference at most %.4g > %.4g)", g.Name, g.High, g.Margin))
		}
	}
	switch {
	case len(breached) > 0:
		d.Action, d.Reason = Rollback, "guardrail breached: "+strings.Join(breached, "; ")
	case len(waiting) > 0:
		d.Action, d.Reason = Hold, strings.Join(waiting, "; ")
	case c.stepCalls.Load() < c.cfg.minCalls:
		key.WriteString("calls")
		d.Action, d.Reason = Hold, fmt.Sprintf("guardrails hold; %d calls at this step, waiting for %d", c.stepCalls.Load(), c.cfg.minCalls)
	case c.step == len(c.cfg.steps)-1:
		d.Action, d.Reason = Promote, "guardrails hold at the last step"
	default:
		d.Action, d.Reason = Advance, fmt.Sprintf("guardrails hold; %g%% to %g%%", 100*c.cfg.steps[c.step], 100*c.cfg.steps[c.step+1])
	}
	return d, key.String()
}

func (c *Controller) guard(name string, windows [][2]sample, margin float64, minN uint64) Guardrail {
	m := matched(windows, c.cfg.alpha)
	g := Guardrail{Name: name, Candidate: m.cand, Champion: m.champ, N: m.n, Margin: margin}
	if m.n[0] < minN || m.n[1] < minN || m.n[0] == 0 || m.n[1] == 0 {
		g.Verdict = "no data"
		return g
	}
	g.Low, g.High = m.low, m.high
	shown := m.shown
	switch {
	case !shown:
		g.Verdict = "inconclusive"
	case g.Low > margin:
		g.Verdict = "breach"
	case g.High <= margin:
		g.Verdict = "ok"
	default:
		g.Verdict = "inconclusive"
	}
	return g
}

// audit records d in the audit trail, if there is one.
func (c *Controller) audit(ctx context.Context, d Decision) {
	if c.cfg.audit == nil {
		return
	}
	detail, _ := json.Marshal(d) // plain data: cannot fail
	prev := c.champRef
	c.cfg.audit.Record(ctx, governance.Event{
		Kind:     governance.KindRollout,
		Model:    c.candRef,
		Previous: &prev,
		Reason:   string(d.Action),
		Detail:   detail,
		Source:   "canary",
		Time:     d.Time,
	})
}

// Run evaluates every Interval until ctx is done or the rollout ends,
// and returns the last Decision: the one that ended the rollout, or, when
// ctx is done first, the last one evaluated (before the first tick, the
// last one recorded). Once ctx is done Run decides nothing more, so a
// program that stops never promotes or rolls back on its way out, nor
// calls OnDone with a context already cancelled.
func (c *Controller) Run(ctx context.Context) Decision {
	t := time.NewTicker(c.cfg.interval)
	defer t.Stop()
	c.mu.Lock()
	last := c.history[len(c.history)-1]
	c.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return last
		case <-t.C:
			if ctx.Err() != nil { // both ready: select picks at random
				return last
			}
			if last = c.Evaluate(ctx); last.Action == Promote || last.Action == Rollback {
				return last
			}
		}
	}
}

// Status returns a snapshot of the rollout.
func (c *Controller) Status() Status {
	c.refusedMu.Lock()
	refused := c.refused
	c.refusedMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Status{
		Name: c.cfg.name, Champion: c.champRef, Candidate: c.candRef,
		Steps: slices.Clone(c.cfg.steps), Step: c.step, Share: c.cfg.steps[c.step],
		Done: c.done, Outcome: c.outcome, RefusedOutcomes: refused,
		Decisions: slices.Clone(c.history),
	}
	switch c.outcome {
	case Rollback:
		s.Share = 0
	case Promote:
		s.Share = 1
	}
	return s
}
