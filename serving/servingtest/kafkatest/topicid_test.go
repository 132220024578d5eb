package kafkatest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestFailFetchesByTopicID checks FailFetches against a client that names
// topics in its fetches by ID only (Fetch v13 and later, KIP-516), as
// franz-go does: the named topic must fail there too, and another topic,
// fetched alone, must still be read.
func TestFailFetchesByTopicID(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic("lost", 1), kafkatest.Topic("kept", 1))
	c.Produce(t, "lost", kafkatest.Message{Value: []byte("a")})
	c.Produce(t, "kept", kafkatest.Message{Value: []byte("b")})
	fault := c.FailFetches(kerr.UnknownServerError, "lost")
	defer fault.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, topic := range []string{"lost", "kept"} {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		var read, failed bool
		for !read && !failed {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				cl.Close()
				t.Fatalf("%s: nothing read and no error after a minute (the fault answered %d fetches)", topic, fault.Failed())
			}
			fs.EachError(func(_ string, _ int32, err error) {
				if errors.Is(err, kerr.UnknownServerError) {
					failed = true
				}
			})
			fs.EachRecord(func(*kgo.Record) { read = true })
		}
		cl.Close()
		if want := topic == "lost"; failed != want || read == want {
			t.Errorf("%s: failed %v, read %v; want failed %v", topic, failed, read, want)
		}
	}
	if fault.Failed() == 0 {
		t.Error("Failed() = 0 after a failed fetch")
	}
}
