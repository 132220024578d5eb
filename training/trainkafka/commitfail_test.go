package trainkafka_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/training/trainkafka"
)

// TestCommitRefusedIsAnError: a commit the broker refuses makes Commit
// return an error naming the partition and wrapping the broker's error,
// and the next Commit, once the broker takes it, stores the offset.
// Before, Commit returned nil: sarama reports the refusal only on the
// group's error channel, which the Source logged, so a Trainer believed
// its records committed while the group held nothing ("Commit = <nil>
// while the broker refused it").
func TestCommitRefusedIsAnError(t *testing.T) {
	defer trainkafka.SetCommitTimeout(3 * time.Second)()
	const group = "refused"
	c := kafkatest.New(t, kafkatest.Topic("training", 1))
	produce(t, c.Addrs(), "training", 20)
	src, err := trainkafka.NewSource(t.Context(), testConfig(t, c.Addrs()), group, trainkafka.Topics("training"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	take(t, src, 5) // offsets 0 to 4
	fault := c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Group: group, Count: -1})
	err = src.Commit(t.Context())
	if err == nil {
		t.Fatal("Commit = <nil> while the broker refused it")
	}
	if !errors.Is(err, sarama.ErrUnknown) || !strings.Contains(err.Error(), "training/0 at 5") {
		t.Errorf("Commit = %v; want the broker's UNKNOWN_SERVER_ERROR (sarama.ErrUnknown), naming training/0 at 5", err)
	}
	if got := c.Committed(t, group, "training"); len(got) != 0 {
		t.Errorf("the group holds %v after a refused commit", got)
	}
	if st := src.Stats(); st.Commits != 0 {
		t.Errorf("Stats.Commits = %d after a refused commit, want 0", st.Commits)
	}
	fault.Remove()
	if err := src.Commit(t.Context()); err != nil {
		t.Fatalf("Commit once the broker takes it again: %v", err)
	}
	if got := c.Committed(t, group, "training"); got[0] != 5 {
		t.Errorf("the group holds %v, want partition 0 at 5", got)
	}
}

// TestCommitLostSilentlyIsMadeAgain: a commit the coordinator answers
// with NOT_COORDINATOR, which sarama drops without a word to anyone (it
// only looks the coordinator up again for the next commit), is made
// again by the same Commit, which returns once the group stored it.
// Before, Commit returned nil and the group held nothing ("the group
// holds map[]").
func TestCommitLostSilentlyIsMadeAgain(t *testing.T) {
	const group = "lost"
	c := kafkatest.New(t, kafkatest.Topic("training", 1))
	produce(t, c.Addrs(), "training", 20)
	src, err := trainkafka.NewSource(t.Context(), testConfig(t, c.Addrs()), group, trainkafka.Topics("training"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	take(t, src, 5)
	c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Group: group, Err: kerr.NotCoordinator})
	if err := src.Commit(t.Context()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if got := c.Committed(t, group, "training"); got[0] != 5 {
		t.Errorf("the group holds %v, want partition 0 at 5", got)
	}
	if st := src.Stats(); st.Commits != 1 {
		t.Errorf("Stats.Commits = %d, want 1", st.Commits)
	}
}
