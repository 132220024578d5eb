// Package canary rolls a candidate model out against the champion
// automatically: it ramps the candidate's share of traffic in steps (by
// default 1%, 5%, 25%, 100%) while guardrails hold, and rolls it back the
// moment one breaks.
//
// # Guardrails
//
// A [Controller] is a serving.Scorer that routes records between the
// champion and the candidate through a speculative.Split, sticky by key.
// It watches three guardrails, each comparing the candidate with the
// champion over the same periods (see "Matched windows" below), and each
// a "lower is better" quantity:
//
//   - errors: the share of calls that failed (a call whose caller
//     cancelled it is no evidence, and not counted);
//   - latency: the share of calls slower than [LatencyBound], which is
//     how a p99 is held to a bound (p99 within the bound is the same as
//     at most 1% of calls beyond it);
//   - quality: the mean loss of the answers whose truth is known, fed
//     through [Controller.Outcome] by whatever joins ground truth to the
//     scores.
//
// The candidate is non-inferior on a guardrail when its value exceeds
// the champion's by at most a margin ([ErrorMargin], [LatencyMargin],
// [QualityMargin]).
//
// # Matched windows
//
// The candidate's share grows step by step, so most of its calls come
// late, while most of the champion's come early. Rates taken over the
// whole rollout would weigh each period by each side's share of it: a
// stall or a stretch of hard data during the 25% step would count
// against the candidate alone and roll it back, and one during the 1%
// step against the champion alone, letting a worse candidate through.
// Each guardrail therefore compares the two sides step by step, where
// both get traffic in a fixed proportion and meet the same periods, and
// combines the steps' differences, each weighted by nc·nh/(nc+nh) of its
// counts (the weights of Cochran, and of Mantel and Haenszel). Outcomes
// count in the step during which they arrive, so a feedback delay
// shifts both sides alike. The last step, where the champion serves
// nothing, shares the window of the step before it: the candidate's
// calls at 100% join its calls of that step, against the champion's
// calls of that step. A bad period during the last step is therefore
// not matched, and weighs on the candidate. Matching costs some
// evidence, since the champion's calls of one step say nothing of
// another: over 20 simulated rollouts of the tests' setting (outcomes
// for half the calls, an evaluation every 500 records), a candidate
// wrong on 8% of answers against 10% was promoted after a median of
// 57,000 records, against 49,500 when the sides were pooled since the
// start, and one wrong on 13% was rolled back after 60,500 against
// 58,000.
//
// # Decisions
//
// [Controller.Evaluate] (called every [Interval] by [Controller.Run])
// computes, for each guardrail, a confidence interval for the difference
// candidate − champion, and decides:
//
//   - rollback, when any interval lies wholly above its margin: the
//     candidate is shown worse. Its share drops to 0 at once.
//   - advance, when the candidate has answered [MinCalls] calls at this
//     step and every guardrail has data and none is breached; the step to
//     100% further needs every interval wholly within its margin (shown
//     non-inferior) while both sides still get traffic.
//   - promote, at the last step after MinCalls more calls without a
//     breach.
//   - hold, otherwise. A guardrail without enough data (fewer than
//     MinCalls calls, or fewer than [MinOutcomes] outcomes, on either
//     side) can neither promote nor roll back: with the feedback topic
//     gone or far behind, the rollout waits at its step.
//
// Each decision that changes the rollout, and each new reason to hold,
// goes with all its evidence to the audit trail ([Audit], as a
// governance.KindRollout event), to [HookRollout] hooks (every decision)
// and to [Controller.Status], for an operator's page.
//
// # Why a confidence sequence
//
// The controller looks at the evidence again and again, and acts on the
// first look that shows a difference. A fixed-sample test (a 95% interval
// recomputed at every look) is then wrong far more often than 5%: in this
// package's tests, 38% of runs comparing two identical models over 400
// looks find a "difference". The Controller uses instead an always-valid
// confidence sequence, which holds at every look at once with probability
// 1 − [Alpha]: the asymptotic confidence sequence of Waudby-Smith et al.
// (Annals of Statistics, 2024), a normal-mixture boundary applied to the
// difference of the two means, combined over the matched windows. It was chosen over the mixture SPRT
// (Johari et al., 2017), which answers the same question with a p-value,
// because an interval also says how large the difference may be, and
// non-inferiority with a margin is a statement about that interval; over
// exact Bernoulli sequential tests, because one method covers rates and
// mean losses alike. It is about 1.5 times as wide as the fixed-sample
// interval around 1,000 samples, the price of peeking; the same runs
// find 1.3% false differences with it.
//
// The sequence rests on each side's variance, which a few hundred
// outcomes of a rare event measure poorly: a candidate whose first 200
// losses were all 0 had a variance of 0, and a candidate worse than the
// champion by exactly the margin was shown within it in 14% of
// simulated rollouts. Each side's variance therefore counts two
// pseudo-outcomes at each end of the range seen, the adjustment of
// Agresti and Coull (1998) for proportions, applied to rates and to
// losses alike; it fades as 1/n, so the sequence keeps its guarantee,
// and the same simulation finds 3%.
package canary
