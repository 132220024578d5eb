package kafka_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestCommitReadBackHangs: with a HookCommit, the Source reads each
// commit back from the group (commitcheck.go). When the broker takes
// that read-back and never answers, offsets are still committed at every
// interval, and cancelling Run still stops it. The read-back used
// sarama's admin, which takes no context, in the commit loop itself: the
// loop stood still for the admin's Net.ReadTimeout (here ten minutes,
// sarama's default is 30 s, times its retries), committing nothing, and
// Run did not return before it.
func TestCommitReadBackHangs(t *testing.T) {
	const group = "readback-hangs"
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1),
		kafkatest.Topic(kafka.DefaultScoresTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	sink, err := kafka.NewSink(t.Context(), config(t, c.Addrs()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	patient := func(sc *sarama.Config) {
		testTuning(sc)
		sc.Net.ReadTimeout = 10 * time.Minute
	}
	hook := &commitLog{}
	src, err := kafka.NewSource(config(t, c.Addrs(), kafka.Sarama(patient)), group, srv.Model("m"), sink,
		kafka.CommitInterval(100*time.Millisecond), kafka.Hooks(hook), kafka.Topics(kafka.DefaultDataTopic))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()

	keys, vals := records(0, 50)
	produce(t, c, kafka.DefaultDataTopic, keys, vals)
	waitFor(t, "the hook to hear of the first records", func() bool { return hook.last()[0] == 50 })

	// From now on every OffsetFetch, the read-back's request, hangs.
	release := make(chan struct{})
	var releaseOnce sync.Once
	unhang := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unhang) // before the cluster closes
	var hung atomic.Int64
	c.Fake().ControlKey(int16(kmsg.OffsetFetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.Fake().KeepControl()
		hung.Add(1)
		c.Fake().SleepControl(func() { <-release })
		return nil, nil, false
	})
	keys, vals = records(50, 10)
	produce(t, c, kafka.DefaultDataTopic, keys, vals)
	waitFor(t, "a read-back to hang", func() bool { return hung.Load() > 0 })

	commits := src.Stats().Commits
	keys, vals = records(60, 10)
	produce(t, c, kafka.DefaultDataTopic, keys, vals)
	waitFor(t, "the last records scored", func() bool { return src.Stats().Scored == 70 })
	deadline := time.Now().Add(20 * time.Second)
	for src.Stats().Commits == commits {
		if time.Now().After(deadline) {
			t.Fatal("no offset committed in 20 s, at a 100 ms interval, while a read-back hangs")
		}
		time.Sleep(10 * time.Millisecond)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30 s of its cancellation while a read-back hangs")
	}
	unhang()
	if got := c.Committed(t, group, kafka.DefaultDataTopic); got[0] != 70 {
		t.Errorf("the group committed %v, want offset 70 for partition 0", got)
	}
}
