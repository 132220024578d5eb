package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// scoreAll is a Scorer whose answer depends on the record's first
// feature x: NaN for x = 2 (no encoding can carry it), a combinator's
// decision for x = 3, several outputs and a label for x = 4, and x/2 from
// model m v1 otherwise.
func scoreAll(_ context.Context, r serving.Record) (serving.Result, error) {
	m := serving.ModelRef{Name: "m", Version: 1, ID: serving.ContentID([]byte("m")), Format: "linear"}
	res := serving.Result{Prediction: serving.Prediction{Value: r.Features[0] / 2}, Provenance: serving.Provenance{Model: m}}
	switch r.Features[0] {
	case 2:
		res.Prediction.Value = math.NaN()
	case 3:
		res.Provenance.Decision = &serving.Decision{Combinator: "budget", Decider: "first", Winner: 0, Candidates: []serving.Candidate{
			{Model: m, Latency: time.Millisecond, Status: serving.StatusOK}, {Model: serving.ModelRef{Name: "big", Version: 7}, Status: serving.StatusLate},
		}}
	case 4:
		res.Prediction = serving.Prediction{Value: 1, Values: []float64{0.25, 0.75}, Label: "é", Confidence: 0.75}
	}
	return res, nil
}

// failOn is a ScoreEncoder of its own that cannot encode the record at
// one offset.
type failOn int64

func (f failOn) AppendScore(b []byte, s *wire.Score) ([]byte, error) {
	if s.Offset == int64(f) {
		return b, errors.New("no encoding for this one")
	}
	return fmt.Appendf(b, "%s:%g", s.InputKey(), s.Prediction.Value), nil
}

// TestScoreEncodings runs a Source and a Sink on kfake in each score
// encoding: wire.DecodeScore reads back every score, with its provenance
// (a combinator's decision included), the input's key (one not UTF-8)
// and origin; a score that cannot be encoded goes to the dead-letter
// topic with the reason, and nothing is lost.
func TestScoreEncodings(t *testing.T) {
	keys := []string{"k0", "k1", "k2", "k3", "k4", "\xff5"}
	vals := [][]byte{[]byte("[0]"), []byte("[1]"), []byte("[2]"), []byte("[3]"), []byte("[4]"), []byte("[5]")}
	for name, tc := range map[string]struct {
		enc    kafka.ScoreEncoder
		dead   int64  // the offset dead-lettered
		reason string // in its reason
	}{
		"json":    {wire.ScoreJSON, 2, wire.ErrMalformed.Error()},
		"compact": {wire.ScoreCompact, 2, wire.ErrMalformed.Error()},
		"own":     {failOn(1), 1, "no encoding for this one"},
	} {
		t.Run(name, func(t *testing.T) {
			c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1))
			scores := collect(t, c, kafka.DefaultScoresTopic)
			dlq := collect(t, c, kafka.DefaultDeadLetterTopic)
			sink, err := kafka.NewSink(t.Context(), config(t, c.Addrs()), kafka.ScoreEncoding(tc.enc))
			if err != nil {
				t.Fatal(err)
			}
			defer sink.Close()
			src, err := kafka.NewSource(config(t, c.Addrs(), kafka.Sarama(testTuning)), "enc", serving.ScorerFunc(scoreAll), sink, kafka.Topics(kafka.DefaultDataTopic))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- src.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Error(err)
				}
			}()
			produce(t, c, kafka.DefaultDataTopic, keys, vals)

			dead := dlq.next(t, 1)[0]
			if header(dead, wire.HeaderDLQOffset) != fmt.Sprint(tc.dead) || header(dead, wire.HeaderDLQStage) != wire.StageScore ||
				!strings.Contains(header(dead, wire.HeaderDLQReason), tc.reason) || string(dead.Value) != string(vals[tc.dead]) {
				t.Errorf("dead letter %s: offset %s stage %s reason %q", dead.Value, header(dead, wire.HeaderDLQOffset), header(dead, wire.HeaderDLQStage), header(dead, wire.HeaderDLQReason))
			}
			got := scores.next(t, len(keys)-1)
			if extra := scores.quietFor(200 * time.Millisecond); len(extra) > 0 {
				t.Errorf("%d scores too many", len(extra))
			}
			seen := map[int64]bool{}
			for _, m := range got {
				if _, own := tc.enc.(failOn); own {
					i := int64(strings.IndexByte("012345", m.Key[len(m.Key)-1]))
					seen[i] = true
					res, _ := scoreAll(ctx, serving.Record{Features: []float64{float64(i)}})
					if want := fmt.Sprintf("%s:%g", keys[i], res.Prediction.Value); string(m.Value) != want {
						t.Errorf("record %d: value %q, want %q", i, m.Value, want)
					}
					continue
				}
				s, err := wire.DecodeScore(wire.Message{Key: m.Key, Value: m.Value, Headers: kafka.Headers(m)})
				if err != nil {
					t.Fatalf("score %s: %v", m.Value, err)
				}
				i := s.Offset
				if i < 0 || i >= int64(len(keys)) || seen[i] {
					t.Fatalf("score %s: input offset %d", m.Value, i)
				}
				seen[i] = true
				want, _ := scoreAll(ctx, serving.Record{Features: []float64{float64(i)}})
				if !reflect.DeepEqual(s.Prediction, want.Prediction) || !reflect.DeepEqual(s.Provenance, want.Provenance) {
					t.Errorf("score of record %d: %+v %+v, want %+v %+v", i, s.Prediction, s.Provenance, want.Prediction, want.Provenance)
				}
				if string(s.InputKey()) != keys[i] || string(m.Key) != keys[i] || s.Topic != kafka.DefaultDataTopic || s.Partition != 0 {
					t.Errorf("score of record %d: key %q (record key %q), origin %s/%d", i, s.InputKey(), m.Key, s.Topic, s.Partition)
				}
				if p, err := wire.ProvenanceOf(kafka.Headers(m), m.Value); err != nil || p.Model != want.Provenance.Model {
					t.Errorf("score of record %d: ProvenanceOf %v, %v", i, p.Model, err)
				}
				if compact := !strings.Contains(string(m.Value), "provenance"); compact != (tc.enc == wire.ScoreCompact) {
					t.Errorf("score of record %d in %s: %s", i, name, m.Value)
				}
			}
			if len(seen) != len(keys)-1 || seen[tc.dead] {
				t.Errorf("scored %v, dead letter %d", seen, tc.dead)
			}
			waitFor(t, "stats", func() bool { st := src.Stats(); return st.Scored == uint64(len(keys)-1) && st.DeadLettered == 1 })
		})
	}
}

// TestScoreEncodingConfig: NewSink refuses an encoding that is not one,
// before any broker is dialled.
func TestScoreEncodingConfig(t *testing.T) {
	for name, e := range map[string]kafka.ScoreEncoder{"nil": nil, "unknown": wire.ScoreEncoding(9)} {
		if _, err := kafka.NewSink(t.Context(), config(t, []string{"127.0.0.1:1"}), kafka.ScoreEncoding(e)); !errors.Is(err, serving.ErrConfig) {
			t.Errorf("%s: got %v, want ErrConfig", name, err)
		}
	}
}

// panicOn is a ScoreEncoder of its own that panics on the record at one
// offset.
type panicOn int64

func (p panicOn) AppendScore(b []byte, s *wire.Score) ([]byte, error) {
	if s.Offset == int64(p) {
		panic("an encoder's bug")
	}
	return fmt.Appendf(b, "%g", s.Prediction.Value), nil
}

// TestScoreEncoderPanic: a ScoreEncoder that panics on one record
// dead-letters that record with ErrPanic, as a Codec or a Scorer that
// panics does, and the others are scored. The panic used to run up the
// scoring worker's stack and end the process, on the same record at
// every restart.
func TestScoreEncoderPanic(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1),
		kafkatest.Topic(kafka.DefaultScoresTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	dlq := c.Consume(t, kafka.DefaultDeadLetterTopic)
	keys, vals := records(0, 3)
	produce(t, c, kafka.DefaultDataTopic, keys, vals)
	sink, err := kafka.NewSink(t.Context(), config(t, c.Addrs()), kafka.ScoreEncoding(panicOn(1)))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	src, err := kafka.NewSource(config(t, c.Addrs(), kafka.Sarama(testTuning)), "encoder-panic", serving.ScorerFunc(scoreAll), sink, kafka.Topics(kafka.DefaultDataTopic))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	waitFor(t, "two scores and a dead letter", func() bool {
		st := src.Stats()
		return st.Scored == 2 && st.DeadLettered == 1
	})
	m := dlq.Next(t, 1)[0]
	if off, _ := m.Header(wire.HeaderDLQOffset); off != "1" {
		t.Errorf("dead letter of offset %s, want 1", off)
	}
	if reason, _ := m.Header(wire.HeaderDLQReason); !strings.Contains(reason, kafka.ErrPanic.Error()) || !strings.Contains(reason, "an encoder's bug") {
		t.Errorf("dead-letter reason %q, want ErrPanic and the panic's value", reason)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
