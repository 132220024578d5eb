// Package trainkafka connects package training to Kafka: a [Source] that
// reads labelled records from a data topic as a consumer group of its
// own, and [Publisher], which publishes the trainer's versions to the
// models topic through serving/kafka, where every scoring instance's
// ModelFeed picks them up.
//
// # Delivery
//
// The Source implements training.Committer. It never commits on its
// own: a Trainer calls Commit only after the state that learned the
// records is durable (a checkpoint, or a published version), and Commit
// then commits, per partition, the offset after the last record handed
// to the trainer. A crash or a rebalance therefore replays at most the
// records since the last commit: delivery is at-least-once, and with a
// single partition and a checkpoint the restarted trainer continues bit
// for bit.
//
// # Decoding
//
// A [Decoder] turns a record's key and value into a training.Sample.
// [CSV] reads delimited numbers with the target in one column, and
// [JSON] reads an object with named features and a named target. A
// record that does not decode is skipped, counted in [Source.Stats], and
// committed past with the others, so a poison record cannot stall the
// trainer.
package trainkafka
