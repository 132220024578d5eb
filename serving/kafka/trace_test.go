package kafka_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
	"github.com/modelstream/modelstream/speculative"
)

// traceParent is a parsed traceparent header.
type traceParent struct {
	trace   trace.TraceID
	span    trace.SpanID
	sampled bool
}

// parseTraceParent parses the one traceparent header of m; it fails the
// test if m has none, or more than one.
func parseTraceParent(t testing.TB, m *sarama.ConsumerMessage) traceParent {
	t.Helper()
	var vals []string
	for _, h := range m.Headers {
		if string(h.Key) == wire.HeaderTraceParent {
			vals = append(vals, string(h.Value))
		}
	}
	if len(vals) != 1 {
		t.Fatalf("%s offset %d: %d traceparent headers %q, want 1", m.Topic, m.Offset, len(vals), vals)
	}
	return parseTP(t, vals[0])
}

func parseTP(t testing.TB, v string) traceParent {
	t.Helper()
	parts := strings.Split(v, "-")
	if len(parts) != 4 || parts[0] != "00" {
		t.Fatalf("malformed traceparent %q", v)
	}
	tid, err1 := trace.TraceIDFromHex(parts[1])
	sid, err2 := trace.SpanIDFromHex(parts[2])
	if err1 != nil || err2 != nil || (parts[3] != "00" && parts[3] != "01") {
		t.Fatalf("malformed traceparent %q", v)
	}
	return traceParent{tid, sid, parts[3] == "01"}
}

func traceHeaders(tp, state string) []wire.Header {
	var hs []wire.Header
	if tp != "" {
		hs = append(hs, wire.Header{Key: []byte(wire.HeaderTraceParent), Value: []byte(tp)})
	}
	if state != "" {
		hs = append(hs, wire.Header{Key: []byte(wire.HeaderTraceState), Value: []byte(state)})
	}
	return hs
}

// spanIndex finds recorded spans.
type spanIndex struct {
	t     testing.TB
	spans []sdktrace.ReadOnlySpan
	byID  map[trace.SpanID]sdktrace.ReadOnlySpan
}

func indexSpans(t testing.TB, spans []sdktrace.ReadOnlySpan) *spanIndex {
	x := &spanIndex{t: t, spans: spans, byID: map[trace.SpanID]sdktrace.ReadOnlySpan{}}
	for _, s := range spans {
		x.byID[s.SpanContext().SpanID()] = s
	}
	return x
}

// get returns the span id, failing the test if it was not recorded.
func (x *spanIndex) get(id trace.SpanID, what string) sdktrace.ReadOnlySpan {
	x.t.Helper()
	s, ok := x.byID[id]
	if !ok {
		x.t.Fatalf("%s: no span %s recorded", what, id)
	}
	return s
}

// children returns the spans named name whose parent is p.
func (x *spanIndex) children(p sdktrace.ReadOnlySpan, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range x.spans {
		if s.Parent().SpanID() == p.SpanContext().SpanID() && s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// child returns the one span named name whose parent is p.
func (x *spanIndex) child(p sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	x.t.Helper()
	cs := x.children(p, name)
	if len(cs) != 1 {
		x.t.Fatalf("span %q has %d children %q, want 1", p.Name(), len(cs), name)
	}
	return cs[0]
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// wantAttrs checks that s has each attribute of want, with its value.
func wantAttrs(t testing.TB, s sdktrace.ReadOnlySpan, want ...attribute.KeyValue) {
	t.Helper()
	got := attrs(s)
	for _, kv := range want {
		if v, ok := got[kv.Key]; !ok || v.Emit() != kv.Value.Emit() {
			t.Errorf("span %q: %s = %q, want %q", s.Name(), kv.Key, v.Emit(), kv.Value.Emit())
		}
	}
}

func recorder() (*tracetest.SpanRecorder, *sdktrace.TracerProvider) {
	sr := tracetest.NewSpanRecorder()
	return sr, sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
}

// countProcess counts the ended process spans.
func countProcess(sr *tracetest.SpanRecorder) int {
	n := 0
	for _, s := range sr.Ended() {
		if strings.HasPrefix(s.Name(), "process ") {
			n++
		}
	}
	return n
}

// TestTracingPropagates runs records with and without trace context,
// good and bad, through a traced Source on the embedded broker, scored by
// a blue/green Switch, and follows each from its input's traceparent to
// its score's or dead letter's: same trace, the output's parent span is
// the recorded send span, whose parent is the record's process span,
// whose parent is the input's span. The spans carry the model, the
// Switch's decision, the dead letters and the errors. It runs at least
// once and exactly once, whose transactional producers write the
// outputs.
func TestTracingPropagates(t *testing.T) {
	t.Run("at-least-once", func(t *testing.T) { testTracingPropagates(t) })
	t.Run("exactly-once", func(t *testing.T) { testTracingPropagates(t, kafka.ExactlyOnce()) })
}

func testTracingPropagates(t *testing.T, opts ...kafka.SourceOption) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	srv := newServer(t)
	ref, err := srv.Activate(context.Background(), linearModel(t, "m", 4, 3, 1))
	if err != nil {
		t.Fatal(err)
	}
	if ref.ID == "" {
		t.Fatal("the Server gave the model no content ID")
	}
	sw, err := speculative.NewSwitch(srv.Model("m"), srv.Model("m"), speculative.WithName("bluegreen"))
	if err != nil {
		t.Fatal(err)
	}
	scores := collect(t, c, kafka.DefaultScoresTopic)
	dlq := collect(t, c, kafka.DefaultDeadLetterTopic)
	sr, tp := recorder()

	const (
		tp0   = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
		tp1   = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		tp2   = "00-5ba92f3577b34da6a3ce929d0e0e4736-10f067aa0ba902b7-01"
		state = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
	)
	inputs := []kafkatest.Message{
		{Key: []byte("a"), Value: []byte("[1,1,1]"), Headers: traceHeaders(tp0, state)},
		{Key: []byte("b"), Value: []byte(`{"not":"an array"`), Headers: traceHeaders(tp1, "")}, // decode fails
		{Key: []byte("c"), Value: []byte("[2,2]"), Headers: traceHeaders(tp2, state)},          // scoring fails
		{Key: []byte("d"), Value: []byte("[3,3,3]")},                                           // no trace context
		{Key: []byte("e"), Value: []byte("[4,4,4]"), Headers: traceHeaders("00-not-a-trace-01", "")},
	}
	c.Produce(t, kafka.DefaultDataTopic, inputs...)
	startSource(t, c, "traced", sw, append(opts, kafka.TracerProvider(tp))...)

	out := map[int64]*sarama.ConsumerMessage{} // by input offset
	for _, m := range scores.next(t, 3) {
		out[decodeScore(t, m).Offset] = m
	}
	for _, m := range dlq.next(t, 2) {
		d, err := wire.ParseDeadLetter(kafka.Headers(m))
		if err != nil {
			t.Fatal(err)
		}
		out[d.Offset] = m
	}
	waitFor(t, "5 process spans ended", func() bool { return countProcess(sr) == 5 })
	x := indexSpans(t, sr.Ended())

	for off, in := range inputs {
		m := out[int64(off)]
		if m == nil {
			t.Fatalf("no output for input %d", off)
		}
		got := parseTraceParent(t, m)
		send := x.get(got.span, fmt.Sprintf("input %d: the output's parent span", off))
		if send.Name() != "send "+m.Topic || send.SpanKind() != trace.SpanKindProducer || send.SpanContext().TraceID() != got.trace || !got.sampled {
			t.Errorf("input %d: output's parent is %q (%s) in trace %s, sampled %v", off, send.Name(), send.SpanKind(), send.SpanContext().TraceID(), got.sampled)
		}
		wantAttrs(t, send,
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", m.Topic),
			attribute.String("messaging.destination.partition.id", fmt.Sprint(m.Partition)),
			attribute.Int64("messaging.kafka.offset", m.Offset))
		proc := x.get(send.Parent().SpanID(), fmt.Sprintf("input %d: the send span's parent", off))
		if proc.Name() != "process "+kafka.DefaultDataTopic || proc.SpanKind() != trace.SpanKindConsumer {
			t.Errorf("input %d: send span's parent is %q (%s)", off, proc.Name(), proc.SpanKind())
		}
		wantAttrs(t, proc,
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", kafka.DefaultDataTopic),
			attribute.String("messaging.destination.partition.id", "0"),
			attribute.Int64("messaging.kafka.offset", int64(off)),
			attribute.String("messaging.consumer.group.name", "traced"))

		inTP, _ := in.Header(wire.HeaderTraceParent)
		switch off {
		case 0, 1, 2:
			want := parseTP(t, inTP)
			if got.trace != want.trace {
				t.Errorf("input %d: output trace %s, input's %s", off, got.trace, want.trace)
			}
			if !proc.Parent().IsRemote() || proc.Parent().SpanID() != want.span || proc.Parent().TraceID() != want.trace {
				t.Errorf("input %d: process span's parent is %s/%s (remote %v), want the input's %s", off, proc.Parent().TraceID(), proc.Parent().SpanID(), proc.Parent().IsRemote(), inTP)
			}
		default: // no trace context, or a malformed one: a new trace
			if proc.Parent().IsValid() || got.trace != proc.SpanContext().TraceID() {
				t.Errorf("input %d (traceparent %q): process span's parent %v, output's trace %s, process span's %s", off, inTP, proc.Parent(), got.trace, proc.SpanContext().TraceID())
			}
		}
		wantState, _ := in.Header(wire.HeaderTraceState)
		if st := header(m, wire.HeaderTraceState); st != wantState {
			t.Errorf("input %d: output tracestate %q, want %q", off, st, wantState)
		}

		decode := x.child(proc, "decode")
		scored := x.children(proc, "score")
		switch off {
		case 1: // decode failed
			if decode.Status().Code != codes.Error || len(decode.Events()) == 0 || decode.Events()[0].Name != "exception" || len(scored) != 0 {
				t.Errorf("input 1: decode span status %v, events %v; %d score spans", decode.Status(), decode.Events(), len(scored))
			}
		default:
			if decode.Status().Code == codes.Error || len(scored) != 1 {
				t.Fatalf("input %d: decode span status %v; %d score spans", off, decode.Status(), len(scored))
			}
			wantAttrs(t, scored[0],
				attribute.String("modelstream.model.name", "m"),
				attribute.Int64("modelstream.model.version", 4),
				attribute.String("modelstream.model.id", ref.ID),
				attribute.String("modelstream.model.format", ref.Format),
				attribute.String("modelstream.decision.combinator", "switch"),
				attribute.String("modelstream.decision.variant", speculative.Blue))
			if w := attrs(scored[0])["modelstream.decision.winner"].AsInt64(); (off == 2) != (w == -1) {
				t.Errorf("input %d: decision winner %d", off, w)
			}
			cands := attrs(scored[0])["modelstream.decision.candidates"].AsStringSlice()
			if len(cands) != 2 || !strings.HasSuffix(cands[1], " skipped") {
				t.Errorf("input %d: candidates %q", off, cands)
			}
		}
		dead := off == 1 || off == 2
		if a := attrs(proc); a["modelstream.dead_letter"].AsBool() != dead {
			t.Errorf("input %d: process span dead_letter = %v, want %v", off, a["modelstream.dead_letter"].AsBool(), dead)
		}
		if dead != (proc.Status().Code == codes.Error) || dead != (m.Topic == kafka.DefaultDeadLetterTopic) {
			t.Errorf("input %d: process span status %v, output on %s", off, proc.Status(), m.Topic)
		}
		if dead {
			wantAttrs(t, proc, attribute.String("modelstream.dead_letter.stage", header(m, wire.HeaderDLQStage)))
		}
		if off == 2 && scored[0].Status().Code != codes.Error {
			t.Errorf("input 2: score span status %v, want an error", scored[0].Status())
		}
	}
}

// TestTracingWithoutRecording: a no-op provider, a sampler that records
// nothing and tracing off each score the same records. Without
// recording, outputs still carry the input's trace (a no-op provider
// passes its context on unchanged; the SDK gives the record a span of
// its own, not sampled), and nothing is recorded. Off, a score carries no
// trace context and a dead letter carries the input's headers unchanged.
func TestTracingWithoutRecording(t *testing.T) {
	const in = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	for _, tc := range []struct {
		name string
		tp   trace.TracerProvider
	}{
		{"noop", noop.NewTracerProvider()},
		{"never-sample", nil},
		{"off", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
			srv := newServer(t)
			if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
				t.Fatal(err)
			}
			sr := tracetest.NewSpanRecorder()
			var opts []kafka.SourceOption
			switch tc.name {
			case "noop":
				opts = append(opts, kafka.TracerProvider(tc.tp))
			case "never-sample":
				opts = append(opts, kafka.TracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr), sdktrace.WithSampler(sdktrace.NeverSample()))))
			}
			scores := collect(t, c, kafka.DefaultScoresTopic)
			dlq := collect(t, c, kafka.DefaultDeadLetterTopic)
			c.Produce(t, kafka.DefaultDataTopic,
				kafkatest.Message{Value: []byte("[1,1,1]"), Headers: traceHeaders(in, "k=v")},
				kafkatest.Message{Value: []byte("nope"), Headers: traceHeaders(in, "k=v")})
			startSource(t, c, "untraced", srv.Model("m"), opts...)
			score, dead := scores.next(t, 1)[0], dlq.next(t, 1)[0]
			want := parseTP(t, in)
			if tc.name == "off" {
				if header(score, wire.HeaderTraceParent) != "" || header(score, wire.HeaderTraceState) != "" {
					t.Errorf("untraced score carries trace context: %v", score.Headers)
				}
				if header(dead, wire.HeaderTraceParent) != in || header(dead, wire.HeaderTraceState) != "k=v" {
					t.Errorf("untraced dead letter lost the input's headers: %v", dead.Headers)
				}
				return
			}
			for _, m := range []*sarama.ConsumerMessage{score, dead} {
				got := parseTraceParent(t, m)
				// A no-op provider passes the input's context on as it is;
				// the SDK gives the record a span of its own, not sampled.
				noop := tc.name == "noop"
				if got.trace != want.trace || got.sampled != noop || noop != (got.span == want.span) {
					t.Errorf("%s: output traceparent %+v, input's %+v", m.Topic, got, want)
				}
				if st := header(m, wire.HeaderTraceState); st != "k=v" {
					t.Errorf("%s: tracestate %q", m.Topic, st)
				}
			}
			if n := len(sr.Started()); n != 0 {
				t.Errorf("%d spans recorded", n)
			}
		})
	}
}

// TestTracingBatches: with MaxBatch, records scored in one ScoreBatch
// call each get a score span with the model and the batch's size, and a
// record that fails to decode inside a batch is dead-lettered with its
// own trace.
func TestTracingBatches(t *testing.T) {
	const n = 200
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	srv := newServer(t)
	ref, err := srv.Activate(context.Background(), linearModel(t, "m", 2, 3, 1))
	if err != nil {
		t.Fatal(err)
	}
	msgs := make([]kafkatest.Message, n)
	traceOf := make([]string, n)
	for i := range msgs {
		traceOf[i] = fmt.Sprintf("%032x", i+1)
		msgs[i] = kafkatest.Message{Value: fmt.Appendf(nil, "[%d,1,1]", i), Headers: traceHeaders("00-"+traceOf[i]+"-00f067aa0ba902b7-01", "")}
		if i%50 == 7 {
			msgs[i].Value = []byte("[1,")
		}
	}
	c.Produce(t, kafka.DefaultDataTopic, msgs...)
	scores := collect(t, c, kafka.DefaultScoresTopic)
	dlq := collect(t, c, kafka.DefaultDeadLetterTopic)
	sr, tp := recorder()
	startSource(t, c, "batches", srv.Model("m"), kafka.TracerProvider(tp), kafka.MaxBatch(64))
	outs := append(scores.next(t, n-4), dlq.next(t, 4)...)
	waitFor(t, "all process spans ended", func() bool { return countProcess(sr) == n })
	x := indexSpans(t, sr.Ended())
	batched := 0
	for _, m := range outs {
		var off int
		if m.Topic == kafka.DefaultDeadLetterTopic {
			d, _ := wire.ParseDeadLetter(kafka.Headers(m))
			off = int(d.Offset)
		} else {
			off = int(decodeScore(t, m).Offset)
		}
		got := parseTraceParent(t, m)
		if got.trace.String() != traceOf[off] {
			t.Fatalf("input %d: output trace %s, want %s", off, got.trace, traceOf[off])
		}
		proc := x.get(x.get(got.span, "send span").Parent().SpanID(), "process span")
		if m.Topic == kafka.DefaultDeadLetterTopic {
			if off%50 != 7 || x.child(proc, "decode").Status().Code != codes.Error || len(x.children(proc, "score")) != 0 {
				t.Errorf("dead letter of input %d", off)
			}
			continue
		}
		s := x.child(proc, "score")
		wantAttrs(t, s, attribute.String("modelstream.model.name", "m"), attribute.Int64("modelstream.model.version", 2), attribute.String("modelstream.model.id", ref.ID))
		if attrs(s)["modelstream.batch.size"].AsInt64() > 1 {
			batched++
		}
	}
	t.Logf("%d of %d scores were scored in batches of more than one", batched, n-4)
	if batched == 0 {
		t.Error("no record was scored in a batch: the test does not exercise the batch path")
	}
}

// TestTracingAbandoned: records abandoned at shutdown (a Scorer stuck
// past the drain timeout, and the records after it) end their process
// spans, marked so, with no send span; none is left open, and the
// records before them end as scored.
func TestTracingAbandoned(t *testing.T) {
	const n, stuckAt = 50, 20
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	keys, vals := records(0, n)
	produce(t, c, kafka.DefaultDataTopic, keys, vals)
	stuck := make(chan struct{})
	var once sync.Once
	scorer := serving.ScorerFunc(func(ctx context.Context, r serving.Record) (serving.Result, error) {
		if r.Features[0] == stuckAt {
			once.Do(func() { close(stuck) })
			<-ctx.Done()
			return serving.Result{}, ctx.Err()
		}
		return srv.Model("m").Score(ctx, r)
	})
	sr, tp := recorder()
	r := startSource(t, c, "abandon", scorer, kafka.DrainTimeout(50*time.Millisecond), kafka.TracerProvider(tp))
	select {
	case <-stuck:
	case <-time.After(time.Minute):
		t.Fatal("the stuck record was never scored")
	}
	r.stop(t)

	started := 0
	for _, s := range sr.Started() {
		if strings.HasPrefix(s.Name(), "process ") {
			started++
		}
	}
	x := indexSpans(t, sr.Ended())
	ended := 0
	for _, proc := range x.spans {
		if !strings.HasPrefix(proc.Name(), "process ") {
			continue
		}
		ended++
		off := attrs(proc)["messaging.kafka.offset"].AsInt64()
		abandoned := len(proc.Events()) > 0 && strings.HasPrefix(proc.Events()[len(proc.Events())-1].Name, "abandoned")
		sends := x.children(proc, "send "+kafka.DefaultScoresTopic)
		if (off >= stuckAt) != abandoned || (len(sends) == 1) == abandoned {
			t.Errorf("offset %d: abandoned %v, %d send spans", off, abandoned, len(sends))
		}
	}
	if started < stuckAt+1 || ended != started {
		t.Errorf("%d process spans started, %d ended", started, ended)
	}
}
