package feedbackkafka_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/feedback"
	"github.com/modelstream/modelstream/serving/feedback/feedbackkafka"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// TestJoinCompactScores: scores a serving/kafka Sink writes in the
// compact encoding, whose values carry neither the provenance nor the
// key, join their labels by key and by input, with the provenance and
// origin the records carry.
func TestJoinCompactScores(t *testing.T) {
	for _, byInput := range []bool{false, true} {
		t.Run(fmt.Sprint("by input ", byInput), func(t *testing.T) {
			c := kafkatest.New(t, kafkatest.Topic("scores", 2), kafkatest.Topic("labels", 1))
			cfg := newConfig(t, c)
			sink, err := kafka.NewSink(t.Context(), cfg, kafka.Topic("scores"), kafka.ScoreEncoding(wire.ScoreCompact))
			if err != nil {
				t.Fatal(err)
			}
			ref := serving.ModelRef{Name: "fraud", Version: 3, ID: serving.ContentID([]byte("fraud"))}
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
				l := labelMsg(string(in.Key), "1", time.Now().Add(time.Second))
				if byInput {
					l = labelMsg("", fmt.Sprintf(`{"value":1,"topic":"data","partition":1,"offset":%d}`, in.Offset), l.at)
				}
				labels = append(labels, l)
			}
			acks.Wait()
			sink.Close()
			produce(t, cfg, labels...)

			var mu sync.Mutex
			var got []feedback.Match
			j, _ := feedback.NewJoiner(time.Hour, 100)
			var opts []feedbackkafka.Option
			if byInput {
				opts = append(opts, feedbackkafka.JoinByInput())
			}
			r, err := feedbackkafka.NewReader(cfg, "scores", "labels", j, func(m feedback.Match) error {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, m)
				return nil
			}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			stop := start(t, r)
			defer func() {
				if t.Failed() {
					t.Logf("stats %+v", r.Stats())
				}
			}()
			waitFor(t, "10 matches", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 10 })
			stop()
			if s := r.Stats(); s.BadScores != 0 || s.Joined != 10 {
				t.Errorf("stats %+v", s)
			}
			for _, m := range got {
				s := m.Score
				if s.Provenance.Model != ref || s.Topic != "data" || s.Partition != 1 || fmt.Sprint("k", s.Offset-100) != s.Key || s.Prediction.Value != float64(s.Offset-100)/10 {
					t.Errorf("match %+v", s)
				}
			}
		})
	}
}
