package kafka_test

import (
	"context"
	"crypto/rand"
	"runtime"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestFeedBuffersLittleWhileBusy: while the Server takes its time over
// one model message (here an admission that waits), the ModelFeed holds
// few of the messages behind it in memory. sarama's consumer buffered
// up to ChannelBufferSize (256) decoded messages per partition: a flood
// of models of the largest size (16 MiB by default) could hold 4 GiB.
// Here 40 messages of 900 KiB (35 MiB) must not grow the heap by more than
// 12 MiB.
func TestFeedBuffersLittleWhileBusy(t *testing.T) {
	const n, size = 40, 900 << 10
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	pub := publisher(t, c)
	for i := range n {
		b := make([]byte, size)
		rand.Read(b)
		d := serving.Descriptor{Name: "big", Version: uint64(i + 1), Format: "linear", Bytes: b}
		if _, _, err := pub.Publish(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	entered, release := make(chan struct{}, n), make(chan struct{})
	srv := newServer(t, serving.WithAdmission(serving.AdmitterFunc(func(context.Context, serving.Descriptor) error {
		entered <- struct{}{}
		<-release
		return nil
	})))
	heap := func() int64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	before := heap()
	f, err := kafka.NewModelFeed(config(t, c.Addrs()), srv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	defer func() {
		close(release)
		cancel()
		if err := <-done; err != nil {
			t.Errorf("feed: %v", err)
		}
	}()
	select {
	case <-entered:
	case <-time.After(time.Minute):
		t.Fatal("the first model did not reach the admission in a minute")
	}
	// Give the consumer time to fetch ahead, and keep the largest heap.
	var most int64
	for range 30 {
		most = max(most, heap()-before)
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d messages of %d bytes waiting: the heap grew by at most %d bytes", n-1, size, most)
	if most > 12<<20 {
		t.Errorf("with the feed busy on one model, the heap grew by %d MiB for %d waiting messages of 900 KiB; want at most 12", most>>20, n-1)
	}
}
