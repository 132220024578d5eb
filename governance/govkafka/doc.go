// Package govkafka adapts package governance to Kafka through sarama: an
// AuditSink that writes the audit trail to a topic, and a feed observer
// that audits malformed model messages. Provenance headers are not here:
// they are part of the wire protocol (package serving/wire), which the
// Kafka Sink writes and kafka.Headers with wire.ProvenanceOf reads.
//
// # Audit topic
//
// [AuditSink] writes each governance.Event as one record: the key is the
// model name (so one model's events stay in order in one partition), the
// value is the Event's JSON (documented at governance.Event), and the
// header wire.HeaderAuditKind repeats the event kind for consumers that
// filter without parsing.
//
// # Feed
//
// [FeedObserver] audits the model messages a kafka.ModelFeed cannot
// decode, the one outcome neither the Verifier nor the Server sees.
package govkafka
