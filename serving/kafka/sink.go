package kafka

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
)

// Provenance and dead-letter headers written by a Sink. Like the model
// headers in wire.go, they share [HeaderPrefix].
const (
	HeaderModel      = HeaderPrefix + "model"      // name of the model that scored
	HeaderModelID    = HeaderPrefix + "id"         // its content ID
	HeaderCombinator = HeaderPrefix + "combinator" // the speculative combinator, if any
	HeaderVariant    = HeaderPrefix + "variant"    // the variant chosen by a router, if any
	// HeaderVersion (wire.go) carries the version that scored.

	HeaderDLQReason    = HeaderPrefix + "dlq.reason"    // why the record failed
	HeaderDLQStage     = HeaderPrefix + "dlq.stage"     // "decode" or "score"
	HeaderDLQTopic     = HeaderPrefix + "dlq.topic"     // origin topic
	HeaderDLQPartition = HeaderPrefix + "dlq.partition" // origin partition, decimal
	HeaderDLQOffset    = HeaderPrefix + "dlq.offset"    // origin offset, decimal
)

// The dead-letter stages.
const (
	StageDecode = "decode"
	StageScore  = "score"
)

// ErrSinkClosed is passed to the acknowledgement of a write made after
// the Sink was closed.
var ErrSinkClosed = errors.New("kafka: sink closed")

// Score is the JSON value of an output record: the prediction, what
// computed it, and where its input came from.
type Score struct {
	Prediction serving.Prediction `json:"prediction"`
	Provenance serving.Provenance `json:"provenance"`
	// Key is the input record's key as text; empty if it had none.
	Key       string `json:"key,omitempty"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// DecodeScore decodes the JSON value of an output record, for consumers
// of the scores topic.
func DecodeScore(value []byte) (Score, error) {
	var s Score
	if err := json.Unmarshal(value, &s); err != nil {
		return Score{}, fmt.Errorf("kafka: decode score: %w", err)
	}
	return s, nil
}

// ProvenanceHeaders is the default provenance encoding of output records:
// the model name, version and content ID, and the combinator and variant
// when a speculative combinator decided. Package governance may supply
// another encoding through [SinkProvenance].
func ProvenanceHeaders(p serving.Provenance) []sarama.RecordHeader {
	h := make([]sarama.RecordHeader, 0, 5)
	h = append(h,
		hdr(HeaderModel, p.Model.Name),
		hdr(HeaderVersion, strconv.FormatUint(p.Model.Version, 10)),
	)
	if p.Model.ID != "" {
		h = append(h, hdr(HeaderModelID, p.Model.ID))
	}
	if d := p.Decision; d != nil {
		h = append(h, hdr(HeaderCombinator, d.Combinator))
		if d.Variant != "" {
			h = append(h, hdr(HeaderVariant, d.Variant))
		}
	}
	return h
}

// SinkOption configures a Sink.
type SinkOption func(*sinkOptions)

type sinkOptions struct {
	topic, dlq string
	provenance func(serving.Provenance) []sarama.RecordHeader
	tune       func(*sarama.Config)
}

// SinkTopic sets the scores topic, overriding the default of
// [DefaultScoresTopic].
func SinkTopic(t string) SinkOption { return func(o *sinkOptions) { o.topic = t } }

// DeadLetterTopic sets the dead-letter topic, overriding the default of
// [DefaultDeadLetterTopic].
func DeadLetterTopic(t string) SinkOption { return func(o *sinkOptions) { o.dlq = t } }

// SinkProvenance sets the function that turns a Result's provenance into
// output headers, overriding the default of [ProvenanceHeaders].
func SinkProvenance(fn func(serving.Provenance) []sarama.RecordHeader) SinkOption {
	return func(o *sinkOptions) { o.provenance = fn }
}

// SinkSarama lets fn adjust the sarama configuration after the package's
// defaults (idempotent, acks=all, one request in flight) are set.
func SinkSarama(fn func(*sarama.Config)) SinkOption { return func(o *sinkOptions) { o.tune = fn } }

// Sink writes scores and dead letters to Kafka through an idempotent,
// acks=all asynchronous producer. Every write takes an acknowledgement
// function that the Sink calls exactly once, from its own goroutine, when
// Kafka has acknowledged the record or the producer has given up on it.
//
// Records written one after another to the same partition keep their
// order: the producer is idempotent with one request in flight. Outputs
// are keyed like their inputs, so all scores of one key share a
// partition.
//
// A Sink is safe for concurrent use. Writes block when the producer's
// buffers are full, which is how the Source's backpressure reaches Kafka.
type Sink struct {
	o    sinkOptions
	prod sarama.AsyncProducer
	mu   sync.RWMutex // guards closed against writes
	shut bool
	done chan struct{}
}

// NewSink connects to brokers and returns a Sink.
func NewSink(brokers []string, opts ...SinkOption) (*Sink, error) {
	o := sinkOptions{topic: DefaultScoresTopic, dlq: DefaultDeadLetterTopic, provenance: ProvenanceHeaders}
	for _, opt := range opts {
		opt(&o)
	}
	if err := checkBrokers(brokers); err != nil {
		return nil, err
	}
	switch {
	case o.topic == "":
		return nil, configErr("SinkTopic: empty topic")
	case o.dlq == "":
		return nil, configErr("DeadLetterTopic: empty topic")
	case o.provenance == nil:
		return nil, configErr("SinkProvenance(nil)")
	}
	cfg, err := newConfig("modelstream-sink", o.tune)
	if err != nil {
		return nil, err
	}
	if !cfg.Producer.Return.Successes || !cfg.Producer.Return.Errors {
		return nil, configErr("SinkSarama: the sink needs Producer.Return.Successes and Errors")
	}
	p, err := sarama.NewAsyncProducer(brokers, cfg)
	if err != nil {
		return nil, fmt.Errorf("kafka: sink: %w", err)
	}
	s := &Sink{o: o, prod: p, done: make(chan struct{})}
	go s.acks()
	return s, nil
}

// acks delivers acknowledgements until the producer is closed.
func (s *Sink) acks() {
	defer close(s.done)
	succ, errs := s.prod.Successes(), s.prod.Errors()
	for succ != nil || errs != nil {
		select {
		case m, ok := <-succ:
			if !ok {
				succ = nil
				continue
			}
			if ack, _ := m.Metadata.(func(error)); ack != nil {
				ack(nil)
			}
		case e, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			if ack, _ := e.Msg.Metadata.(func(error)); ack != nil {
				ack(fmt.Errorf("kafka: sink: write to %s: %w", e.Msg.Topic, e.Err))
			}
		}
	}
}

func (s *Sink) send(m *sarama.ProducerMessage, ack func(error)) {
	m.Metadata = ack
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.shut {
		if ack != nil {
			ack(ErrSinkClosed)
		}
		return
	}
	s.prod.Input() <- m
}

// WriteScore writes res as the score of the input record in, with its
// provenance in headers, and calls ack once Kafka has acknowledged it.
func (s *Sink) WriteScore(in *sarama.ConsumerMessage, res serving.Result, ack func(error)) {
	v, err := json.Marshal(Score{Prediction: res.Prediction, Provenance: res.Provenance, Key: string(in.Key), Topic: in.Topic, Partition: in.Partition, Offset: in.Offset})
	if err != nil {
		// Only a NaN or Inf prediction gets here; it is not a score.
		s.WriteDeadLetter(in, StageScore, fmt.Errorf("kafka: encode score: %w", err), ack)
		return
	}
	m := &sarama.ProducerMessage{Topic: s.o.topic, Value: sarama.ByteEncoder(v), Headers: s.o.provenance(res.Provenance)}
	if in.Key != nil {
		m.Key = sarama.ByteEncoder(in.Key)
	}
	s.send(m, ack)
}

// WriteDeadLetter writes the input record in, unchanged, to the
// dead-letter topic with its origin, the failed stage and the reason in
// headers, and calls ack once Kafka has acknowledged it.
func (s *Sink) WriteDeadLetter(in *sarama.ConsumerMessage, stage string, reason error, ack func(error)) {
	h := make([]sarama.RecordHeader, 0, len(in.Headers)+5)
	for _, x := range in.Headers {
		if x != nil {
			h = append(h, *x)
		}
	}
	msg := "unknown"
	if reason != nil {
		msg = reason.Error()
	}
	h = append(h,
		hdr(HeaderDLQReason, msg),
		hdr(HeaderDLQStage, stage),
		hdr(HeaderDLQTopic, in.Topic),
		hdr(HeaderDLQPartition, strconv.FormatInt(int64(in.Partition), 10)),
		hdr(HeaderDLQOffset, strconv.FormatInt(in.Offset, 10)),
	)
	m := &sarama.ProducerMessage{Topic: s.o.dlq, Value: sarama.ByteEncoder(in.Value), Headers: h}
	if in.Key != nil {
		m.Key = sarama.ByteEncoder(in.Key)
	}
	s.send(m, ack)
}

// Close flushes the records written so far, delivers their
// acknowledgements, and closes the producer. Later writes are
// acknowledged with ErrSinkClosed. Close is idempotent.
func (s *Sink) Close() error {
	s.mu.Lock()
	if s.shut {
		s.mu.Unlock()
		<-s.done
		return nil
	}
	s.shut = true
	s.mu.Unlock()
	s.prod.AsyncClose()
	<-s.done
	return nil
}
