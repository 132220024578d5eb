package kafka

import (
	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving/wire"
)

// Headers returns the headers of a consumed message in the wire
// package's form, to read with wire.ProvenanceOf, wire.ParseDeadLetter
// or wire.DecodeModel.
func Headers(m *sarama.ConsumerMessage) []wire.Header {
	out := make([]wire.Header, 0, len(m.Headers))
	for _, h := range m.Headers {
		if h != nil {
			out = append(out, wire.Header(*h))
		}
	}
	return out
}

// toSarama converts wire headers for a producer message.
func toSarama(hs []wire.Header) []sarama.RecordHeader {
	out := make([]sarama.RecordHeader, len(hs))
	for i, h := range hs {
		out[i] = sarama.RecordHeader(h)
	}
	return out
}

// modelMessage returns a consumed message in the wire package's form.
func modelMessage(m *sarama.ConsumerMessage) wire.Message {
	return wire.Message{Key: m.Key, Value: m.Value, Headers: Headers(m)}
}
