// Package kafkafeed connects a registry.Registry to the Kafka model feed of
// package serving/kafka, so that a restarted instance resumes where it
// stopped instead of re-reading the whole models topic.
//
// # What it wires
//
// A [Sync] plays two parts:
//   - as the Server's last Admitter (serving.WithAdmission), it stores
//     every model the Server admits with Put, before it is activated,
//     after the Admitters before it (such as a governance.Verifier) have
//     accepted it;
//   - [Sync.FeedOptions] returns the options for kafka.NewModelFeed that
//     start each partition at the offset the store recorded
//     (kafka.StartOffsets), or at the oldest one for partitions it never
//     saw, and, after every message, whatever its outcome, record the
//     next offset of its partition (kafka.Observer).
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
package kafkafeed
