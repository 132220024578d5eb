// Package govkafka adapts package governance to Kafka through sarama: an
// AuditSink that writes the audit trail to a topic, and conversions
// between governance's provenance headers and sarama's.
//
// # Audit topic
//
// [AuditSink] writes each governance.Event as one record: the key is the
// model name (so one model's events stay in order in one partition), the
// value is the Event's JSON (documented at governance.Event), and the
// header modelstream.audit.kind repeats the event kind for consumers that
// filter without parsing.
//
// # Provenance headers
//
// governance.Header has the fields of sarama.RecordHeader, so the
// conversions here are copies of slice headers, not of bytes.
// [ProvenanceHeaders] plugs into kafka.SinkProvenance; [Which] answers
// which model scored a consumed output record.
//
// # Feed
//
// [FeedObserver] audits the model messages a kafka.ModelFeed cannot
// decode, the one outcome neither the Verifier nor the Server sees.
package govkafka
