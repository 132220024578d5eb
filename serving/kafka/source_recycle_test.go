package kafka_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestSourceSlowAcknowledgements: while Kafka is slow to acknowledge
// scores, the Source scores many more batches, and every score still
// goes out with its own value and key, once. The records and values of
// a batch's scores are written over by later batches once the batch is
// acknowledged (see scoreSlab in sink.go): not one moment before, while
// the producer still holds them.
func TestSourceSlowAcknowledgements(t *testing.T) {
	const n = 6000
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 2), kafkatest.Topic(kafka.DefaultScoresTopic, 3), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	keys, vals := records(0, n)
	produce(t, c, kafka.DefaultDataTopic, keys, vals)
	c.Fake().ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.Fake().KeepControl()
		time.Sleep(5 * time.Millisecond)
		return nil, nil, false
	})
	scores := collect(t, c, kafka.DefaultScoresTopic)
	startSource(t, c, "slow-acks", srv.Model("m"))
	seen := make([]bool, n)
	for _, m := range scores.next(t, n) {
		s := decodeScore(t, m)
		i := int(s.Prediction.Value)
		if i < 0 || i >= n || float64(i) != s.Prediction.Value {
			t.Fatalf("score %s/%d@%d: value %v", m.Topic, m.Partition, m.Offset, s.Prediction.Value)
		}
		if seen[i] {
			t.Fatalf("record %d scored twice", i)
		}
		seen[i] = true
		if want := "k" + strconv.Itoa(i%97); s.Key != want || string(m.Key) != want {
			t.Fatalf("record %d: key %q in the value, %q on the record, want %q", i, s.Key, m.Key, want)
		}
	}
}
