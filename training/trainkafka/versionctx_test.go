package trainkafka_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/training/trainkafka"
)

// LatestVersion gives up with ctx's error against a broker that accepts
// connections and never answers, instead of waiting out sarama's
// retries: a Trainer's Run, which asks it first, must end when its ctx
// does.
func TestLatestVersionHonoursContext(t *testing.T) {
	cfg := testConfig(t, []string{kafkatest.Unresponsive(t)})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := trainkafka.LatestVersion(ctx, cfg, "models", "m")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("LatestVersion with a silent broker: %v after %v, want context.DeadlineExceeded", err, time.Since(start))
	}
}

// Once connected, LatestVersion still returns when ctx ends while a
// broker holds its request unanswered.
func TestLatestVersionHonoursContextMidRead(t *testing.T) {
	cluster := kafkatest.New(t, kafkatest.Topic("models", 1))
	cluster.Produce(t, "models", kafkatest.Message{Key: []byte("m"), Value: []byte("x")})
	release := make(chan struct{})
	defer close(release)
	fake := cluster.Fake()
	fake.ControlKey(int16(kmsg.ListOffsets), func(kmsg.Request) (kmsg.Response, error, bool) {
		fake.KeepControl()
		fake.SleepControl(func() { <-release })
		return nil, nil, false
	})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := trainkafka.LatestVersion(ctx, testConfig(t, cluster.Addrs()), "models", "m")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
		t.Errorf("LatestVersion with ListOffsets unanswered: %v after %v, want context.DeadlineExceeded", err, time.Since(start))
	}
}
