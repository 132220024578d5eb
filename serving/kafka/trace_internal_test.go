package kafka

import (
	"context"
	"testing"

	"github.com/IBM/sarama"
	"go.opentelemetry.io/otel/trace"

	"github.com/modelstream/modelstream/serving/wire"
)

func hdr(k, v string) sarama.RecordHeader {
	return sarama.RecordHeader{Key: []byte(k), Value: []byte(v)}
}

// TestTraceInject: inject replaces the trace headers a dead letter
// copied from its input, keeps the others in order, never writes into a
// shared header slice, and leaves the headers alone when the output
// would no longer fit the producer's size limit, or when there is no
// trace context to write.
func TestTraceInject(t *testing.T) {
	tr := &tracer{}
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x0a, 0xf7, 1},
		SpanID:     trace.SpanID{0xb7, 2},
		TraceFlags: trace.FlagsSampled,
	})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	const want = "00-0af70100000000000000000000000000-b702000000000000-01"

	shared := []sarama.RecordHeader{hdr("a", "1"), hdr(wire.HeaderTraceParent, "00-old-01"), hdr("b", "2"), hdr(wire.HeaderTraceState, "x=y")}
	before := append([]sarama.RecordHeader(nil), shared...)
	m := &sarama.ProducerMessage{Value: sarama.StringEncoder("v"), Headers: shared}
	if !tr.inject(&recordTrace{}, ctx, m, 0) {
		t.Fatal("inject refused with no size limit")
	}
	var got []string
	for _, h := range m.Headers {
		got = append(got, string(h.Key)+"="+string(h.Value))
	}
	if len(got) != 3 || got[0] != "a=1" || got[1] != "b=2" || got[2] != wire.HeaderTraceParent+"="+want {
		t.Errorf("headers after inject: %q", got)
	}
	for i := range shared {
		if string(shared[i].Key) != string(before[i].Key) || string(shared[i].Value) != string(before[i].Value) {
			t.Fatalf("inject changed the shared header slice: %v", shared)
		}
	}

	m = &sarama.ProducerMessage{Value: sarama.StringEncoder("v"), Headers: shared}
	limit := m.ByteSize(2) + 10 // room for the value, not for a traceparent
	if tr.inject(&recordTrace{}, ctx, m, limit) || len(m.Headers) != len(shared) || &m.Headers[0] != &shared[0] {
		t.Errorf("inject at the size limit: headers %v", m.Headers)
	}
	if !tr.inject(&recordTrace{}, ctx, m, limit+100) || len(m.Headers) != 3 {
		t.Errorf("inject with room: headers %v", m.Headers)
	}

	m = &sarama.ProducerMessage{Headers: shared}
	if !tr.inject(&recordTrace{}, context.Background(), m, 0) || &m.Headers[0] != &shared[0] {
		t.Errorf("inject without a span context changed the headers: %v", m.Headers)
	}
}

// TestConsumerHeaders: of a repeated header the last counts, as package
// wire reads headers, and nil headers are skipped.
func TestConsumerHeaders(t *testing.T) {
	a, b := hdr(wire.HeaderTraceParent, "first"), hdr(wire.HeaderTraceParent, "last")
	c := consumerHeaders{&a, nil, &b}
	if v := c.Get(wire.HeaderTraceParent); v != "last" {
		t.Errorf("Get = %q", v)
	}
	if v := c.Get(wire.HeaderTraceState); v != "" {
		t.Errorf("Get of a missing header = %q", v)
	}
	if ks := c.Keys(); len(ks) != 2 {
		t.Errorf("Keys = %q", ks)
	}
}
