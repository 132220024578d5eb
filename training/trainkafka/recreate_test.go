package trainkafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/training/trainkafka"
)

// recreate deletes topic and creates it again with one partition, empty.
func recreate(t *testing.T, brokers []string, topic string) {
	t.Helper()
	sc, err := testConfig(t, brokers).SaramaConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sarama.NewClusterAdmin(brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.DeleteTopic(topic); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("create %s again: %v", topic, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// take calls Next until it has n samples, and fails the test if they do
// not come within 20 seconds.
func take(t *testing.T, src *trainkafka.Source, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for i := range n {
		if _, err := src.Next(ctx); err != nil {
			t.Fatalf("sample %d of %d: %v; source %+v", i+1, n, err, src.Stats())
		}
	}
}

// TestRecreatedTopic deletes the data topic and creates it again with
// fewer records than the trainer had read: the group's commit and the
// position the trainer remembers (in memory, or restored from its
// checkpoint) are then past the new log's end. The new topic's records
// are learned from its first offset, none skipped as Replayed, as Kafka's
// auto.offset.reset=earliest would do for the commit alone.
func TestRecreatedTopic(t *testing.T) {
	t.Run("restart from checkpoint", func(t *testing.T) {
		cluster := kafkatest.New(t, kafkatest.Topic("training", 1))
		brokers := cluster.Addrs()
		produce(t, brokers, "training", 100) // offsets 0..100, one poison
		src, err := trainkafka.NewSource(t.Context(), testConfig(t, brokers), "g", trainkafka.Topics("training"))
		if err != nil {
			t.Fatal(err)
		}
		take(t, src, 100)
		pos, err := src.Position()
		if err != nil {
			t.Fatal(err)
		}
		if err := src.Commit(t.Context()); err != nil {
			t.Fatal(err)
		}
		src.Close()

		recreate(t, brokers, "training")
		produce(t, brokers, "training", 30) // offsets 0..30, one poison

		src, err = trainkafka.NewSource(t.Context(), testConfig(t, brokers), "g", trainkafka.Topics("training"))
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if err := src.Resume(pos); err != nil {
			t.Fatal(err)
		}
		take(t, src, 30)
		if st := src.Stats(); st.Delivered != 30 || st.Skipped != 1 || st.Replayed != 0 {
			t.Errorf("after the topic was recreated: %+v, want 30 delivered, 1 skipped, 0 replayed", st)
		}
	})
	t.Run("while running", func(t *testing.T) {
		cluster := kafkatest.New(t, kafkatest.Topic("training", 1))
		brokers := cluster.Addrs()
		produce(t, brokers, "training", 100)
		src, err := trainkafka.NewSource(t.Context(), testConfig(t, brokers), "g", trainkafka.Topics("training"))
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		take(t, src, 100)
		if err := src.Commit(t.Context()); err != nil {
			t.Fatal(err)
		}

		recreate(t, brokers, "training")
		produce(t, brokers, "training", 30)

		take(t, src, 30)
		if st := src.Stats(); st.Delivered != 130 || st.Skipped != 2 || st.Replayed != 0 {
			t.Errorf("after the topic was recreated: %+v, want 130 delivered, 2 skipped, 0 replayed", st)
		}
	})
}
