package canary_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/modelstream/modelstream/governance"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/feedback"
	"github.com/modelstream/modelstream/serving/quality"
	"github.com/modelstream/modelstream/serving/wire"
	"github.com/modelstream/modelstream/speculative"
	"github.com/modelstream/modelstream/speculative/canary"
)

// side simulates one model: its error rate, its latency, and the
// probability that its answer turns out wrong.
type side struct {
	ref     serving.ModelRef
	errRate float64
	latency time.Duration
	wrong   float64
	rng     *rand.Rand
	mu      sync.Mutex
}

func (s *side) Score(ctx context.Context, r serving.Record) (serving.Result, error) {
	s.mu.Lock()
	fail := s.rng.Float64() < s.errRate
	s.mu.Unlock()
	if s.latency > 0 {
		time.Sleep(s.latency)
	}
	if fail {
		return serving.Result{Provenance: serving.Provenance{Model: s.ref}}, errors.New("model failed")
	}
	return serving.Result{Prediction: serving.Prediction{Value: 1}, Provenance: serving.Provenance{Model: s.ref}}, nil
}

func (s *side) Ref() serving.ModelRef { return s.ref }

func newSide(version uint64, errRate, wrong float64, seed uint64) *side {
	return &side{ref: serving.ModelRef{Name: "fraud", Version: version}, errRate: errRate, wrong: wrong, rng: rand.New(rand.NewPCG(seed, 1))}
}

// drive sends n keyed records through c; each answered record's truth
// arrives at once with probability feedback, and c is evaluated every
// `every` records. It stops early when the rollout ends.
func drive(t *testing.T, c *canary.Controller, champ, cand *side, n, every int, feedback float64) canary.Decision {
	t.Helper()
	rng := rand.New(rand.NewPCG(42, 43))
	ctx := context.Background()
	var last canary.Decision
	for i := range n {
		res, err := c.Score(ctx, serving.Record{Key: []byte("user-" + strconv.Itoa(i))})
		if err == nil && rng.Float64() < feedback {
			s := champ
			if res.Provenance.Decision.Variant == canary.Candidate {
				s = cand
			}
			loss := 0.0
			if rng.Float64() < s.wrong {
				loss = 1
			}
			if err := c.Outcome(res.Provenance.Decision.Variant, loss); err != nil {
				t.Fatal(err)
			}
		}
		if (i+1)%every == 0 {
			last = c.Evaluate(ctx)
			if last.Action == canary.Promote || last.Action == canary.Rollback {
				return last
			}
		}
	}
	return last
}

type recorder struct {
	mu     sync.Mutex
	events []governance.Event
	hooked []canary.Decision
}

func (r *recorder) WriteAudit(_ context.Context, e governance.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

func (r *recorder) OnRollout(d canary.Decision) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hooked = append(r.hooked, d)
}

func newController(t *testing.T, champ, cand *side, opts ...canary.Option) (*canary.Controller, *recorder) {
	t.Helper()
	rec := &recorder{}
	audit, err := governance.NewAudit(governance.AuditTo(rec), governance.AuditLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := canary.New(champ, cand, append([]canary.Option{canary.Audit(audit), canary.Hooks(rec), canary.Seed(1), canary.MinCalls(300), canary.MinOutcomes(150)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

func TestGoodCandidatePromoted(t *testing.T) {
	champ, cand := newSide(1, 0.01, 0.10, 1), newSide(2, 0.01, 0.08, 2)
	var done []canary.Decision
	c, rec := newController(t, champ, cand, canary.OnDone(func(_ context.Context, d canary.Decision) { done = append(done, d) }))
	d := drive(t, c, champ, cand, 400000, 500, 0.5)
	if d.Action != canary.Promote {
		t.Fatalf("not promoted: %+v", d)
	}
	st := c.Status()
	if !st.Done || st.Outcome != canary.Promote || st.Share != 1 || st.Candidate.Version != 2 || st.Champion.Version != 1 || len(done) != 1 {
		t.Errorf("status %+v, OnDone %d", st, len(done))
	}
	// Every step was taken in order, and each is in the audit trail with
	// its evidence.
	var shares []float64
	for _, e := range rec.events {
		if e.Kind != governance.KindRollout || e.Source != "canary" || e.Model.Version != 2 || e.Previous.Version != 1 {
			t.Fatalf("audit event %+v", e)
		}
		var dd canary.Decision
		if err := json.Unmarshal(e.Detail, &dd); err != nil {
			t.Fatal(err)
		}
		if dd.Action == canary.Advance {
			shares = append(shares, dd.Share)
			if len(dd.Guardrails) != 3 {
				t.Errorf("advance without evidence: %+v", dd)
			}
			for _, g := range dd.Guardrails {
				if g.Verdict == "breach" || g.Verdict == "no data" || (dd.Share == 1 && g.Verdict != "ok") {
					t.Errorf("advanced to %v with guardrail %+v", dd.Share, g)
				}
			}
		}
	}
	if want := []float64{0.05, 0.25, 1}; len(shares) != 3 || shares[0] != want[0] || shares[1] != want[1] || shares[2] != want[2] {
		t.Errorf("advanced through %v, want %v", shares, want)
	}
	if last := rec.events[len(rec.events)-1]; last.Reason != string(canary.Promote) {
		t.Errorf("last audit event %+v", last)
	}
	if len(rec.hooked) == 0 || rec.hooked[len(rec.hooked)-1].Action != canary.Promote {
		t.Errorf("hooks saw %d decisions", len(rec.hooked))
	}
	// After the end, Evaluate returns the final decision again.
	if again := c.Evaluate(context.Background()); again.Action != canary.Promote {
		t.Errorf("after promotion: %+v", again)
	}
}

func TestBadCandidateRolledBackEarly(t *testing.T) {
	cases := map[string]*side{
		"errors":  newSide(2, 0.08, 0.10, 2),
		"quality": newSide(2, 0.01, 0.30, 2),
	}
	for name, cand := range cases {
		t.Run(name, func(t *testing.T) {
			champ := newSide(1, 0.01, 0.10, 1)
			c, rec := newController(t, champ, cand)
			d := drive(t, c, champ, cand, 400000, 500, 0.5)
			if d.Action != canary.Rollback {
				t.Fatalf("not rolled back: %+v", d)
			}
			if d.Seen >= 0.05 {
				t.Errorf("the candidate saw %.2f%% of the traffic before the rollback", 100*d.Seen)
			}
			var breached string
			for _, g := range d.Guardrails {
				if g.Verdict == "breach" {
					breached = g.Name
				}
			}
			if breached != name {
				t.Errorf("breached %q, want %q: %+v", breached, name, d.Guardrails)
			}
			// No more traffic reaches the candidate.
			for i := range 1000 {
				res, _ := c.Score(context.Background(), serving.Record{Key: []byte(strconv.Itoa(i))})
				if res.Provenance.Decision.Variant != canary.Champion {
					t.Fatal("candidate still gets traffic after the rollback")
				}
			}
			if st := c.Status(); st.Share != 0 || st.Outcome != canary.Rollback || rec.events[len(rec.events)-1].Reason != "rollback" {
				t.Errorf("status %+v", st)
			}
		})
	}
}

func TestSlowCandidateRolledBack(t *testing.T) {
	champ, cand := newSide(1, 0, 0.1, 1), newSide(2, 0, 0.1, 2)
	cand.latency = 2 * time.Millisecond
	c, _ := newController(t, champ, cand, canary.LatencyBound(time.Millisecond), canary.Steps(0.2, 1), canary.MinCalls(50))
	d := drive(t, c, champ, cand, 5000, 100, 1)
	if d.Action != canary.Rollback || d.P99[0] < time.Millisecond {
		t.Fatalf("slow candidate: %+v", d)
	}
}

// Without any outcome (the feedback topic is gone or far behind), the
// quality guardrail cannot be computed: the rollout holds its first step
// however good the candidate's calls look, and records why once.
func TestNoFeedbackHolds(t *testing.T) {
	champ, cand := newSide(1, 0.01, 0.1, 1), newSide(2, 0.01, 0.1, 2)
	c, rec := newController(t, champ, cand)
	d := drive(t, c, champ, cand, 100000, 500, 0)
	if d.Action != canary.Hold || d.Step != 0 {
		t.Fatalf("without feedback: %+v", d)
	}
	st := c.Status()
	if st.Step != 0 || st.Done || len(st.Decisions) != 3 { // started, waiting for calls, then quality without data
		t.Errorf("status %+v", st)
	}
	if q := d.Guardrails[2]; q.Name != "quality" || q.Verdict != "no data" {
		t.Errorf("quality guardrail %+v", q)
	}
	// Each guardrail carries the margin it is judged against: here the
	// defaults. No test read Margin before.
	for i, want := range []struct {
		name   string
		margin float64
	}{{"errors", 0.005}, {"latency", 0.01}, {"quality", 0.01}} {
		if g := d.Guardrails[i]; g.Name != want.name || g.Margin != want.margin {
			t.Errorf("guardrail %d: %s margin %v, want %s margin %v", i, g.Name, g.Margin, want.name, want.margin)
		}
	}
	if len(rec.events) != len(st.Decisions) {
		t.Errorf("%d audit events for %d decisions", len(rec.events), len(st.Decisions))
	}
	// Too little feedback holds as well: with outcomes for 0.1% of the
	// records, the candidate's side never reaches the minimum.
	c2, _ := newController(t, champ, cand)
	if d := drive(t, c2, champ, cand, 50000, 500, 0.001); d.Action != canary.Hold || d.Step != 0 {
		t.Errorf("with scarce feedback: %+v", d)
	}
}

func TestBadOutcomesRefused(t *testing.T) {
	champ, cand := newSide(1, 0, 0.1, 1), newSide(2, 0, 0.1, 2)
	c, _ := newController(t, champ, cand)
	for _, o := range []struct {
		v    string
		loss float64
	}{{canary.Candidate, math.NaN()}, {canary.Champion, math.Inf(1)}, {"other", 0}, {"", 1}} {
		if err := c.Outcome(o.v, o.loss); !errors.Is(err, serving.ErrOutcome) {
			t.Errorf("Outcome(%q, %v): %v", o.v, o.loss, err)
		}
	}
	if st := c.Status(); st.RefusedOutcomes != 4 {
		t.Errorf("refused %d", st.RefusedOutcomes)
	}
	if d := c.Evaluate(context.Background()); d.Guardrails[2].N != [2]uint64{0, 0} || d.Action != canary.Hold {
		t.Errorf("refused outcomes counted as evidence: %+v", d)
	}
}

func TestNewValidates(t *testing.T) {
	s := newSide(1, 0, 0, 1)
	for name, opts := range map[string][]canary.Option{
		"nil option":        {nil},
		"empty steps":       {canary.Steps()},
		"steps not to 1":    {canary.Steps(0.1, 0.5)},
		"steps decreasing":  {canary.Steps(0.5, 0.1, 1)},
		"zero step":         {canary.Steps(0, 1)},
		"single step":       {canary.Steps(1)}, // the champion gets no traffic: it held forever
		"alpha 0":           {canary.Alpha(0)},
		"alpha 1":           {canary.Alpha(1)},
		"negative margin":   {canary.ErrorMargin(-0.1)},
		"NaN margin":        {canary.QualityMargin(math.NaN())},
		"infinite margin":   {canary.LatencyMargin(math.Inf(1))},
		"zero interval":     {canary.Interval(0)},
		"zero bound":        {canary.LatencyBound(0)},
		"zero min calls":    {canary.MinCalls(0)},
		"zero min outcomes": {canary.MinOutcomes(0)},
		"nil audit":         {canary.Audit(nil)},
		"nil hook":          {canary.Hooks(nil)},
		"nil clock":         {canary.Clock(nil)},
		"nil OnDone":        {canary.OnDone(nil)},
		"empty name":        {canary.Name("")},
	} {
		if _, err := canary.New(s, s, opts...); !errors.Is(err, serving.ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := canary.New(nil, s); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("nil champion: %v", err)
	}
}

func TestRunStopsAtTheEnd(t *testing.T) {
	champ, cand := newSide(1, 0.5, 0.1, 1), newSide(2, 1, 0.1, 2) // the candidate always fails
	c, _ := newController(t, champ, cand, canary.Interval(time.Millisecond), canary.Steps(0.5, 1), canary.MinCalls(20))
	for i := range 400 {
		c.Score(context.Background(), serving.Record{Key: []byte(strconv.Itoa(i))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if d := c.Run(ctx); d.Action != canary.Rollback {
		t.Errorf("Run returned %+v", d)
	}
}

// A finite loss so large that its square overflows must not turn the
// quality guardrail into NaN: NaN bounds never breach (the rollback is
// missed) and a Decision holding NaN cannot be written to the audit trail.
func TestHugeLossKeepsEvidenceFinite(t *testing.T) {
	champ, cand := newSide(1, 0, 0.1, 1), newSide(2, 0, 0.1, 2)
	c, rec := newController(t, champ, cand)
	for i := range 200 {
		loss := 0.0
		if i%10 == 0 {
			loss = 1
		}
		for _, v := range []string{canary.Champion, canary.Candidate} {
			if err := c.Outcome(v, loss); err != nil {
				t.Fatal(err)
			}
		}
	}
	err := c.Outcome(canary.Candidate, 1e200)
	if err != nil && !errors.Is(err, serving.ErrOutcome) {
		t.Fatalf("Outcome(1e200): %v", err)
	}
	if err := c.Outcome(canary.Candidate, 0); err != nil {
		t.Fatal(err)
	}
	d := c.Evaluate(context.Background())
	q := d.Guardrails[2]
	for _, x := range []float64{q.Candidate, q.Low, q.High} {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			t.Fatalf("quality guardrail not finite: %+v", q)
		}
	}
	if _, err := json.Marshal(d); err != nil {
		t.Fatalf("decision cannot be encoded: %v", err)
	}
	for _, e := range rec.events {
		if len(e.Detail) == 0 {
			t.Errorf("audit event without evidence: %+v", e)
		}
	}
}

// panicky panics on a share of its calls, as a model with a bug on some
// inputs does.
type panicky struct {
	*side
	share float64
}

func (p panicky) Score(ctx context.Context, r serving.Record) (serving.Result, error) {
	p.mu.Lock()
	boom := p.rng.Float64() < p.share
	p.mu.Unlock()
	if boom {
		panic("index out of range")
	}
	return p.side.Score(ctx, r)
}

// A candidate that panics on some records is rolled back for its errors.
// The Kafka Source recovers a scorer's panic and dead-letters the record
// (as scoreRecovered does here), but the panic unwound through the Split
// before its hook ran, so the rollout never heard of those calls: it saw
// only the candidate's good answers and promoted it.
func TestPanickingCandidateRolledBack(t *testing.T) {
	champ := newSide(1, 0.01, 0.10, 1)
	cand := panicky{side: newSide(2, 0.01, 0.10, 2), share: 0.3}
	c, err := canary.New(champ, cand, canary.Steps(0.01, 0.05, 0.25, 1), canary.MinCalls(200), canary.MinOutcomes(200),
		canary.Seed(7), canary.Clock(func() time.Time { return time.Unix(0, 0) }))
	if err != nil {
		t.Fatal(err)
	}
	scoreRecovered := func(r serving.Record) (res serving.Result, err error) {
		defer func() {
			if p := recover(); p != nil {
				err = errors.New("recovered a panic")
			}
		}()
		return c.Score(context.Background(), r)
	}
	rng := rand.New(rand.NewPCG(42, 43))
	var d canary.Decision
	for i := range 400000 {
		res, err := scoreRecovered(serving.Record{Key: []byte("user-" + strconv.Itoa(i))})
		if err == nil && rng.Float64() < 0.5 {
			if err := c.Outcome(res.Provenance.Decision.Variant, 0); err != nil {
				t.Fatal(err)
			}
		}
		if (i+1)%500 == 0 {
			if d = c.Evaluate(context.Background()); d.Action == canary.Promote || d.Action == canary.Rollback {
				break
			}
		}
	}
	if d.Action != canary.Rollback {
		t.Fatalf("a candidate that panics on 30%% of its calls ended with %s: %s", d.Action, d.Reason)
	}
	for _, g := range d.Guardrails {
		if g.Name == "errors" && g.Verdict != "breach" {
			t.Errorf("errors guardrail %+v, want a breach", g)
		}
	}
}

// A rollout nested in another combinator (a Budget with a fast fallback
// over the canary, say) still hears the truth about its answers: the
// variant is found in the winning candidate's nested Decision. The
// outermost Decision is the Budget's, without a variant, so
// feedback.Match.Variant returned "" and every Outcome was refused: the
// rollout held its first step for ever.
func TestNestedRolloutGetsOutcomes(t *testing.T) {
	champ, cand := newSide(1, 0, 0, 1), newSide(2, 0, 0, 2)
	c, err := canary.New(champ, cand, canary.Steps(0.5, 1), canary.Seed(3))
	if err != nil {
		t.Fatal(err)
	}
	fallback := serving.ScorerFunc(func(ctx context.Context, _ serving.Record) (serving.Result, error) {
		<-ctx.Done() // answers only when nothing better did
		return serving.Result{}, ctx.Err()
	})
	b, err := speculative.NewBudget(time.Second, fallback, []serving.Scorer{c})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for i := range 50 {
		res, err := b.Score(context.Background(), serving.Record{Key: []byte(strconv.Itoa(i))})
		if err != nil {
			t.Fatal(err)
		}
		m := feedback.Match{Score: wire.Score{Provenance: res.Provenance}}
		v := m.Variant()
		seen[v]++
		if err := c.Outcome(v, 0); err != nil {
			t.Fatalf("record %d: the outcome of the nested rollout's answer was refused: %v", i, err)
		}
		if k := quality.KeyOf(res.Provenance); k.Variant != v {
			t.Errorf("quality.KeyOf gives variant %q, Match.Variant %q", k.Variant, v)
		}
	}
	if seen[canary.Champion] == 0 || seen[canary.Candidate] == 0 {
		t.Errorf("variants seen %v, want both sides", seen)
	}
}

// TestRunTakesNoDecisionOnceStopped: cancelling Run's context stops the
// rollout loop; it takes no decision then. Run evaluated once more as it
// stopped, so a program shutting down rolled back (or promoted) a
// rollout, and called OnDone with the cancelled context, through which
// its registry write (Registry checks ctx first) could only fail; and
// OnDone is never called again for that rollout.
func TestRunTakesNoDecisionOnceStopped(t *testing.T) {
	champ, cand := newSide(1, 0.5, 0.1, 1), newSide(2, 1, 0.1, 2) // the candidate always fails
	var onDone []error
	c, _ := newController(t, champ, cand, canary.Interval(time.Hour), canary.Steps(0.5, 1), canary.MinCalls(20),
		canary.OnDone(func(ctx context.Context, _ canary.Decision) { onDone = append(onDone, ctx.Err()) }))
	for i := range 400 {
		c.Score(context.Background(), serving.Record{Key: []byte(strconv.Itoa(i))})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d := c.Run(ctx)
	if st := c.Status(); st.Done || len(onDone) != 0 || d.Action != canary.Hold {
		t.Fatalf("stopped Run returned %s (%s); Done %v, OnDone called with %v; want the hold it started with, no OnDone",
			d.Action, d.Reason, st.Done, onDone)
	}
	// The evidence is still there for the next evaluation.
	if d := c.Evaluate(context.Background()); d.Action != canary.Rollback || len(onDone) != 1 || onDone[0] != nil {
		t.Fatalf("Evaluate after Run = %s; OnDone called with %v; want a rollback, OnDone once with a live context", d.Action, onDone)
	}
}
