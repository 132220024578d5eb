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
		// The reason is cut before the key goes: the key stays.
		{"empty value, key", &sarama.ConsumerMessage{Topic: "data", Key: []byte("k")}, []string{"", ""}},
		{"value", &sarama.ConsumerMessage{Topic: "data", Key: []byte("k"), Value: make([]byte, 500)}, []string{"500", "500"}},
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

// TestDeadLetterCutsReasonBeforeKey: an oversized dead letter cuts its
// reason before it gives up the input's key, which names the record and
// is what a replay partitions by; the key goes only when the reason
// would have to shrink below minReason, and then the reason gets back
// the room the key freed. The key went first: a 4 KiB reason cost a
// 40-byte key.
func TestDeadLetterCutsReasonBeforeKey(t *testing.T) {
	s := &Sink{o: sinkOptions{topic: "scores", dlq: "dlq"}, max: 1000}
	reason := errors.New(strings.Repeat("r", maxReason))
	header := func(m *sarama.ProducerMessage, k string) string {
		for _, h := range m.Headers {
			if string(h.Key) == k {
				return string(h.Value)
			}
		}
		return ""
	}
	key := []byte(strings.Repeat("k", 40))
	m := s.deadLetterMessage(&sarama.ConsumerMessage{Topic: "data", Key: key, Value: make([]byte, 2000)}, wire.StageDecode, reason)
	if m.ByteSize(2) > s.max {
		t.Fatalf("%d bytes, over the limit %d", m.ByteSize(2), s.max)
	}
	if m.Key == nil || header(m, wire.HeaderDLQTruncated) != "2000" {
		t.Errorf("small key: key %v, truncated %q; want the key kept and 2000 bytes left out", m.Key, header(m, wire.HeaderDLQTruncated))
	}
	if got := header(m, wire.HeaderDLQReason); len(got) < minReason || len(got) >= maxReason || !strings.HasSuffix(got, "...") {
		t.Errorf("small key: reason of %d bytes, want it cut, to at least %d", len(got), minReason)
	}
	// A key that leaves less than minReason for the reason goes, and the
	// reason fills the room it frees.
	key = []byte(strings.Repeat("k", 800))
	m = s.deadLetterMessage(&sarama.ConsumerMessage{Topic: "data", Key: key}, wire.StageDecode, reason)
	if m.ByteSize(2) > s.max || m.Key != nil || header(m, wire.HeaderDLQTruncated) != "800" {
		t.Errorf("big key: %d bytes, key kept %v, truncated %q", m.ByteSize(2), m.Key != nil, header(m, wire.HeaderDLQTruncated))
	}
	if got := header(m, wire.HeaderDLQReason); len(got) < 600 {
		t.Errorf("big key: reason of %d bytes, want the room of the key given back", len(got))
	}
}
