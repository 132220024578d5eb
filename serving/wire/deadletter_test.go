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
