package kafka

import (
	"fmt"
	"runtime/debug"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/wire"
)

// ScoreEncoder encodes the values of score records for a [Sink]:
// wire.ScoreJSON (the default), wire.ScoreCompact, or an encoder of
// another package, such as confluent.AvroScores (package
// serving/kafka/confluent), which writes Avro with a registered schema. The Sink
// writes the key and the provenance headers of every score record
// itself, whatever the encoder.
type ScoreEncoder interface {
	// AppendScore appends the value of the score record of s to b and
	// returns the extended slice. An error dead-letters the input
	// record, with the error as the reason; so does a panic (see
	// ErrPanic). It must be safe for concurrent use; it must not keep s
	// or b.
	AppendScore(b []byte, s *wire.Score) ([]byte, error)
}

// ScoreEncoding sets how a Sink encodes the values of score records,
// overriding the default of wire.ScoreJSON, the whole wire.Score as JSON.
// wire.ScoreCompact leaves out the provenance and the key, which the
// record carries in its headers and its key: a third to a half of the
// bytes for a single model. Readers of either use wire.DecodeScore. A nil encoder, or a
// wire.ScoreEncoding that wire does not define, is an error wrapping
// serving.ErrConfig from NewSink.
func ScoreEncoding(e ScoreEncoder) SinkOption {
	return sinkOpt(func(o *sinkOptions) { o.enc = e })
}

// checkEncoder validates a ScoreEncoding option.
func checkEncoder(e ScoreEncoder) error {
	switch e {
	case nil:
		return configErr("ScoreEncoding(nil)")
	case wire.ScoreJSON, wire.ScoreCompact:
		return nil
	}
	if w, ok := e.(wire.ScoreEncoding); ok {
		return configErr("ScoreEncoding(%d): wire defines no such encoding", w)
	}
	return nil
}

// sizeHint is the capacity to allocate for a score's value: enough for
// most scores of a single model in the Sink's encoding.
func (s *Sink) sizeHint() int {
	switch s.o.enc {
	case wire.ScoreJSON, nil:
		return 320
	case wire.ScoreCompact:
		return 96
	}
	return 160
}

// appendValue appends the value of the score record of res to b in the
// Sink's encoding. An encoder of another package is handed a wire.Score
// from a when a is not nil.
func (s *Sink) appendValue(a *scoreSlab, b []byte, prov *provCache, in *sarama.ConsumerMessage, res *serving.Result) ([]byte, error) {
	switch s.o.enc {
	case wire.ScoreJSON, nil: // nil: a Sink made without NewSink, in tests
		return appendScore(b, prov, in, res)
	case wire.ScoreCompact:
		return appendCompact(b, in, res)
	}
	// The Score escapes through the interface call: it comes from a, not
	// from the heap, when a is not nil.
	sc := a.score()
	*sc = wire.Score{Prediction: res.Prediction, Provenance: res.Provenance, Topic: in.Topic, Partition: in.Partition, Offset: in.Offset}
	// sc.SetKey(in.Key), with Key sharing the input key's bytes rather
	// than a copy of them: an encoder must not keep sc, and nothing
	// writes to a consumed record's key.
	if utf8.Valid(in.Key) {
		sc.Key = unsafe.String(unsafe.SliceData(in.Key), len(in.Key))
	} else {
		sc.KeyBase64 = in.Key
	}
	b, err := s.appendCustom(b, sc)
	*sc = wire.Score{} // so that a holds nothing of the record
	return b, err
}

// appendCustom calls an encoder of another package, turning its panic
// into an error wrapping ErrPanic, which dead-letters the record: an
// encoder is a user's code, like a Codec or a Scorer, and a panic on one
// record must not end the process at every restart.
func (s *Sink) appendCustom(b []byte, sc *wire.Score) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = b, fmt.Errorf("%w in the score encoder: %v", ErrPanic, p)
			s.cfg.logger.Error("kafka sink: recovered a panic; the record goes to the dead-letter topic", "in", "score encoder", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	return s.o.enc.AppendScore(b, sc)
}

// appendCompact appends the wire.ScoreCompact value of res to b. It
// writes the common case by hand and leaves the rest to wire.
func appendCompact(b []byte, in *sarama.ConsumerMessage, res *serving.Result) ([]byte, error) {
	p := res.Prediction
	if p.Values != nil || !finite(p.Value) || !finite(p.Confidence) || !plain(p.Label) || !plain(in.Topic) {
		sc := wire.Score{Prediction: p, Topic: in.Topic, Partition: in.Partition, Offset: in.Offset}
		return wire.ScoreCompact.AppendScore(b, &sc)
	}
	b = appendPrediction(b, p)
	b = append(b, `,"topic":"`...)
	b = append(b, in.Topic...)
	b = append(b, `","partition":`...)
	b = strconv.AppendInt(b, int64(in.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, in.Offset, 10)
	return append(b, '}'), nil
}
