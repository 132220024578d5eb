// Package trainkafka connects package training to Kafka: a [Source] that
// reads labelled records from a data topic as a consumer group of its
// own, and a [Publisher], which publishes the
// trainer's versions to the models topic through serving/kafka, where
// every scoring instance's ModelFeed picks them up.
//
// # Version numbers
//
// A ModelFeed skips a version that is not above the live one, so a
// trainer must number after what the models topic already holds. A
// Publisher implements training.VersionLookup with
// [LatestVersion], which reads every partition of the models topic from
// its oldest offset to the high-water mark at the time of the call and
// returns the newest version of the name with its content ID. A Trainer
// asks once when Run starts and continues after the higher of that
// version and its checkpoint's counter, with the topic's version as the
// parent when it is the newer. A trainer restarted without its
// checkpoint thus publishes v4 after v3, and the feeds activate it.
// The lookup reads the whole topic, which is cheap for a models topic
// (a few messages per version) but grows with its retention.
//
// # Configuration
//
// The Source and the Publisher take the kafka.Config that every client
// of serving/kafka takes: brokers, TLS, SASL, client ID, logger and
// sarama settings are set once, there.
//
// # Delivery
//
// The Source implements training.Committer. It never commits on its
// own: a Trainer calls Commit only after the state that learned the
// records is durable (a checkpoint, or a published version), and Commit
// then commits, per partition, the offset after the last record handed
// to the trainer, and returns once the group has stored it (read back),
// or with an error when the broker refused it or did not store it within
// 10 seconds. A crash or a rebalance therefore makes the group
// deliver again the records since the last commit, some of which the
// trainer may have learned already: the ones after the last commit, if
// a rebalance came before it, or the ones its checkpoint holds, if the
// process stopped between saving the checkpoint and committing. The
// Source skips those (counted as Stats.Replayed): it remembers the last
// offset it handed out per partition across rebalances, and, as a
// training.Resumer, keeps it in the trainer's checkpoint. So no record
// is learned twice by one trainer, and with a single partition and a
// checkpoint the restarted trainer continues bit for bit. A partition
// that moves to another member of the group is delivered to that
// member from the last commit.
//
// A topic deleted and created again numbers its records from 0. When a
// partition's log, as a claim on it starts, ends at or before the last
// offset the Source remembers for it (in memory or from a checkpoint),
// the Source logs a warning and forgets that offset, and the group's
// commit, past the end too, is reset to the oldest offset (as Kafka's
// auto.offset.reset=earliest does): the new topic's records are learned
// from its first one, not skipped as replays. A recreated topic that
// already holds more records than the old one when the claim starts
// cannot be told from the old one by its offsets: its records up to the
// remembered offset are then skipped as Replayed (Stats.Replayed shows
// it). After recreating a topic, start the trainer from a checkpoint
// saved after the recreation, or from none, to be sure.
//
// # Decoding
//
// A [Decoder] turns a record's key and value into a training.Sample.
// [CSV] reads delimited numbers with the target in one column, and
// [JSON] reads an object with named features and a named target. A
// record that does not decode (kafka.ErrDecode) is skipped, counted in [Source.Stats], and
// committed past with the others, so a poison record cannot stall the
// trainer.
package trainkafka
