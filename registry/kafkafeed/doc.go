// Package kafkafeed connects a registry.Registry to the Kafka model feed of
// package serving/kafka, so that a restarted instance resumes where it
// stopped instead of re-reading the whole models topic.
//
// # What it wires
//
// A [Sync] plays two parts:
//   - as the Server's last Admitter (serving.WithAdmission), after those
//     that may refuse (such as a governance.Verifier), it is also a
//     serving.Committer: the Server calls [Sync.Commit] once a model has
//     loaded and passed validation, right before the swap, and it stores
//     the model with Put, under its final version. A model that never
//     loads is never stored, and a store that fails to write refuses the
//     model, which then does not go live;
//   - [Sync.FeedOptions] returns the options for kafka.NewModelFeed that
//     start each partition at the offset the store recorded
//     (kafka.StartOffsets), or at the oldest one for partitions it never
//     saw, and, after every message, whatever its outcome, record the
//     next offset of its partition (kafka.Observer); except that once the
//     store failed to write a model, its partition's offset stays before
//     that model until a restart, which reads it again. They also tell
//     the feed the highest stored version of each name
//     (kafka.KnownVersions), so that the version-less messages it reads
//     are numbered above them: a number is never given twice, even for a
//     name that was retired, or rolled back, before the restart.
//
// A crash between a Put and the offset write makes the restarted feed
// read that message again, and the store's idempotent Put absorbs it:
// at-least-once reading with exactly-once storage.
//
// # Restart
//
// The order on start is: open the durable store; make the Sync; make
// the Server with the Sync as its last Admitter and registry.Follow(store)
// as a hook; call registry.Restore to serve what was live before; then
// run the feed with [Sync.FeedOptions]. Only the messages published since
// the last recorded offset are read.
//
// The order on shutdown is: stop the feed (cancel its Run), then close
// the Server and the store. Server.Close is a shutdown, not a retirement:
// the Follower records nothing for it, so the history still says what
// was live, and the next start's Restore serves it.
package kafkafeed
