package kafka

import (
	"errors"
	"strings"
	"testing"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving/wire"
)

// TestDeadLetterTruncatedCountsWhatWasLeftOut: the truncated header of a
// dead letter too large for the producer counts the bytes of the input
// left out, and is absent when nothing was. It said 1 for an input with
// an empty value and no key, where only the reason had been cut short,
// and counted only the value when the input's headers or key went too.
func TestDeadLetterTruncatedCountsWhatWasLeftOut(t *testing.T) {
	s := &Sink{o: sinkOptions{topic: "scores", dlq: "dlq"}, max: 600}
	long := errors.New(strings.Repeat("r", 2000)) // too long by itself: cut to fit
	for _, tc := range []struct {
		name string
		in   *sarama.ConsumerMessage
		want []string // with a short reason, a long one; "" for no header
	}{
		{"empty value", &sarama.ConsumerMessage{Topic: "data", Value: []byte{}}, []string{"", ""}},
		// The key goes before the reason is cut: the key was left out.
		{"empty value, key", &sarama.ConsumerMessage{Topic: "data", Key: []byte("k")}, []string{"", "1"}},
		{"value", &sarama.ConsumerMessage{Topic: "data", Key: []byte("k"), Value: make([]byte, 500)}, []string{"500", "501"}},
		{"empty value, big headers", &sarama.ConsumerMessage{Topic: "data", Headers: []*sarama.RecordHeader{
			{Key: []byte("h1"), Value: make([]byte, 300)}, nil, {Key: []byte("h2"), Value: make([]byte, 298)}}}, []string{"602", "602"}},
		{"value and headers", &sarama.ConsumerMessage{Topic: "data", Value: make([]byte, 100), Headers: []*sarama.RecordHeader{
			{Key: []byte("h"), Value: make([]byte, 599)}}}, []string{"700", "700"}},
		{"value and big key", &sarama.ConsumerMessage{Topic: "data", Key: make([]byte, 1000), Value: []byte("[1]")}, []string{"1003", "1003"}},
	} {
		for i, reason := range []error{errors.New("bad"), long} {
			m := s.deadLetterMessage(tc.in, wire.StageDecode, reason)
			if m.ByteSize(2) > s.max {
				t.Errorf("%s: %d bytes, over the limit %d", tc.name, m.ByteSize(2), s.max)
			}
			got, present := "", false
			for _, h := range m.Headers {
				if string(h.Key) == wire.HeaderDLQTruncated {
					got, present = string(h.Value), true
				}
			}
			if want := tc.want[i]; got != want || present != (want != "") {
				t.Errorf("%s, reason of %d bytes: truncated %q (present %v), want %q", tc.name, len(reason.Error()), got, present, want)
			}
		}
	}
}
