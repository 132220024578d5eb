package kafka

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/wire"
)

// TracerProvider makes a Source trace every record it reads with
// OpenTelemetry, through tracers of tp, overriding the default of no
// tracing. A nil tp turns tracing off. To use the global provider, pass
// otel.GetTracerProvider().
//
// Each record gets a "process <topic>" span (a consumer span), whose
// parent is the W3C trace context in the record's traceparent and
// tracestate headers, or which starts a new trace when they are missing
// or malformed. Under it are a "decode" span, a "score" span that
// carries the model's name, version, content ID and format and the
// combinator's decision (see "Tracing" in the package documentation),
// and a "send <topic>" span (a producer span) that lasts until Kafka
// acknowledges the score or dead letter. The score or dead letter
// carries the send span's context in its own traceparent and tracestate
// headers (see package serving/wire), so that its consumers continue the
// trace. A dead-lettered record's process span says so, and errors are
// recorded on the spans where they happened. The Scorer's Score runs
// with the score span in its context, so that its own spans join the
// trace. A ScoreBatch call (see MaxBatch) scores the records of many
// traces at once, so it runs in none of them: its records' score spans
// are recorded after it returns, sharing its start and end.
//
// Under [ExactlyOnce], a record's send span ends when the transactional
// producer acknowledges its output, and its process span when the
// transaction that holds the output commits, or aborts: then the process
// span has a "transaction aborted, to be read again" event and error
// status, the output is never visible to read_committed consumers, and
// the record, read again from the partition's last commit, gets another
// process span for the same offset (in the same trace when its input
// carries a trace context). Of a record's process spans, the one that
// ends with neither that event nor an "abandoned" one is the output
// committed.
//
// A record whose process span is not recording (the sampler left it out,
// or tp is a no-op provider) gets no further spans, but its outputs still
// carry its trace context. The sampler decides on the process span's
// name, kind and parent, the input's trace context: its messaging
// attributes are set only once the span records, which spares the
// records a sampler leaves out the cost of building them.
//
// Without a provider the Source reads and writes no trace header, and
// tracing costs a nil check per step: BenchmarkTracing finds the same
// CPU time and the same allocations per record as before tracing
// existed. With one, a record that is not recorded costs a few
// allocations (its trace context, read and written), and a recorded one
// its four spans: BenchmarkTracing and BenchmarkPipelineTracing measure
// both.
func TracerProvider(tp trace.TracerProvider) SourceOption {
	return sourceOpt(func(o *sourceOptions) {
		o.tracer = nil
		if tp != nil {
			o.tracer = &tracer{t: tp.Tracer(instrumentationName)}
		}
	})
}

// instrumentationName is the name of the package's tracers.
const instrumentationName = "github.com/modelstream/modelstream/serving/kafka"

// The span attributes of the package's own, beside OpenTelemetry's
// messaging conventions; see "Tracing" in the package documentation.
const (
	attrModelName      = attribute.Key("modelstream.model.name")
	attrModelVersion   = attribute.Key("modelstream.model.version")
	attrModelID        = attribute.Key("modelstream.model.id")
	attrModelFormat    = attribute.Key("modelstream.model.format")
	attrCombinator     = attribute.Key("modelstream.decision.combinator")
	attrDecider        = attribute.Key("modelstream.decision.decider")
	attrVariant        = attribute.Key("modelstream.decision.variant")
	attrWinner         = attribute.Key("modelstream.decision.winner")
	attrCandidates     = attribute.Key("modelstream.decision.candidates")
	attrBatchSize      = attribute.Key("modelstream.batch.size")
	attrDeadLetter     = attribute.Key("modelstream.dead_letter")
	attrDeadLetterStep = attribute.Key("modelstream.dead_letter.stage")
)

// tracer is a Source's instrumentation. A nil *tracer is tracing turned
// off, and each of its methods then returns at once, so that the Source
// calls them unconditionally.
type tracer struct {
	t     trace.Tracer
	prop  propagation.TraceContext
	names sync.Map // "process <topic>" and "send <topic>", by operation and topic
}

// spanName returns op+" "+topic, without allocating after the first
// time: span names of a pipeline are few.
func (t *tracer) spanName(op, topic string) string {
	type key struct{ op, topic string }
	if n, ok := t.names.Load(key{op, topic}); ok {
		return n.(string)
	}
	n := op + " " + topic
	t.names.Store(key{op, topic}, n)
	return n
}

// recordTrace is the trace of one record through a Source.
type recordTrace struct {
	ctx       context.Context // carries span
	span      trace.Span      // the record's process span
	recording bool            // span.IsRecording(): child spans are made only then
	out       producerHeaders // what the propagator writes, for the output
}

// begin starts the process span of each record of b, as a child of the
// trace context in the record's headers. It runs on a scoring worker;
// the spans start at the time the reader took the batch.
func (t *tracer) begin(s *Source, b *batch) {
	if t != nil {
		t.beginBatch(s, b)
	}
}

func (t *tracer) beginBatch(s *Source, b *batch) {
	// A batch holds records of one partition, read together: what their
	// spans share is made once, and set on recording spans only.
	m0 := b.items[0].msg
	name := t.spanName("process", m0.Topic)
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithTimestamp(time.Unix(0, b.read)),
	}
	var common []attribute.KeyValue
	trs := make([]recordTrace, len(b.items))
	for i := range b.items {
		it := &b.items[i]
		m := it.msg
		ctx := t.prop.Extract(context.Background(), consumerHeaders(m.Headers))
		ctx, span := t.t.Start(ctx, name, opts...)
		rt := &trs[i]
		rt.ctx, rt.span, rt.recording = ctx, span, span.IsRecording()
		if rt.recording {
			if common == nil {
				common = []attribute.KeyValue{
					semconv.MessagingSystemKafka,
					semconv.MessagingOperationTypeProcess,
					semconv.MessagingOperationName("process"),
					semconv.MessagingDestinationName(m0.Topic),
					semconv.MessagingDestinationPartitionID(strconv.Itoa(int(m0.Partition))),
					semconv.MessagingConsumerGroupName(s.group),
				}
			}
			span.SetAttributes(common...)
			span.SetAttributes(semconv.MessagingKafkaOffset(int(m.Offset)), semconv.MessagingMessageBodySize(len(m.Value)))
		}
		it.tr = rt
	}
}

// decodeItem decodes it's value, in a decode span when tracing; the JSON
// codec takes an array's features from fs.
func (s *Source) decodeItem(it *item, fs *floatSlab) (r serving.Record, err error) {
	if it.tr != nil && it.tr.recording {
		return s.decodeTraced(it)
	}
	defer s.recoverPanic("codec", &err) // as s.decode, one call less
	if c, ok := s.o.codec.(JSON); ok {
		return c.decode(it.msg.Value, fs)
	}
	return s.o.codec.Decode(it.msg.Value)
}

func (s *Source) decodeTraced(it *item) (serving.Record, error) {
	_, sp := s.o.tracer.t.Start(it.tr.ctx, "decode")
	r, err := s.decode(it.msg.Value)
	if err != nil {
		fail(sp, err)
	}
	sp.End()
	return r, err
}

// scoreItem scores r, the record of it, in a score span when tracing,
// with the span in the Scorer's context.
func (s *Source) scoreItem(ctx context.Context, it *item, r serving.Record) (res serving.Result, err error) {
	if it.tr != nil {
		return s.scoreTraced(ctx, it, r)
	}
	defer s.recoverPanic("scorer", &err) // as s.score, one call less
	return s.scorer.Score(ctx, r)
}

func (s *Source) scoreTraced(ctx context.Context, it *item, r serving.Record) (serving.Result, error) {
	t := it.tr
	if !t.recording {
		// The Scorer's own spans must see that this trace is sampled
		// out, rather than start traces of their own.
		return s.score(trace.ContextWithSpan(ctx, t.span), r)
	}
	_, sp := s.o.tracer.t.Start(t.ctx, "score")
	res, err := s.score(trace.ContextWithSpan(ctx, sp), r)
	scoreAttributes(sp, res, err)
	sp.End()
	return res, err
}

// now returns the time for the spans of a ScoreBatch call, or the zero
// time, without reading the clock, when not tracing.
func (t *tracer) now() time.Time {
	if t == nil {
		return time.Time{}
	}
	return time.Now()
}

// scoredBatch records a score span for each record b.items[at[k]] that
// one ScoreBatch call, begun at start, scored: they share its start and
// end, and say how many records the call scored.
func (t *tracer) scoredBatch(b *batch, at []int, start time.Time, out []serving.Result, errs []error) {
	if t != nil {
		t.scoredBatchSpans(b, at, start, out, errs)
	}
}

func (t *tracer) scoredBatchSpans(b *batch, at []int, start time.Time, out []serving.Result, errs []error) {
	end := trace.WithTimestamp(time.Now())
	size := attrBatchSize.Int(len(at))
	for k, i := range at {
		rt := b.items[i].tr
		if rt == nil || !rt.recording {
			continue
		}
		_, sp := t.t.Start(rt.ctx, "score", trace.WithTimestamp(start), trace.WithAttributes(size))
		scoreAttributes(sp, out[k], errs[k])
		sp.End(end)
	}
}

// scoreAttributes sets what scored a record on its score span: the
// model of the Result's provenance (or of the *serving.ModelError, when
// the Result has none) and the combinator's decision; and the error.
func scoreAttributes(sp trace.Span, res serving.Result, err error) {
	p := res.Provenance
	var se *serving.ModelError
	if p.Model.Name == "" && errors.As(err, &se) {
		p.Model = se.Model
	}
	if m := p.Model; m.Name != "" {
		sp.SetAttributes(attrModelName.String(m.Name), attrModelVersion.Int64(int64(m.Version)))
		if m.ID != "" {
			sp.SetAttributes(attrModelID.String(m.ID))
		}
		if m.Format != "" {
			sp.SetAttributes(attrModelFormat.String(m.Format))
		}
	}
	if d := p.Decision; d != nil {
		cands := make([]string, len(d.Candidates))
		for i, c := range d.Candidates {
			cands[i] = c.Model.String() + " " + c.Status.String()
		}
		sp.SetAttributes(attrCombinator.String(d.Combinator), attrWinner.Int(d.Winner), attrCandidates.StringSlice(cands))
		if d.Decider != "" {
			sp.SetAttributes(attrDecider.String(d.Decider))
		}
		if d.Variant != "" {
			sp.SetAttributes(attrVariant.String(d.Variant))
		}
	}
	if err != nil {
		fail(sp, err)
	}
}

// fail records err on sp and sets its status.
func fail(sp trace.Span, err error) {
	sp.RecordError(err)
	sp.SetStatus(codes.Error, err.Error())
}

// write hands the score or dead letter of it to send: the Sink's, or
// under ExactlyOnce the partition's transactional producer. When tracing,
// it writes the record's trace context into the output's headers and,
// for a recording trace, wraps the write in a send span; the record's
// process span ends with the acknowledgement.
func (s *Source) write(send func(*sarama.ProducerMessage, func(error)), it *item, ack func(error)) {
	if it.tr == nil {
		send(it.out, ack)
		return
	}
	s.writeTraced(send, it, ack)
}

func (s *Source) writeTraced(send func(*sarama.ProducerMessage, func(error)), it *item, ack func(error)) {
	t := it.tr
	m := it.out
	if !t.recording {
		s.o.tracer.inject(t, t.ctx, m, s.sink.max)
		send(m, ack)
		return
	}
	if it.err != nil {
		t.span.SetAttributes(attrDeadLetter.Bool(true), attrDeadLetterStep.String(it.stage))
		fail(t.span, it.err)
	}
	ctx, sp := s.o.tracer.t.Start(t.ctx, s.o.tracer.spanName("send", m.Topic),
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			semconv.MessagingSystemKafka,
			semconv.MessagingOperationTypeSend,
			semconv.MessagingOperationName("send"),
			semconv.MessagingDestinationName(m.Topic),
		))
	if !s.o.tracer.inject(t, ctx, m, s.sink.max) {
		sp.AddEvent("trace context left out: the output is at the producer's size limit")
	}
	send(m, func(err error) {
		if err != nil {
			fail(sp, err)
			fail(t.span, err)
		} else {
			// The producer set them before it acknowledged.
			sp.SetAttributes(
				semconv.MessagingDestinationPartitionID(strconv.Itoa(int(m.Partition))),
				semconv.MessagingKafkaOffset(int(m.Offset)))
		}
		sp.End()
		if !s.o.exactlyOnce {
			t.span.End() // under ExactlyOnce, at commit or abort: see settled
		}
		ack(err)
	})
}

// settled ends the process spans of the records of a transaction's
// batches, under ExactlyOnce, once the transaction committed or, when
// aborted is not nil, aborted: such a span is marked with an event and
// an error status, and its record will be read again.
func (t *tracer) settled(batches []*batch, aborted error) {
	if t == nil {
		return
	}
	for _, b := range batches {
		for i := range b.items[:b.cut] {
			rt := b.items[i].tr
			if rt == nil || !rt.recording {
				continue
			}
			if aborted != nil {
				rt.span.AddEvent("transaction aborted, to be read again")
				fail(rt.span, aborted)
			}
			rt.span.End()
		}
	}
}

// abandon ends the process spans of records abandoned unwritten, at
// shutdown or when a transaction fails, which are neither written nor
// marked nor committed, so that the partition's next reader reads them
// again.
func (t *tracer) abandon(items []item) {
	if t != nil {
		t.abandonItems(items)
	}
}

func (t *tracer) abandonItems(items []item) {
	for i := range items {
		if rt := items[i].tr; rt != nil && rt.recording {
			rt.span.AddEvent("abandoned unwritten, to be read again")
			rt.span.End()
		}
	}
}

// inject writes the trace context of ctx into m's headers, in place of
// any traceparent and tracestate there (a dead letter carries the
// input's), and reports whether it did. It leaves the headers as they
// were when ctx has no valid span context, or when the output would then
// exceed the producer's size limit max, which would fail the write. The
// propagator writes into rt.out.
func (t *tracer) inject(rt *recordTrace, ctx context.Context, m *sarama.ProducerMessage, max int) bool {
	rt.out.n = 0
	t.prop.Inject(ctx, &rt.out)
	tc := rt.out.h[:rt.out.n]
	if len(tc) == 0 {
		return true
	}
	// m.Headers may be shared with other outputs (a score's provenance
	// headers are): build a new slice.
	h := make([]sarama.RecordHeader, 0, len(m.Headers)+len(tc))
	for _, x := range m.Headers {
		if k := string(x.Key); k != wire.HeaderTraceParent && k != wire.HeaderTraceState {
			h = append(h, x)
		}
	}
	old := m.Headers
	m.Headers = append(h, tc...)
	if max > 0 && m.ByteSize(2) > max {
		m.Headers = old
		return false
	}
	return true
}

// consumerHeaders reads a consumed record's headers for a propagator.
// Of a repeated header, Get returns the last, as package wire reads them.
type consumerHeaders []*sarama.RecordHeader

func (c consumerHeaders) Get(key string) string {
	for i := len(c) - 1; i >= 0; i-- {
		if h := c[i]; h != nil && string(h.Key) == key {
			return string(h.Value)
		}
	}
	return ""
}

func (c consumerHeaders) Set(string, string) {}

func (c consumerHeaders) Keys() []string {
	ks := make([]string, 0, len(c))
	for _, h := range c {
		if h != nil {
			ks = append(ks, string(h.Key))
		}
	}
	return ks
}

// producerHeaders collects the headers a propagator writes: the
// TraceContext propagator writes two at most. It lives in a recordTrace,
// so that handing it to the propagator allocates nothing.
type producerHeaders struct {
	h [2]sarama.RecordHeader
	n int
}

func (p *producerHeaders) Get(key string) string {
	for _, h := range p.h[:p.n] {
		if string(h.Key) == key {
			return string(h.Value)
		}
	}
	return ""
}

func (p *producerHeaders) Set(key, value string) {
	var k []byte
	switch key { // the propagator's names, as package wire spells them
	case wire.HeaderTraceParent:
		k = traceParentKey
	case wire.HeaderTraceState:
		k = traceStateKey
	default:
		return // not a trace context header: the protocol has no other
	}
	if p.n < len(p.h) {
		p.h[p.n] = sarama.RecordHeader{Key: k, Value: []byte(value)}
		p.n++
	}
}

// The keys of the trace headers the Source writes, shared by every
// output; sarama only reads them.
var (
	traceParentKey = []byte(wire.HeaderTraceParent)
	traceStateKey  = []byte(wire.HeaderTraceState)
)

func (p *producerHeaders) Keys() []string {
	ks := make([]string, p.n)
	for i, h := range p.h[:p.n] {
		ks[i] = string(h.Key)
	}
	return ks
}
