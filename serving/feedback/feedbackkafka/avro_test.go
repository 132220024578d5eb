package feedbackkafka_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/feedback"
	"github.com/modelstream/modelstream/serving/feedback/feedbackkafka"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/kafka/confluent"
	"github.com/modelstream/modelstream/serving/quality"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

var _ feedbackkafka.ScoreDecoder = (*confluent.ScoreDecoder)(nil)

// TestJoinAvroScores: scores a Sink writes as Avro, of ScoreSchema and
// of ScoreCompactSchema, with a Schema Registry served over HTTP, join
// their labels and count in live quality, with confluent's ScoreDecoder.
// Frames the decoder cannot read as scores (an unknown schema ID, a
// schema that is not a score's) are bad scores, and the Reader goes on.
func TestJoinAvroScores(t *testing.T) {
	for _, compact := range []bool{false, true} {
		t.Run(fmt.Sprint("compact ", compact), func(t *testing.T) {
			reg := srfake.New()
			t.Cleanup(reg.Close)
			cl, err := sr.NewClient(sr.URLs(reg.URL()))
			if err != nil {
				t.Fatal(err)
			}
			var sopts []confluent.ScoreOption
			if compact {
				sopts = append(sopts, confluent.CompactScores())
			}
			enc, err := confluent.NewAvroScores(t.Context(), cl, "scores-value", sopts...)
			if err != nil {
				t.Fatal(err)
			}
			foreign, err := cl.CreateSchema(t.Context(), "txn-value", sr.Schema{Type: sr.TypeAvro,
				Schema: `{"type":"record","name":"Txn","fields":[{"name":"amount","type":"double"}]}`})
			if err != nil {
				t.Fatal(err)
			}

			c := kafkatest.New(t, kafkatest.Topic("scores", 2), kafkatest.Topic("labels", 1))
			cfg := newConfig(t, c)
			sink, err := kafka.NewSink(t.Context(), cfg, kafka.Topic("scores"), kafka.ScoreEncoding(enc))
			if err != nil {
				t.Fatal(err)
			}
			ref := serving.ModelRef{Name: "fraud", Version: 3, ID: serving.ContentID([]byte("fraud")), Format: "linear"}
			var acks sync.WaitGroup
			var labels []msg
			for i := range 10 {
				in := &sarama.ConsumerMessage{Key: fmt.Appendf(nil, "k%d", i), Topic: "data", Partition: 1, Offset: int64(100 + i)}
				acks.Add(1)
				sink.WriteScore(in, serving.Result{Prediction: serving.Prediction{Value: float64(i) / 10}, Provenance: serving.Provenance{Model: ref}}, func(err error) {
					if err != nil {
						t.Error(err)
					}
					acks.Done()
				})
				// The Sink stamps scores with the time they are written.
				labels = append(labels, labelMsg(string(in.Key), fmt.Sprint(i%2), time.Now().Add(time.Second)))
			}
			acks.Wait()
			sink.Close()
			// An amount of 0.5 framed with an ID the registry does not
			// know, and with the ID of a schema that is not a score's.
			body := []byte{0, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f}
			var h sr.ConfluentHeader
			unknown, _ := h.AppendEncode(nil, 9999, nil)
			other, _ := h.AppendEncode(nil, foreign.ID, nil)
			produce(t, cfg, msg{topic: "scores", key: "u", value: append(unknown, body...), at: time.Now()},
				msg{topic: "scores", key: "f", value: append(other, body...), at: time.Now()})
			produce(t, cfg, labels...)

			dec, err := confluent.NewScoreDecoder(cl)
			if err != nil {
				t.Fatal(err)
			}
			tr, _ := quality.NewTracker(8)
			observe, err := feedback.Observe(tr, feedback.Binary)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var got []feedback.Match
			j, _ := feedback.NewJoiner(time.Hour, 100)
			r, err := feedbackkafka.NewReader(cfg, "scores", "labels", j, func(m feedback.Match) error {
				mu.Lock()
				got = append(got, m)
				mu.Unlock()
				return observe(m)
			}, feedbackkafka.ScoreDecoding(dec))
			if err != nil {
				t.Fatal(err)
			}
			stop := start(t, r)
			defer func() {
				if t.Failed() {
					t.Logf("stats %+v", r.Stats())
				}
			}()
			waitFor(t, "every record", func() bool { s := r.Stats(); return s.Scores+s.BadScores == 12 && s.Labels == 10 })
			waitFor(t, "10 matches", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 10 })
			stop()
			if s := r.Stats(); s.BadScores != 2 || s.Joined != 10 || s.MatchErrors != 0 {
				t.Errorf("stats %+v", s)
			}
			for _, m := range got {
				s := m.Score
				if s.Provenance.Model != ref || s.Topic != "data" || s.Partition != 1 || fmt.Sprint("k", s.Offset-100) != s.Key || s.Prediction.Value != float64(s.Offset-100)/10 {
					t.Errorf("match %+v", s)
				}
			}
			snap := tr.Snapshot()
			if len(snap) != 1 || snap[0].Model != "fraud" || snap[0].Version != 3 || snap[0].AUC.N != 10 {
				t.Errorf("live quality %+v, want 10 outcomes of fraud v3", snap)
			}
		})
	}
}

// TestScoreDecodingNil: a nil ScoreDecoder is a configuration error, not
// a panic at the first score.
func TestScoreDecodingNil(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic("scores", 1), kafkatest.Topic("labels", 1))
	j, _ := feedback.NewJoiner(time.Hour, 100)
	_, err := feedbackkafka.NewReader(newConfig(t, c), "scores", "labels", j, func(feedback.Match) error { return nil }, feedbackkafka.ScoreDecoding(nil))
	if !errors.Is(err, serving.ErrConfig) {
		t.Errorf("ScoreDecoding(nil): %v, want serving.ErrConfig", err)
	}
}
