package wire_test

import (
	"errors"
	"testing"

	"github.com/modelstream/modelstream/serving/wire"
)

func TestDeadLetterRoundTrip(t *testing.T) {
	for _, d := range []wire.DeadLetter{
		{Topic: "orders", Partition: 3, Offset: 1 << 40, Stage: wire.StageDecode, Reason: "kafka: cannot decode record: field age: not a number"},
		{Topic: "orders", Stage: wire.StageScore, Reason: "x", Truncated: 2 << 20},
	} {
		hs := append([]wire.Header{{Key: []byte("traceparent"), Value: []byte("00-1")}}, d.Headers()...)
		got, err := wire.ParseDeadLetter(hs)
		if err != nil || got != d {
			t.Fatalf("round trip: got %+v, %v; want %+v", got, err, d)
		}
	}
	if n := len((wire.DeadLetter{Stage: wire.StageScore}).Headers()); n != 5 {
		t.Errorf("an untruncated dead letter has %d headers, want 5 (no %s)", n, wire.HeaderDLQTruncated)
	}
}

func TestDeadLetterErrors(t *testing.T) {
	if _, err := wire.ParseDeadLetter(nil); !errors.Is(err, wire.ErrMalformed) {
		t.Errorf("no headers: %v", err)
	}
	hs := (wire.DeadLetter{Stage: wire.StageScore}).Headers()
	hs[3].Value = []byte("three")
	var we *wire.Error
	if _, err := wire.ParseDeadLetter(hs); !errors.As(err, &we) || we.Header != wire.HeaderDLQPartition {
		t.Errorf("bad partition: %v", err)
	}
}

// TestDeadLetterNegativeNumbers: a partition, offset or truncated size
// below zero is malformed, naming the header; the writer never writes
// one. They parsed, so a dead letter said it came from offset -1, and a
// negative Truncated did not survive the round trip (Headers leaves it
// out).
func TestDeadLetterNegativeNumbers(t *testing.T) {
	for i, name := range []string{wire.HeaderDLQPartition, wire.HeaderDLQOffset, wire.HeaderDLQTruncated} {
		hs := (wire.DeadLetter{Stage: wire.StageScore, Truncated: 1}).Headers()
		hs[3+i].Value = []byte("-1")
		var we *wire.Error
		if d, err := wire.ParseDeadLetter(hs); !errors.Is(err, wire.ErrMalformed) || !errors.As(err, &we) || we.Header != name {
			t.Errorf("%s -1: %+v, %v; want a *wire.Error naming it", name, d, err)
		}
	}
}

// FuzzParseDeadLetter: any dead-letter headers parse or fail with
// ErrMalformed, and what parses writes back to what parses the same.
func FuzzParseDeadLetter(f *testing.F) {
	f.Add("bad JSON", "decode", "orders", "2", "41", "")
	f.Add("", "", "", "-1", "x", "-3")
	f.Fuzz(func(t *testing.T, reason, stage, topic, partition, offset, truncated string) {
		hs := []wire.Header{
			{Key: []byte(wire.HeaderDLQReason), Value: []byte(reason)},
			{Key: []byte(wire.HeaderDLQStage), Value: []byte(stage)},
			{Key: []byte(wire.HeaderDLQTopic), Value: []byte(topic)},
			{Key: []byte(wire.HeaderDLQPartition), Value: []byte(partition)},
			{Key: []byte(wire.HeaderDLQOffset), Value: []byte(offset)},
		}
		if truncated != "" {
			hs = append(hs, wire.Header{Key: []byte(wire.HeaderDLQTruncated), Value: []byte(truncated)})
		}
		d, err := wire.ParseDeadLetter(hs)
		if err != nil {
			if !errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("%v does not wrap ErrMalformed", err)
			}
			return
		}
		again, err := wire.ParseDeadLetter(d.Headers())
		if err != nil || again != d {
			t.Fatalf("%+v writes back as %+v, %v", d, again, err)
		}
	})
}
