// Package speculative composes several models of the same task into one
// serving.Scorer: answers within a latency budget, consensus, the most
// confident answer, weighted A/B and canary routing, blue/green switching
// and shadow traffic. Every combinator is itself a serving.Scorer, so
// they nest: a vote inside a budget inside a canary split is one Scorer,
// and its Result says exactly how each level decided.
//
// # Budgets
//
// A [Budget] asks a fast fallback model and slower, better models at the
// same time and answers within a fixed latency d. The better models'
// answers are judged by a [Decider] as they arrive; when it chooses one,
// or when d runs out, the call returns and the models still running are
// cancelled through their context. If nothing better arrived in time, the
// fallback answers. This is the guaranteed execution time: Score returns
// within d plus scheduling slack whatever the models do, and the answer
// is good as long as the fallback meets d. A model that ignores its
// context keeps only its own goroutine, which ends when the model
// returns.
//
// Go's timers fire late: by the time the runtime takes to notice the
// timer and run the waiting goroutine, and, when the process is idle, by
// up to a millisecond more, because the runtime then sleeps in
// epoll_wait, whose timeout is in whole milliseconds. On the development
// machine (two cores shared with other work) a plain time.Sleep(15ms)
// overshoots by about 1.2ms at the 99th percentile when the machine is
// quiet, and by tens of milliseconds when it is overloaded. So a Budget
// learns how late this process's timers fire: every call that runs out
// of time reports how long after its timer was due it woke, and a
// running estimate of the 99.9th percentile of that overshoot, shared by
// every Budget in the process, becomes the lead by which each Budget
// sets its timer before d (at most a quarter of d). The estimate rises
// within a few dozen late calls after the lateness grows, but not past
// the cap of the Budget whose call was late, and decays about a thousand
// times more slowly.
//
// The Budget answers when that early timer fires: the other models get
// d less the lead, and the fallback, if it has not answered by then, the
// rest of d. It does not poll until d to give the models the lead back.
// That was tried, and measured
// worse (TestBudgetStragglerHarness, 4,000 calls at load 10, the CPUs
// idle 7.8% of the run): calls polling until d were past d + 0.2ms 44
// times, against 8 times answering at the early timer. On a busy machine
// the scheduler favours a thread that wakes from sleep over one that has
// been running, so a caller that spins, or yields and spins, through the
// last millisecond is the one preempted.
//
// What the lead buys depends on the machine. TestBudgetStragglerHarness
// runs a Budget of 15ms over an instant fallback and a Pareto-tailed
// model (scale 2ms, shape 1.1) with 8 callers. With both cores busy its
// 99.9th percentile is far from d + 0.2ms, as is time.Sleep's: at a load
// average of 19 to 23, with the CPUs idle 0.0% of the run (20,000 calls
// each way), time.Sleep(15ms) overshot by 9.5ms at the 99th percentile and by 32ms
// at the 99.9th. There the Budget was past d + 0.2ms on 10.8% of its
// calls with a plain timer, and on 1.6% with the learned lead (p99 2.2ms,
// p99.9 17ms past d). The lead sat at its cap of a quarter of the
// budget. Letting it reach half the budget halved the late calls again,
// to 0.8%, but then the model answered in time on 76% of the calls
// instead of 85%. The process's CPU time was about 37µs per call, with or
// without the lead.
//
// Work in the process itself matters more than its neighbours. When
// goroutines that do not block, such as CPU-bound models, keep every P
// busy, a timer that is due waits until the running goroutine is
// preempted, which Go does after 10ms. With two goroutines burning CPU
// beside the harness (GOMAXPROCS 2), the Budget returned 15ms past d at
// the median. With one, leaving one P free, it was past d + 0.2ms on 3.8%
// of its calls. So where a Budget must keep time, run at most
// GOMAXPROCS-1 CPU-bound models at once, for example behind a semaphore.
//
// No lead helps when the operating system leaves the whole process
// unscheduled for longer than it; then the call returns when the process
// runs again. The package's tests therefore assert no timing in unit
// tests: they use stragglers that answer only after Score has returned,
// so that a Budget that waited would never return, and fail after a
// generous limit. TestBudgetStragglerHarness (opt-in, -stragglers N, and
// -stragglerburn N for goroutines that burn CPU beside it) prints the
// latency percentiles of the Budget with a plain timer and with the
// learned lead capped at a quarter and at half of d, next to time.Sleep,
// interleaved in one run, with the load average and the share of the run
// the machine's CPUs were idle;
// TestBudgetBoundHeavyTail prints the tolerance it allowed, and
// BenchmarkBudgetLatency reports the distribution.
//
// # Deciders
//
// A [Decider] chooses the winner among the candidates of a call, seeing
// them as they finish in a [Round]. [First] takes the fastest answer,
// [Priority] the best-ranked model that answered, [Best] the highest
// Confidence ([BestBy] any quality function), and [Vote] the majority
// label, with a documented tie-break and an optional quorum. A Decider of
// your own is one method. An [Ensemble] asks all its models and applies a
// Decider without a budget; inside a Budget it gets one.
//
// # Routing
//
// A [Split] sends each record to one of its variants by weight: an A/B
// test or a canary. It is sticky: the same record key always reaches the
// same variant while the weights stay the same, through a stable hash
// ([KeyHash]). Records without a key are routed by a seeded random
// source. [Split.SetWeights] changes the weights atomically, for a canary
// that grows from 1% to 100%; package speculative/canary grows it by itself,
// step by step while guardrails on errors, latency and live quality hold.
//
// A [Switch] holds a blue and a green Scorer, one live: [Switch.Promote]
// and [Switch.Rollback] flip between them atomically.
//
// # Bandits
//
// A [Bandit] routes like a Split, but sets the shares itself from
// rewards: how good each variant's answers turned out, from ground truth
// joined later ([Bandit.Reward]) or from the call itself ([WithReward],
// such as a latency-penalised reward). Its [Policy] is Thompson sampling
// ([Thompson] for 0/1 rewards, [GaussianThompson] for real ones), [UCB1]
// or [Exp3]. [WithChangeDetection] restarts it when an arm's rewards
// change, [WithDiscount] makes it forget gradually instead,
// [WithMinShare] keeps every arm measured, and [WithSticky] keeps keys on
// their arm. What it learnt is saved and restored with
// [Bandit.MarshalBinary] and [Bandit.UnmarshalBinary].
//
// Which to choose: TestBanditSimulation runs 100,000 rounds of four arms
// with success rates 0.30, 0.25, 0.20 and 0.15, stationary and reversed
// at round 50,000. Thompson sampling with change detection has a
// cumulative regret of 0.7% of uniform splitting's when stationary (no
// false alarm) and 1.7% with the change, and gives the new best arm most
// of the traffic within 300 rounds of it; with every reward arriving 500
// rounds late, 1.4% and 3.4%, recovering within 1,350 rounds. Without
// detection Thompson
// sampling takes about 21,000 rounds to recover; discounting (0.999)
// recovers fast but pays 20-25% of uniform's regret for its forgetting.
// UCB1 stays at 6-11% (11-17% with late rewards). Exp3 is at 6% while
// stationary, but without change detection it stays on the old best arm
// for about 33,000 rounds after the change (68%); with it, 8.7% (14.5%
// with late rewards). Run it with -v for the table.
//
// # Shadows
//
// A [Shadow] answers with its primary and mirrors each record to shadow
// models through a bounded queue served by its own workers. A shadow
// never adds latency and never changes the answer; when the queue is
// full, records are dropped and counted. An observer receives each
// shadow answer next to the primary's, to compare them. [Shadow.Close]
// stops the workers.
//
// # Provenance
//
// Every Result from a combinator carries a serving.Decision in its
// Provenance: the combinator (Decision.Combinator), the decider's name,
// the variant for Split and Switch, and one serving.Candidate per model asked, with its
// version, latency, status (ok, late, error, cancelled, skipped) and
// answer. The winner's index is in Decision.Winner, and
// Provenance.Model names the model whose answer was returned. When a
// candidate is itself a combinator, its own Decision nests inside the
// Candidate. A Decision is plain data, written out by the Kafka sink.
//
// When a combinator cannot answer, it returns a *[DecisionError] (such as
// ErrFallbackLate or ErrNoQuorum, tested with errors.Is) together with a
// Result whose Provenance still holds the Decision.
//
// # Statistics
//
// Each combinator counts its invocations, errors, and per model its wins,
// late, failed, cancelled and skipped calls; a Budget also counts the
// times its fallback missed the budget, and a Shadow the records it
// mirrored and dropped. See [Stats]. For metrics, pass a
// [HookDecision] with [WithHooks].
//
// # Options
//
// Each constructor takes options of its own type: NewBudget takes
// [BudgetOption]s, NewShadow [ShadowOption]s, and so on, so an option
// given to a combinator it does not apply to, such as [WithSeed] to
// NewEnsemble or [WithDecider] to NewSplit, does not compile. [WithName]
// and [WithHooks] return an [Option], which every constructor takes;
// [WithSeed] a [SeedOption], which NewSplit and NewBandit take.
//
// # Cost
//
// A Budget or Ensemble call starts one goroutine per model and allocates
// the Decision it returns in one block, so a call over n models makes
// n+3 allocations; the per-call channel, timer, Round and record copy are
// pooled. On a loaded two-core machine (load average 22) a Budget over
// one instant model costs about 2.2µs of CPU per call and each further
// model 1.5µs (Ensemble) to 3.5µs (Budget), much of it goroutine
// start-up and stack growth; calling the model directly costs 55ns
// (BenchmarkDirect, BenchmarkBudget, BenchmarkVote, whose cpu-ns/op is
// the process's CPU time per call). Split and Switch call their Scorer
// in the caller's goroutine and make one allocation, the Decision: about
// 0.6µs of CPU per call. A Shadow's caller does the same (0.9µs), and its
// workers then spend about 0.8µs more and three or four allocations, a
// timeout context among them, on each record they mirror: 1.7µs and four
// or five allocations per mirrored call in all (BenchmarkSplit,
// BenchmarkSwitch, BenchmarkShadow, BenchmarkShadowMirrored). Measured
// with go test ./speculative -run '^$' -bench
// 'Direct|Budget$|Vote|Split|Switch|Shadow' -benchmem -count 3.
package speculative
