// Package feedbackkafka feeds a feedback.Joiner from Kafka: it reads a
// topic of scores (serving/wire.Score records, as the serving/kafka Sink
// writes them, in either serving/wire.ScoreEncoding, or as Avro with
// serving/kafka/confluent and a [ScoreDecoding] that reads it) and a
// topic of labels, joins them, and hands every match to a function, such
// as feedback.Observe for live quality, a speculative.Bandit's Reward,
// or a canary.Controller's Outcome.
//
// # Reading
//
// A [Reader] reads every partition of both topics, not as a consumer
// group member, with the shared connection settings of a
// serving/kafka.Config. Records are joined on one goroutine. Each
// topic's event time is a watermark: the least of its partitions' latest
// timestamps, leaving out partitions that have nothing more to read, so
// that reading one partition ahead of another does not expire what the
// other still holds.
//
// # Bad input and absent feedback
//
// Records that do not decode are counted and skipped; the first bad
// score is logged at Warn with the reason, the others at Debug. A score
// decoder that waits, for a Schema Registry say, holds the Reader's one
// goroutine for as long, within its own bound. A feedback topic
// that does not exist, is deleted, or fails is counted
// (Stats.FeedbackErrors) and tried again every [Retry]; meanwhile scores
// are read and wait, bounded by the Joiner, and nothing is joined, so a
// rollout waiting on live quality holds its step. The feedback topic's
// lag is measured (Stats.FeedbackLag). The Reader never creates a topic
// by asking for it.
//
// # Restarts
//
// With [Checkpoint], the Reader saves, in one file replaced atomically,
// the offsets it has processed in both topics, the Joiner's state and
// every state given with [Save] (a Bandit, say), and restores them all
// when it starts. Since the offsets and the states that the matches
// changed are saved together, a restart resumes exactly where the file
// stands, after a crash too: the records after it are read again and
// their matches made again, on states that have not seen them. A
// downstream that is not saved (an in-memory quality.Tracker) starts
// afresh.
package feedbackkafka
