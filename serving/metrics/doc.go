// Package metrics exports modelstream's hooks as Prometheus metrics.
//
// # Use
//
// Create one [Metrics], register it, and pass it as a hook to every
// component that takes hooks: the serving Server, the speculative
// combinators, the serving/kafka Source and the canary Controllers.
//
//	m, err := metrics.New()
//	if err != nil { ... }
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(m)
//	srv, _ := serving.NewServer(serving.WithHooks(m))
//
// # Metrics
//
// All names start with "modelstream_":
//
//   - score_duration_seconds{model,version}: histogram of model call time.
//   - scores_total{model,version,status}: calls, status "ok" or "error".
//   - active_version{model}: the live version per model name.
//   - model_events_total{model,event}: loaded, rejected, activated,
//     rolled_back and retired events.
//   - model_load_failures_total{model}: rejected activations.
//   - model_swaps_total{model}: activations and rollbacks.
//   - decisions_total{combinator}, decision_wins_total{combinator,model},
//     decision_late_total{combinator,model},
//     decision_errors_total{combinator,model}: speculative decisions; a
//     late fallback is a budget miss.
//   - dead_letters_total{topic}: records sent to the dead-letter topic.
//   - commits_total{topic,partition}: offset commits.
//   - consumer_lag{topic,partition}: last reported lag.
//   - model_events_untracked_total{event}: model events about names
//     without series of their own (see # Bounds).
//   - rollout_share{rollout}, rollout_step{rollout},
//     rollout_decisions_total{rollout,action} and
//     rollout_guardrail_difference{rollout,guardrail,bound}: the traffic
//     share, step, decisions and guardrail intervals of canary Controllers
//     (see [Metrics.OnRollout]).
//
// Two collectors export what is not a hook's event; register them
// beside Metrics: [Quality] exports a quality.Tracker's live quality
// (live_quality and its interval bounds, per model, version, variant and
// metric; live_quality_refused_total, the outcomes it refused as
// invalid; and live_quality_overflow_total, those it refused because it
// held its maximum number of series), and [Feedback] the counters of a
// feedbackkafka.Reader that joins the truth to the scores: records read,
// joined and dropped by reason (duplicate, late, unknown key,
// unlabelled, overflow), undecodable records, read errors of a missing
// or deleted topic, and the feedback topic's lag (feedback_*).
//
// # Bounds
//
// Whoever can write to the models topic chooses model names, so the
// per-name event series (active_version, model_events_total,
// model_load_failures_total, model_swaps_total) are capped: at most
// [MaxModels] names (1,000 by default) get series, and of those at most
// [MaxRejectedModels] (100 by default) may be names that never went live.
// A flood of junk messages with ever new names thus adds at most 201
// series, and leaves the other slots to names that go live. Events about
// a name past the caps, or whose name is not valid UTF-8 (which
// Prometheus refuses as a label value), are counted in
// model_events_untracked_total by event; in the decision, rollout and
// Kafka series, such a name is exported with U+FFFD in place of each
// invalid byte sequence. Once given, a name keeps its
// series: recycling slots would turn a flood into series churn, which
// costs a Prometheus server as much as cardinality does.
//
// The per-version score series exist only for live versions (see
// # Swaps), so they follow what the Server itself holds.
//
// # Cost
//
// The scoring hook is on the hot path. Series are looked up in a
// copy-on-write snapshot keyed by model name and version (a short list
// scanned in order, a map past eight live versions), so an observation
// takes no lock and allocates nothing once the series exists.
//
// The score histogram and scores_total are not prometheus.HistogramVec
// and CounterVec children but a collector of their own, made for that
// path. Per version and status there is a row of cells, one per bucket,
// each packing a count and a sum of nanoseconds in one word; a call is
// one atomic addition to one cell, its bucket found from the integer
// nanoseconds without a float conversion. Each version keeps eight
// copies of its rows, a cache line apart, and a call adds to the copy
// picked by the low bits of its duration, so that cores scoring the same
// version at once mostly touch different cache lines; the rows are also
// padded apart from other versions'. (On the 2-vCPU machine where this
// was written the stripes made no measurable difference either way;
// BenchmarkOnScored and BenchmarkServerHooks have one-stripe variants to
// check on larger ones.) A cell is moved into wide
// counters, under a lock, before it can overflow (every half million
// calls or 2.4 hours of model time), as are calls over 67ms, which go
// there directly. A scrape sums the cells under that lock: the bucket
// counts, the histogram count and sum and the ok and error counts are
// consistent with each other in every scrape, and each only grows.
// Bucket placement is exactly that of a prometheus.Histogram observing
// took.Seconds(); the sum is exact to the nanosecond, and wraps after
// 292 years of model time per version. BenchmarkOnScored and
// BenchmarkServerHooks compare it with the HistogramVec version it
// replaced.
//
// # Swaps
//
// When a version is replaced or retired its per-version series are
// deleted, so cardinality follows the live versions. A call that was in
// flight on the old version and ends after the swap is not observed: it
// would otherwise bring the deleted series back for good. The last
// 4096 replaced versions are remembered for that, a few dozen
// bytes each. Model events
// may reach the hook out of order when swaps race; active_version
// follows the event times, which the Server takes under its lock.
package metrics
