package kafka_test

import (
	"context"
	"testing"

	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// panicHook panics in every Source hook.
type panicHook struct{}

func (panicHook) OnDeadLetter(string, int32, int64, error) { panic("dead-letter hook boom") }
func (panicHook) OnCommit(string, int32, int64)            { panic("commit hook boom") }
func (panicHook) OnLag(string, int32, int64)               { panic("lag hook boom") }

// TestSourceHookPanicContained: the dead-letter, commit and lag hooks are
// the user's code, run on the Source's own goroutines, where a panic
// ended the process. The Source recovers it, as it does a Codec's, and
// the hooks after it are still called.
func TestSourceHookPanicContained(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 1), kafkatest.Topic(kafka.DefaultModelsTopic, 1), kafkatest.Topic(kafka.DefaultDeadLetterTopic, 1))
	pub := publisher(t, c)
	if _, _, err := pub.Publish(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t)
	runFeed(t, c.Addrs(), srv)
	scores := collect(t, c, kafka.DefaultScoresTopic)
	hook := &deadHook{}
	startSource(t, c, "hookpanic", srv.Model("m"), kafka.Hooks(panicHook{}, hook))
	produce(t, c, kafka.DefaultDataTopic, []string{"a", "b", "c"},
		[][]byte{[]byte("[1,1,1]"), []byte(`{"not":"an array"`), []byte("[3,3,3]")})
	scores.next(t, 2)
	waitFor(t, "the dead-letter hook after the panicking one", func() bool { return hook.count() == 1 })
	waitFor(t, "the commit and lag hooks after the panicking one", func() bool {
		hook.mu.Lock()
		defer hook.mu.Unlock()
		return hook.committed == 3 && hook.lags > 0
	})
}
