// Package kafkafeed connects a registry.Store to the Kafka model feed of
// package serving/kafka, so that a restarted instance resumes where it
// stopped instead of re-reading the whole models topic.
//
// # What it wires
//
// [Sync.FeedOptions] returns the options for kafka.NewModelFeed that:
//   - start each partition at the offset the store recorded
//     (kafka.StartOffsets), or at the oldest one for partitions it never
//     saw;
//   - after the feed has resolved a model and an optional check (such as
//     a governance.Verifier) has accepted it, store it with Put before
//     it is activated (kafka.WithVerifier);
//   - after every message, whatever its outcome, record the next offset
//     of its partition (kafka.Observer).
//
// A crash between a Put and the offset write makes the restarted feed
// read that message again, and the store's idempotent Put absorbs it:
// at-least-once reading with exactly-once storage.
//
// # Restart
//
// The order on start is: open the durable store; make the Server with
// registry.Follow(store) as a hook; call registry.Restore to serve what
// was live before; then run the feed with [Sync.FeedOptions]. Only the
// messages published since the last recorded offset are read.
package kafkafeed
