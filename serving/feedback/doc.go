// Package feedback joins the truth about predictions, which arrives
// later, to the scores that made them: a transaction is reported as
// fraud days after it was scored, a wine is rated after it was judged.
// The joined pairs feed live quality (package serving/quality), bandit
// rewards (speculative.Bandit.Reward) and rollout guardrails
// (speculative/canary).
//
// # Joining
//
// A [Joiner] pairs each [Label] with the score of the same key: the
// input record's key, or its position in the input topic ([InputKey]),
// which the score record carries (see serving/wire.Score). Either side
// may arrive first. Each waits for the other within a window of event
// time, measured on the other stream: a score waits until labels from
// more than a window later have been seen, so a feedback stream that
// lags behind, or has stopped, does not expire the scores it has not
// yet delivered.
//
// # Bad input
//
// Nothing is dropped silently. [Stats] counts labels for keys never
// scored (Unknown), second labels for one key (Duplicates, the first
// counts), labels that arrived before their score (Early, then joined),
// labels that arrived after their score's window (Late), scores that
// never got a label (Unlabelled), redelivered scores (DuplicateScores)
// and entries pushed out of a full buffer (Overflow). Memory is bounded:
// at most a fixed number of scores and of labels wait at once.
//
// # Restarts
//
// A Joiner's state (its waiting entries, the keys it remembers, both
// streams' times and its counters) is saved with [Joiner.MarshalBinary]
// and restored with [Joiner.UnmarshalBinary]. Saved together with the
// offsets the Joiner has read up to, and with the state of whatever the
// matches feed, it lets a restarted reader resume exactly where the
// saved state stands: package serving/feedback/feedbackkafka does this.
//
// # Measuring
//
// [Observe] turns matches into quality measurements in a
// quality.Tracker, per model version and variant, for binary,
// multiclass and regression tasks. Labels may give the true class by
// name ("red"): given the class names in the order of the model's
// outputs, Observe reads such a label by its name, and refuses a name
// outside them as an unknown class (serving.ErrOutcome), counted as a
// refused outcome. [Drift] runs a drift detector (such
// as training.PageHinkley) on the live loss of the serving model, not
// its training loss, and calls a function when it fires, for example to
// ask for retraining.
package feedback
