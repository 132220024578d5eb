package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/internal/dial"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/wire"
)

type sinkOptions struct {
	topic, dlq string
	enc        ScoreEncoder
}

// Sink writes scores and dead letters to Kafka through an idempotent,
// acks=all asynchronous producer. Every write takes an acknowledgement
// function that the Sink calls exactly once, from a goroutine of its own
// and never while it calls another, when Kafka has acknowledged the
// record or the producer has given up on it; it must not block, since it
// holds up every later acknowledgement. A
// write after Close is acknowledged at once, in the writer's goroutine,
// with serving.ErrClosed.
//
// Records are compressed with LZ4 by default (see [Sarama]): scores
// repeat their provenance, in the value and in headers, and shrink
// several times over. On the embedded broker LZ4 saves more CPU than it
// costs (BenchmarkPipeline, compact scores,
// three runs at load averages 11-15 on 2 cores: 0.79-0.84 of a raw
// pass-through's records per CPU-second with LZ4, 0.66-0.72 without); on
// a network it saves bytes.
//
// [ScoreEncoding] chooses how the value of a score is encoded: the whole
// wire.Score as JSON (the default), compact JSON (wire.ScoreCompact, a
// third to a half of the bytes, and 5-7% less CPU per record than the
// default in the same runs of BenchmarkPipeline), or an encoder of
// another package, such as Avro with a registered schema.
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
	cfg  *Config
	max  int // the producer's MaxMessageBytes
	prod sarama.AsyncProducer
	mu   sync.RWMutex // guards closed against writes
	shut bool
	done chan struct{}
	prov atomic.Pointer[provCache]
	// slabs holds scoreSlabs whose records Kafka has acknowledged, for
	// the Source's next batches (see scoreSlab and recycle).
	slabs sync.Pool
}

// NewSink connects to the cluster, makes sure the scores and dead-letter
// topics exist (see [Config.EnsureTopics]: a *TopicError otherwise, so
// that the dead-letter topic is known good before the first dead
// letter), and returns a Sink. ctx bounds the connecting: when it is done
// first, NewSink returns ctx.Err() (a topic creation already asked for
// may still happen); cancelling it later does not affect the Sink, which
// Close ends. A bad setting is an error wrapping
// serving.ErrConfig; so is a sarama configuration,
// from [Sarama], under which an acknowledged write could still be lost
// or reordered: acks other than WaitForAll, more than one request in
// flight without idempotence, or Producer.Return.Successes or Errors
// turned off.
func NewSink(ctx context.Context, cfg *Config, opts ...SinkOption) (*Sink, error) {
	o := sinkOptions{topic: DefaultScoresTopic, dlq: DefaultDeadLetterTopic, enc: wire.ScoreJSON}
	for _, opt := range opts {
		opt.applySink(&o)
	}
	if err := checkEncoder(o.enc); err != nil {
		return nil, err
	}
	switch {
	case cfg == nil:
		return nil, configErr("NewSink: nil Config")
	case o.topic == "":
		return nil, configErr("Topic: empty topic")
	case o.dlq == "":
		return nil, configErr("DeadLetterTopic: empty topic")
	}
	sc, err := cfg.SaramaConfig(func(c *sarama.Config) {
		sinkDefaults(c)
		applyLeaderRetry(c, cfg.retry)
	})
	if err != nil {
		return nil, err
	}
	switch {
	case !sc.Producer.Return.Successes || !sc.Producer.Return.Errors:
		return nil, configErr("Sarama: a Sink needs Producer.Return.Successes and Errors")
	case sc.Producer.RequiredAcks != sarama.WaitForAll:
		// The Source commits an offset on the acknowledgement; with fewer
		// acks a leader failover could lose an acknowledged score.
		return nil, configErr("Sarama: a Sink needs Producer.RequiredAcks = WaitForAll, got %d", sc.Producer.RequiredAcks)
	case !sc.Producer.Idempotent && sc.Net.MaxOpenRequests > 1:
		// Retries would reorder the outputs of one partition.
		return nil, configErr("Sarama: without an idempotent producer a Sink needs Net.MaxOpenRequests = 1, got %d", sc.Net.MaxOpenRequests)
	}
	if err := cfg.EnsureTopics(ctx, o.topic, o.dlq); err != nil {
		return nil, err
	}
	p, err := dial.Open(ctx, func() (sarama.AsyncProducer, error) { return sarama.NewAsyncProducer(cfg.brokers, sc) })
	if err != nil {
		return nil, fmt.Errorf("kafka: sink: %w", err)
	}
	s := &Sink{o: o, cfg: cfg, prod: p, max: sc.Producer.MaxMessageBytes, done: make(chan struct{})}
	go s.acks()
	return s, nil
}

// sinkDefaults are the Sink's own producer settings.
func sinkDefaults(c *sarama.Config) {
	// Scores repeat their provenance, so they compress several times
	// over; LZ4 is cheap for the producer and every client reads it.
	c.Producer.Compression = sarama.CompressionLZ4
}

// acks delivers acknowledgements until the producer is closed.
func (s *Sink) acks() {
	defer close(s.done)
	deliver(s.prod)
}

// deliver calls the acknowledgement in the Metadata of each message p
// returns, a func(error) or an *item, until p is closed. Successes and
// errors are read in goroutines of their own: sarama hands over each
// success on an unbuffered channel, and a plain receive there costs less
// than a select over both channels (in a benchmark of that hand-off
// alone, 190-300 ns against 280-970 ns a message on a loaded 2-core
// machine). The func(error) acknowledgements are still called one at a
// time, as the Sink documents; an *item's is safe for concurrent use.
func deliver(p sarama.AsyncProducer) {
	var d delivery
	var errs sync.WaitGroup
	errs.Go(func() {
		for e := range p.Errors() {
			d.acknowledge(e.Msg.Metadata, fmt.Errorf("kafka: sink: write to %s: %w", e.Msg.Topic, e.Err))
		}
	})
	for m := range p.Successes() {
		d.acknowledge(m.Metadata, nil)
	}
	errs.Wait()
}

// delivery calls acknowledgements from the goroutines of deliver.
type delivery struct {
	mu sync.Mutex // held while a func(error) runs
}

func (d *delivery) acknowledge(meta any, err error) {
	switch ack := meta.(type) {
	case *item:
		ack.acked(err)
	case func(error):
		if ack != nil {
			d.mu.Lock()
			defer d.mu.Unlock()
			ack(err)
		}
	}
}

func (s *Sink) send(m *sarama.ProducerMessage, ack func(error)) {
	m.Metadata = ack
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.shut {
		if ack != nil {
			ack(serving.ErrClosed)
		}
		return
	}
	s.prod.Input() <- m
}

// sendBatch writes the outputs of b's records up to b.cut, in order,
// under one hold of the lock; each record's item is its acknowledgement.
// The outputs are stamped with one reading of the clock, taken as the
// batch is handed over, rather than one each by the producer (which
// reads the clock for every message without a timestamp; a clock
// reading costs about 2% of a record's CPU time in BenchmarkPipeline).
func (s *Sink) sendBatch(b *batch) {
	now := time.Now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := range b.items[:b.cut] {
		it := &b.items[i]
		it.b, it.at = b, i
		if s.shut {
			it.acked(serving.ErrClosed)
			continue
		}
		it.out.Metadata = it
		it.out.Timestamp = now
		s.prod.Input() <- it.out
	}
}

// WriteScore writes res as the score of the input record in, with its
// provenance in headers, and calls ack once Kafka has acknowledged it. A
// result that cannot be encoded (a NaN or infinite prediction) is written
// as a dead letter instead.
func (s *Sink) WriteScore(in *sarama.ConsumerMessage, res serving.Result, ack func(error)) {
	m, _ := s.scoreMessage(in, res)
	s.send(m, ack)
}

// scoreMessage encodes the output record of one score, or a dead letter
// and the reason when the score cannot be encoded. It is safe for
// concurrent use; the Source calls it from its scoring workers.
func (s *Sink) scoreMessage(in *sarama.ConsumerMessage, res serving.Result) (*sarama.ProducerMessage, error) {
	return s.scoreMessageIn(nil, in, &res)
}

// scoreMessageIn is scoreMessage with the record and its value taken
// from a, when a is not nil, and the result by pointer, which it does not
// keep: a Result is 15 words, copied at each call it is passed to by value.
func (s *Sink) scoreMessageIn(a *scoreSlab, in *sarama.ConsumerMessage, res *serving.Result) (*sarama.ProducerMessage, error) {
	prov := s.cachedProvenance(res.Provenance)
	v, err := s.appendValue(a, a.value(s.sizeHint()), prov, in, res)
	if err != nil {
		err = fmt.Errorf("kafka: encode score: %w", err)
		return s.deadLetterMessage(in, wire.StageScore, err), err
	}
	r := a.record() // zero: only the fields a score has are set
	r.value = a.claim(v)
	m := &r.m
	m.Topic, m.Headers, m.Value = s.o.topic, prov.headers, &r.value
	if in.Key != nil {
		r.key = in.Key
		m.Key = &r.key
	}
	// m.ByteSize(2), without walking the shared headers for every record.
	if n := prov.size + len(in.Key) + len(r.value); s.max > 0 && n > s.max {
		// The producer would refuse it, and the Source would stop on
		// this record at every restart.
		err = fmt.Errorf("kafka: score of %d bytes exceeds Producer.MaxMessageBytes (%d)", n, s.max)
		return s.deadLetterMessage(in, wire.StageScore, err), err
	}
	return m, nil
}

// scoreRecord is the producer message of a score with its key and value
// encoders, in one allocation where sarama.ByteEncoders would take three.
type scoreRecord struct {
	m          sarama.ProducerMessage
	key, value bytesEncoder
}

// scoreSlab allocates the score records of one batch of input records
// together: the records from one slice, and their values, after the
// first, from one buffer sized on the first, instead of two allocations
// per record. A nil *scoreSlab allocates each on its own. The records
// keep the slab alive until the last of them is released; a slab is not
// safe for concurrent use.
//
// The Source takes its slabs from its Sink (Sink.scoreSlab) and gives
// each back (Sink.recycle) once Kafka has acknowledged every record of
// its batch, when neither the producer nor anything else still reads
// them: its next batches then write their records and values over the
// old ones, and allocate nothing.
type scoreSlab struct {
	recs []scoreRecord
	buf  []byte
	size int        // the largest value so far, 0 before the first
	left int        // records still to come, to size the next slices
	sc   wire.Score // for a ScoreEncoder of another package (see score)
}

// slabRecords is the most records a scoreSlab allocates at once: what
// fits in 32 KiB, the largest of the allocator's size classes, above
// which allocations are slower.
const slabRecords = 32 << 10 / int(unsafe.Sizeof(scoreRecord{}))

func newScoreSlab(n int) *scoreSlab { return &scoreSlab{left: n} }

// maxRecycled bounds the value buffer a recycled slab keeps, so that a
// batch of unusually large scores does not stay pinned in the pool.
const maxRecycled = 1 << 20

// scoreSlab returns a slab for n records, recycled if one is free, with
// room for the n records in one slice.
func (s *Sink) scoreSlab(n int) *scoreSlab {
	a, _ := s.slabs.Get().(*scoreSlab)
	if a == nil {
		a = new(scoreSlab)
	}
	a.reset(n)
	return a
}

// reset readies a for n records, with room for them in one slice.
func (a *scoreSlab) reset(n int) {
	a.left = n
	if cap(a.recs) < n {
		a.recs = make([]scoreRecord, 0, n)
	}
}

// recycle gives back a slab from scoreSlab, or does nothing with nil.
// The caller must hold no record or value taken from it, and Kafka must
// have acknowledged every record written from it: sarama lets go of a
// message before it returns it as a success or an error. The records
// are zeroed, so that record hands out zero records (scoreMessageIn
// sets only the fields a score has, and sarama's own fields of the
// message start from zero), and so that the pool pins nothing of the
// batch: not its input keys, acknowledgements or provenance headers,
// nor its values, and so not a buffer dropped below as too large.
func (s *Sink) recycle(a *scoreSlab) {
	if a == nil {
		return
	}
	clear(a.recs)
	a.recs = a.recs[:0]
	a.buf = a.buf[:0]
	if cap(a.buf) > maxRecycled {
		a.buf = nil
	}
	s.slabs.Put(a)
}

// record returns a zero record.
func (a *scoreSlab) record() *scoreRecord {
	if a == nil {
		return new(scoreRecord)
	}
	if len(a.recs) == cap(a.recs) {
		a.recs = make([]scoreRecord, 0, min(max(a.left, 1), slabRecords))
	}
	a.left--
	a.recs = a.recs[:len(a.recs)+1]
	return &a.recs[len(a.recs)-1]
}

// score returns a Score to hand to a ScoreEncoder of another package,
// which must not keep it: the slab's own, or a new one with a nil slab.
func (a *scoreSlab) score() *wire.Score {
	if a == nil {
		return new(wire.Score)
	}
	return &a.sc
}

// value returns an empty slice with room for at least hint bytes, or as
// many as the largest value so far, to append a value to and then pass
// to claim.
func (a *scoreSlab) value(hint int) []byte {
	if a == nil || a.size == 0 {
		return make([]byte, 0, hint)
	}
	if cap(a.buf)-len(a.buf) < a.size {
		a.buf = make([]byte, 0, a.size*max(a.left, 1))
	}
	return a.buf[len(a.buf):len(a.buf):cap(a.buf)]
}

// claim takes v, appended to a slice from value, out of the free part of
// the buffer if it was written there, and returns it with its capacity
// cut to its length, so that no later value can reach into it.
func (a *scoreSlab) claim(v []byte) []byte {
	if a == nil {
		return v
	}
	if a.size > 0 && cap(v) == cap(a.buf)-len(a.buf) { // in the buffer, not moved by append
		a.buf = a.buf[:len(a.buf)+len(v)]
	}
	a.size = max(a.size, len(v)+len(v)/8)
	return v[:len(v):len(v)]
}

// bytesEncoder is a sarama.Encoder of bytes, used by pointer so that
// making it an Encoder allocates nothing.
type bytesEncoder []byte

func (e *bytesEncoder) Encode() ([]byte, error) { return *e, nil }
func (e *bytesEncoder) Length() int             { return len(*e) }

// provCache is the encoded provenance of one model, reused for every
// result that model computes without a combinator's Decision.
type provCache struct {
	ref     serving.ModelRef
	json    []byte
	headers []sarama.RecordHeader
	size    int // the ByteSize of a record with these headers, no key and no value
}

// cachedProvenance returns p's headers (wire.ProvenanceHeaders) and JSON,
// from the cache when p is a single model's provenance. The headers are
// shared by many messages and must not be modified.
func (s *Sink) cachedProvenance(p serving.Provenance) *provCache {
	if p.Decision == nil {
		if c := s.prov.Load(); c != nil && c.ref == p.Model {
			return c
		}
	}
	j, err := json.Marshal(p)
	if err != nil {
		j = nil // appendScore falls back and reports the error
	}
	c := &provCache{ref: p.Model, json: j, headers: toSarama(wire.ProvenanceHeaders(p))}
	c.size = (&sarama.ProducerMessage{Headers: c.headers}).ByteSize(2)
	if p.Decision == nil {
		s.prov.Store(c)
	}
	return c
}

// appendScore appends the wire.Score JSON of res to b. It writes the common
// case by hand and falls back to encoding/json for the rest.
func appendScore(b []byte, prov *provCache, in *sarama.ConsumerMessage, res *serving.Result) ([]byte, error) {
	p := res.Prediction
	if prov.json == nil || p.Values != nil || !finite(p.Value) || !finite(p.Confidence) || !plain(p.Label) || !plain(string(in.Key)) || !plain(in.Topic) {
		sc := wire.Score{Prediction: res.Prediction, Provenance: res.Provenance, Topic: in.Topic, Partition: in.Partition, Offset: in.Offset}
		sc.SetKey(in.Key)
		return wire.ScoreJSON.AppendScore(b, &sc)
	}
	b = appendPrediction(b, p)
	b = append(b, `,"provenance":`...)
	b = append(b, prov.json...)
	if len(in.Key) > 0 {
		b = append(b, `,"key":"`...)
		b = append(b, in.Key...)
		b = append(b, '"')
	}
	b = append(b, `,"topic":"`...)
	b = append(b, in.Topic...)
	b = append(b, `","partition":`...)
	b = strconv.AppendInt(b, int64(in.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, in.Offset, 10)
	return append(b, '}'), nil
}

// appendPrediction appends the start of a wire.Score's JSON to b, up to
// the end of its "prediction": {"prediction":{...}. p must be finite,
// without Values, and with a plain Label.
func appendPrediction(b []byte, p serving.Prediction) []byte {
	b = append(b, `{"prediction":{"value":`...)
	b = appendFloat(b, p.Value)
	if p.Label != "" {
		b = append(b, `,"label":"`...)
		b = append(b, p.Label...)
		b = append(b, '"')
	}
	if p.Confidence != 0 {
		b = append(b, `,"confidence":`...)
		b = appendFloat(b, p.Confidence)
	}
	return append(b, '}')
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// plain reports whether s needs no escaping in a JSON string, nor in
// encoding/json's HTML-safe output.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// appendFloat formats f as encoding/json does.
func appendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// WriteDeadLetter writes the input record in, unchanged, to the
// dead-letter topic with its origin, the failed stage and the reason in
// headers, and calls ack once Kafka has acknowledged it. A reason longer
// than 4 KiB is cut short. An input too large to fit the producer's
// Producer.MaxMessageBytes together with these headers is written
// without its value and headers (see wire.HeaderDLQTruncated), then with
// its reason cut to fit but to no less than 256 bytes, then without its
// key, then with its reason cut shorter.
func (s *Sink) WriteDeadLetter(in *sarama.ConsumerMessage, stage string, reason error, ack func(error)) {
	s.send(s.deadLetterMessage(in, stage, reason), ack)
}

func (s *Sink) deadLetterMessage(in *sarama.ConsumerMessage, stage string, reason error) *sarama.ProducerMessage {
	msg := "unknown"
	if reason != nil {
		msg = cutReason(reason.Error(), maxReason)
	}
	dl := wire.DeadLetter{Topic: in.Topic, Partition: in.Partition, Offset: in.Offset, Stage: stage, Reason: msg}
	own := toSarama(dl.Headers())
	h := make([]sarama.RecordHeader, 0, len(in.Headers)+len(own))
	for _, x := range in.Headers {
		if x != nil {
			h = append(h, *x)
		}
	}
	h = append(h, own...)
	m := &sarama.ProducerMessage{Topic: s.o.dlq, Value: sarama.ByteEncoder(in.Value), Headers: h}
	if in.Key != nil {
		m.Key = sarama.ByteEncoder(in.Key)
	}
	if s.max > 0 && m.ByteSize(2) > s.max {
		// An input near the size limit does not fit with the dead-letter
		// headers; the producer would refuse it, and the Source would
		// stop on this record at every restart. Leave out the value and
		// the input's headers first. Truncated counts the bytes of the
		// input left out, so that it is 0, and the header absent, when
		// nothing was: an empty value, no headers.
		cut := len(in.Value)
		for _, x := range in.Headers {
			if x != nil {
				cut += len(x.Key) + len(x.Value)
			}
		}
		dl.Truncated = cut
		m.Value = nil
		m.Headers = toSarama(dl.Headers())
		// Then cut the reason, down to its first minReason bytes: the key
		// says which record failed, and is what a replay partitions by.
		full := dl.Reason
		if over := m.ByteSize(2) - s.max; over > 0 {
			dl.Reason = cutReason(full, max(len(full)-over, min(len(full), minReason)))
			m.Headers = toSarama(dl.Headers())
		}
		if m.ByteSize(2) > s.max && m.Key != nil {
			// The key is too large to keep: leave it out, and give the
			// reason back the room it frees.
			m.Key = nil
			dl.Truncated = cut + len(in.Key)
			dl.Reason = full
			m.Headers = toSarama(dl.Headers())
		}
		if over := m.ByteSize(2) - s.max; over > 0 {
			// The reason alone is too long (a limit below maxReason).
			dl.Reason = cutReason(full, len(full)-over)
			m.Headers = toSarama(dl.Headers())
		}
	}
	return m
}

// minReason is how much of the reason an oversized dead letter keeps
// before it gives up the input's key: the head of an error's text says
// what went wrong.
const minReason = 256

// maxReason bounds the dead-letter reason, in bytes. An error's text can
// quote the record, or be any size a Scorer makes it; past the producer's
// limit, the dead letter would be refused, and the Source stop on that
// record at every restart.
const maxReason = 4096

// cutReason returns s, or its first bytes and "..." in at most n bytes,
// cut at the start of a UTF-8 sequence.
func cutReason(s string, n int) string {
	if len(s) <= n {
		return s
	}
	keep := max(n-3, 0)
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + "..."
}

// Close flushes the records written so far, delivers their
// acknowledgements, and closes the producer. Later writes are
// acknowledged with serving.ErrClosed. Close is idempotent.
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
