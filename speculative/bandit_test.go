package speculative_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/speculative"
)

func isConfigErr(err error) bool {
	return errors.Is(err, serving.ErrConfig)
}

func TestBanditConfig(t *testing.T) {
	vs := arms(2)
	cases := map[string]func() error{
		"zero policy":  func() error { _, err := speculative.NewBandit(speculative.Policy{}, vs); return err },
		"exp3 gamma 0": func() error { _, err := speculative.NewBandit(speculative.Exp3(0), vs); return err },
		"exp3 gamma 2": func() error { _, err := speculative.NewBandit(speculative.Exp3(2), vs); return err },
		"no variants":  func() error { _, err := speculative.NewBandit(speculative.Thompson(), nil); return err },
		"duplicate": func() error {
			_, err := speculative.NewBandit(speculative.Thompson(), []speculative.Variant{vs[0], vs[0]})
			return err
		},
		"unnamed": func() error {
			_, err := speculative.NewBandit(speculative.Thompson(), []speculative.Variant{{Scorer: vs[0].Scorer}})
			return err
		},
		"nil scorer": func() error {
			_, err := speculative.NewBandit(speculative.Thompson(), []speculative.Variant{{Name: "a"}})
			return err
		},
		"min share too large": func() error {
			_, err := speculative.NewBandit(speculative.Thompson(), vs, speculative.WithMinShare(0.6))
			return err
		},
		"min share NaN": func() error {
			_, err := speculative.NewBandit(speculative.Thompson(), vs, speculative.WithMinShare(math.NaN()))
			return err
		},
		"discount 0": func() error {
			_, err := speculative.NewBandit(speculative.Thompson(), vs, speculative.WithDiscount(0))
			return err
		},
		"discount above 1": func() error {
			_, err := speculative.NewBandit(speculative.Thompson(), vs, speculative.WithDiscount(1.01))
			return err
		},
		"nil reward func": func() error {
			_, err := speculative.NewBandit(speculative.Thompson(), vs, speculative.WithReward(nil))
			return err
		},
	}
	for name, f := range cases {
		if err := f(); !isConfigErr(err) {
			t.Errorf("%s: %v, want a configuration error", name, err)
		}
	}
	if _, err := speculative.NewBandit(speculative.UCB1(), vs, speculative.WithSeed(1), speculative.WithName("b"),
		speculative.WithMinShare(0.5), speculative.WithDiscount(1), speculative.WithSticky(), speculative.WithChangeDetection()); err != nil {
		t.Errorf("valid options: %v", err)
	}
}

func TestBanditRefusesBadRewards(t *testing.T) {
	b, _ := speculative.NewBandit(speculative.Thompson(), arms(2), speculative.WithSeed(1))
	bad := []struct {
		arm string
		r   float64
	}{{"arm0", math.NaN()}, {"arm0", math.Inf(1)}, {"arm1", math.Inf(-1)}, {"arm0", 1.5}, {"arm1", -0.1}, {"nope", 1}, {"", 0}}
	for _, c := range bad {
		err := b.Reward(c.arm, c.r)
		var re *serving.OutcomeError
		if !errors.Is(err, serving.ErrOutcome) || !errors.As(err, &re) || re.Variant != c.arm {
			t.Errorf("Reward(%q, %v): %v", c.arm, c.r, err)
		}
	}
	if b.Refused() != uint64(len(bad)) {
		t.Errorf("Refused() = %d, want %d", b.Refused(), len(bad))
	}
	for _, a := range b.Arms() {
		if a.Rewards != 0 || a.Weight != 0 {
			t.Errorf("a refused reward changed arm %+v", a)
		}
	}
	// Real-valued rewards are fine for Gaussian Thompson sampling, not
	// non-finite ones.
	g, _ := speculative.NewBandit(speculative.GaussianThompson(), arms(2))
	if err := g.Reward("arm0", -42.5); err != nil {
		t.Errorf("gaussian: %v", err)
	}
	if err := g.Reward("arm0", math.NaN()); !errors.Is(err, serving.ErrOutcome) || g.Refused() != 1 {
		t.Errorf("gaussian NaN: %v, refused %d", err, g.Refused())
	}
	// A RewardFunc's bad rewards are refused and counted too.
	f, _ := speculative.NewBandit(speculative.Thompson(), arms(2), speculative.WithReward(func(serving.Result, time.Duration, error) (float64, bool) {
		return math.Inf(1), true
	}))
	for range 3 {
		f.Score(context.Background(), serving.Record{})
	}
	if f.Refused() != 3 {
		t.Errorf("RewardFunc's infinite rewards: refused %d, want 3", f.Refused())
	}
}

func TestBanditProvenance(t *testing.T) {
	boom := errors.New("boom")
	vs := []speculative.Variant{
		{Name: "good", Scorer: speculative.Named(serving.ModelRef{Name: "m", Version: 1}, serving.ScorerFunc(func(context.Context, serving.Record) (serving.Result, error) {
			return serving.Result{Prediction: serving.Prediction{Value: 1}, Provenance: serving.Provenance{Model: serving.ModelRef{Name: "m", Version: 1}}}, nil
		}))},
		{Name: "bad", Scorer: speculative.Named(serving.ModelRef{Name: "m", Version: 2}, serving.ScorerFunc(func(context.Context, serving.Record) (serving.Result, error) {
			return serving.Result{}, boom
		}))},
	}
	b, _ := speculative.NewBandit(speculative.UCB1(), vs, speculative.WithSeed(3))
	seen := map[string]bool{}
	for range 10 {
		res, err := b.Score(context.Background(), serving.Record{})
		d := res.Provenance.Decision
		if d == nil || d.Combinator != "bandit" || d.Decider != "ucb1" || len(d.Candidates) != 2 {
			t.Fatalf("decision %+v", d)
		}
		seen[d.Variant] = true
		switch d.Variant {
		case "good":
			if err != nil || d.Winner != 0 || res.Value != 1 || res.Provenance.Model.Version != 1 || d.Candidates[1].Status != serving.StatusSkipped {
				t.Errorf("good arm: %v %+v", err, d)
			}
		case "bad":
			if !errors.Is(err, boom) || d.Winner != -1 || d.Candidates[1].Status != serving.StatusError || d.Candidates[0].Status != serving.StatusSkipped || res.Provenance.Model.Version != 2 {
				t.Errorf("bad arm: %v %+v", err, d)
			}
		default:
			t.Errorf("variant %q", d.Variant)
		}
	}
	// UCB1 routes to arms without rewards first, the least routed first.
	if !seen["good"] || !seen["bad"] {
		t.Errorf("UCB1 did not try both arms: %v", seen)
	}
	st := b.Stats()
	if st.Combinator != "bandit" || st.Invocations != 10 || st.Models[0].Role != "good" || st.Models[0].Wins+st.Models[1].Errors != 10 {
		t.Errorf("stats %+v", st)
	}
}

// Each policy learns which of two arms is better from 0/1 rewards.
func TestBanditPoliciesLearn(t *testing.T) {
	sc := scenario{means: []float64{0.2, 0.6}}
	for _, c := range []simCase{
		{"thompson", speculative.Thompson(), nil, false},
		{"gaussian", speculative.GaussianThompson(), nil, false},
		{"ucb1", speculative.UCB1(), nil, false},
		{"exp3", speculative.Exp3(0.1), nil, false},
	} {
		r := runSim(t, c, sc, 4000)
		if r.regret > 0.25*r.uniform {
			t.Errorf("%s: regret %.0f against uniform's %.0f", c.name, r.regret, r.uniform)
		}
	}
}

func TestBanditMinShare(t *testing.T) {
	share := func(opts ...speculative.BanditOption) []float64 {
		b, _ := speculative.NewBandit(speculative.Thompson(), arms(3), append(opts, speculative.WithSeed(5))...)
		for range 500 {
			b.Reward("arm0", 1)
			b.Reward("arm1", 0)
			b.Reward("arm2", 0)
		}
		n := make([]float64, 3)
		const rounds = 20000
		for range rounds {
			res, _ := b.Score(context.Background(), serving.Record{})
			n[int(res.Value)]++
		}
		for i := range n {
			n[i] /= rounds
		}
		return n
	}
	if got := share(); got[1]+got[2] > 0.001 {
		t.Fatalf("without a minimum share the losers got %v: the test cannot tell", got)
	}
	got := share(speculative.WithMinShare(0.05))
	for i := 1; i < 3; i++ {
		if got[i] < 0.04 || got[i] > 0.06 {
			t.Errorf("arm%d got %.3f of the traffic, want 0.05", i, got[i])
		}
	}
}

func TestBanditSticky(t *testing.T) {
	b, _ := speculative.NewBandit(speculative.Thompson(), arms(3), speculative.WithSticky(), speculative.WithSeed(9), speculative.WithMinShare(0.1))
	route := func(key string) int {
		res, _ := b.Score(context.Background(), serving.Record{Key: []byte(key)})
		return int(res.Value)
	}
	before := map[string]int{}
	for i := range 300 {
		k := fmt.Sprint("user-", i)
		before[k] = route(k)
		if again := route(k); again != before[k] {
			t.Fatalf("key %s went to %d then %d", k, before[k], again)
		}
	}
	// Rewards below the refresh count leave the routing as it was.
	for range speculative.DefaultShareRefresh - 1 {
		b.Reward("arm2", 1)
	}
	for k, a := range before {
		if route(k) != a {
			t.Fatalf("key %s moved before the shares were refreshed", k)
		}
	}
	for range 10 * speculative.DefaultShareRefresh {
		b.Reward("arm2", 1)
		b.Reward("arm0", 0)
		b.Reward("arm1", 0)
	}
	counts := make([]int, 3)
	for k := range before {
		counts[route(k)]++
	}
	// arm2 now has 80% of the traffic (the others their 10% minimum).
	if counts[2] < 200 || counts[0] < 10 || counts[1] < 10 {
		t.Errorf("after arm2 won: keys per arm %v", counts)
	}
	for k := range before {
		if a := route(k); a != route(k) {
			t.Fatalf("key %s is not sticky", k)
		}
	}
}

func TestBanditRewardFunc(t *testing.T) {
	// A latency-penalised reward: 1 for an answer within 10ms, 0 for a
	// slower one or an error.
	vs := arms(2)
	vs[0].Scorer = serving.ScorerFunc(func(context.Context, serving.Record) (serving.Result, error) {
		time.Sleep(20 * time.Millisecond)
		return serving.Result{Prediction: serving.Prediction{Value: 0}}, nil
	})
	b, _ := speculative.NewBandit(speculative.Thompson(), vs, speculative.WithSeed(2), speculative.WithReward(func(_ serving.Result, took time.Duration, err error) (float64, bool) {
		if err != nil || took > 10*time.Millisecond {
			return 0, true
		}
		return 1, true
	}))
	for range 200 {
		b.Score(context.Background(), serving.Record{})
	}
	a := b.Arms()
	if a[1].Routed < 150 || a[0].Rewards+a[1].Rewards != 200 || a[0].Mean > 0.5 || a[1].Mean < 0.5 {
		t.Errorf("the fast arm did not win: %+v", a)
	}
}

func TestBanditCheckpoint(t *testing.T) {
	b, _ := speculative.NewBandit(speculative.Thompson(), arms(3), speculative.WithSeed(4), speculative.WithChangeDetection())
	simulate(b, scenario{means: []float64{0.1, 0.5, 0.3}}, 3000, 1)
	data, err := b.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// A restart with the same arms resumes where b stopped.
	c, _ := speculative.NewBandit(speculative.Thompson(), arms(3), speculative.WithSeed(4))
	if err := c.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	ab, ac := b.Arms(), c.Arms()
	for i := range ab {
		if ab[i].Routed != ac[i].Routed || ab[i].Rewards != ac[i].Rewards || ab[i].Mean != ac[i].Mean || ab[i].Weight != ac[i].Weight {
			t.Errorf("arm %d: %+v restored as %+v", i, ab[i], ac[i])
		}
	}
	if ac[1].Share < 0.9 {
		t.Errorf("restored bandit does not favour the best arm: %+v", ac)
	}
	// Arms are matched by name: a new arm starts afresh, a gone one is
	// dropped.
	vs := arms(3)
	vs[0].Name = "new"
	d, _ := speculative.NewBandit(speculative.Thompson(), vs)
	if err := d.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if ad := d.Arms(); ad[0].Rewards != 0 || ad[1].Rewards != ab[1].Rewards {
		t.Errorf("renamed arms: %+v", ad)
	}
	// Bad checkpoints change nothing.
	impossible := strings.Replace(string(data), `"n":`, `"n":-`, 1)
	for name, bad := range map[string]string{
		"not JSON":     "{",
		"other policy": strings.Replace(string(data), `"thompson"`, `"ucb1"`, 1),
		"negative n":   impossible,
		"sum above n":  `{"policy":"thompson","arms":[{"name":"arm0","n":1,"sum":5,"sum_sq":25}]}`,
	} {
		if err := c.UnmarshalBinary([]byte(bad)); !errors.Is(err, serving.ErrCorruptState) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if after := c.Arms(); after[1].Rewards != ab[1].Rewards {
		t.Errorf("a refused checkpoint changed the state: %+v", after)
	}
}

func TestBanditConcurrent(t *testing.T) {
	b, _ := speculative.NewBandit(speculative.Thompson(), arms(3), speculative.WithSticky(), speculative.WithChangeDetection(), speculative.WithDiscount(0.999))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				res, _ := b.Score(context.Background(), serving.Record{Key: []byte{byte(i), byte(g)}})
				b.Reward(res.Provenance.Decision.Variant, float64(i%2))
				if i%500 == 0 {
					b.Arms()
					b.MarshalBinary()
				}
			}
		})
	}
	wg.Wait()
	var routed uint64
	for _, a := range b.Arms() {
		routed += a.Routed
	}
	if routed != 8000 || b.Stats().Invocations != 8000 {
		t.Errorf("routed %d", routed)
	}
}

func ExampleBandit() {
	// Two versions of a model; the truth later says which answers were
	// right. Here the second is right more often.
	variants := []speculative.Variant{
		{Name: "v1", Scorer: servingFixed(0)},
		{Name: "v2", Scorer: servingFixed(1)},
	}
	b, _ := speculative.NewBandit(speculative.Thompson(), variants,
		speculative.WithSeed(1), speculative.WithChangeDetection(), speculative.WithMinShare(0.01))
	right := map[string]int{"v1": 4, "v2": 7} // right answers in ten
	seen := map[string]int{}
	for range 2000 {
		res, _ := b.Score(context.Background(), serving.Record{})
		arm := res.Provenance.Decision.Variant // the joined truth names the arm
		reward := 0.0
		if seen[arm]%10 < right[arm] {
			reward = 1
		}
		seen[arm]++
		b.Reward(arm, reward)
	}
	for _, a := range b.Arms() {
		fmt.Printf("%s: mean reward %.1f, share now %.2f\n", a.Name, a.Mean, a.Share)
	}
	// Output:
	// v1: mean reward 0.4, share now 0.01
	// v2: mean reward 0.7, share now 0.99
}

func servingFixed(v float64) serving.Scorer {
	return serving.ScorerFunc(func(context.Context, serving.Record) (serving.Result, error) {
		return serving.Result{Prediction: serving.Prediction{Value: v}}, nil
	})
}

func BenchmarkBanditScore(b *testing.B) {
	ctx := context.Background()
	split, _ := speculative.NewSplit([]speculative.Variant{
		{Name: "a", Scorer: servingFixed(0), Weight: 1}, {Name: "b", Scorer: servingFixed(1), Weight: 1},
		{Name: "c", Scorer: servingFixed(2), Weight: 1}, {Name: "d", Scorer: servingFixed(3), Weight: 1}}, speculative.WithSeed(1))
	b.Run("split", func(b *testing.B) {
		for b.Loop() {
			split.Score(ctx, serving.Record{})
		}
	})
	for _, p := range []speculative.Policy{speculative.Thompson(), speculative.GaussianThompson(), speculative.UCB1(), speculative.Exp3(0.1)} {
		band, _ := speculative.NewBandit(p, arms(4), speculative.WithSeed(1))
		for i := range 1000 {
			band.Reward(fmt.Sprint("arm", i%4), float64(i%3)/2)
		}
		b.Run(p.String(), func(b *testing.B) {
			for b.Loop() {
				band.Score(ctx, serving.Record{})
			}
		})
		b.Run(p.String()+"/reward", func(b *testing.B) {
			for b.Loop() {
				band.Reward("arm1", 0.5)
			}
		})
	}
}

// Exp3 weights are kept relative to the largest, so a checkpoint whose
// every arm has a very negative log-weight is only shifted, not lost:
// restored as it was, exp(logW) underflowed to 0 for every arm, the
// shares became 0/0 = NaN, and every later reward made the weights NaN.
func TestBanditExp3CheckpointUnderflow(t *testing.T) {
	b, err := speculative.NewBandit(speculative.Exp3(0.1), arms(3), speculative.WithSeed(4))
	if err != nil {
		t.Fatal(err)
	}
	data := `{"policy":"exp3","arms":[{"name":"arm0","n":10,"sum":5,"sum_sq":5,"log_w":-900},{"name":"arm1","n":10,"sum":8,"sum_sq":8,"log_w":-800},{"name":"arm2","n":10,"sum":1,"sum_sq":1,"log_w":-1000}]}`
	if err := b.UnmarshalBinary([]byte(data)); err != nil && !errors.Is(err, serving.ErrCorruptState) {
		t.Fatal(err)
	}
	if err := b.Reward("arm1", 1); err != nil {
		t.Fatal(err)
	}
	var total float64
	for _, a := range b.Arms() {
		if math.IsNaN(a.Share) || a.Share < 0.1/3-1e-9 {
			t.Fatalf("arm shares after restore: %+v", b.Arms())
		}
		total += a.Share
	}
	if math.Abs(total-1) > 1e-9 {
		t.Errorf("shares sum to %v: %+v", total, b.Arms())
	}
}

// A finite Gaussian Thompson reward whose square overflows made the arm's
// sum of squares +Inf: the arm's variance became NaN (it was never drawn
// again) and every later checkpoint failed, as JSON has no +Inf.
func TestBanditGaussianHugeRewardKeepsCheckpoint(t *testing.T) {
	g, _ := speculative.NewBandit(speculative.GaussianThompson(), arms(2), speculative.WithSeed(1))
	for range 5 {
		g.Reward("arm0", 1)
		g.Reward("arm1", 2)
	}
	if err := g.Reward("arm0", 1e200); err != nil && !errors.Is(err, serving.ErrOutcome) {
		t.Fatal(err)
	}
	if _, err := g.MarshalBinary(); err != nil {
		t.Fatalf("checkpoint after a huge reward: %v", err)
	}
	for _, a := range g.Arms() {
		if math.IsNaN(a.Share) || math.IsNaN(a.Mean) || math.IsInf(a.Mean, 0) {
			t.Errorf("arm %+v", a)
		}
	}
}

// TestBanditChangeDetectionWithDiscount: WithChangeDetection still
// finds a change when WithDiscount also forgets. The detector's warm-up
// counted an arm's discounted reward count, which settles near its share
// of the rewards over 1-gamma: 0.25/0.01 = 25 below the warm-up of 30
// here, so the detector never ran, silently, and the Bandit kept routing
// to an arm whose success rate fell from 0.9 to 0.1. The change comes
// after a checkpoint and a restart, so the detector's reference must be
// in the checkpoint too.
func TestBanditChangeDetectionWithDiscount(t *testing.T) {
	for _, gamma := range []float64{1, 0.99, 0.9} {
		newBandit := func() *speculative.Bandit {
			b, err := speculative.NewBandit(speculative.Thompson(), arms(4), speculative.WithSeed(1),
				speculative.WithChangeDetection(), speculative.WithDiscount(gamma))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		b := newBandit()
		rng := rand.New(rand.NewPCG(7, 8))
		rates := []float64{0.9, 0.5, 0.5, 0.5}
		reward := func(n int) {
			for i := range n {
				arm := i % 4
				r := 0.0
				if rng.Float64() < rates[arm] {
					r = 1
				}
				if err := b.Reward(fmt.Sprintf("arm%d", arm), r); err != nil {
					t.Fatal(err)
				}
			}
		}
		reward(4000)
		if n := b.Resets(); n != 0 {
			t.Fatalf("gamma %v: %d resets before the change", gamma, n)
		}
		data, err := b.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		b = newBandit()
		if err := b.UnmarshalBinary(data); err != nil {
			t.Fatal(err)
		}
		rates[0] = 0.1
		reward(4000)
		if b.Resets() == 0 {
			t.Errorf("gamma %v: arm0's rate fell from 0.9 to 0.1 over 1,000 of its rewards, and no change was found", gamma)
		}
	}
}
