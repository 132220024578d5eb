package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestMain lets the test binary serve as the killed child instance.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

// TestFailover runs the scale-out scenario on an embedded three-broker
// cluster: one of three instances, a separate process, is killed with
// SIGKILL mid-stream, a new version is
// published, and then no input may be missing from the output and every
// survivor must serve the new version and be ready.
func TestFailover(t *testing.T) {
	var out bytes.Buffer
	rep, err := run(context.Background(), config{records: 6000, out: &out})
	t.Log("\n" + out.String())
	require.NoError(t, err)
	assert.Equal(t, 6000, rep.Produced)
	assert.Zero(t, rep.Missing, "every record must be scored at least once")
	require.Len(t, rep.Instances, 3)
	var after int
	for _, ir := range rep.Instances {
		if ir.Killed {
			assert.Greater(t, ir.Scored, uint64(0), "the killed instance worked before it died")
			continue
		}
		after += ir.ClaimsAfter
		assert.Equal(t, rep.NewVersion, ir.Live.Version, "survivor %d must serve the new version", ir.ID)
		assert.Equal(t, http.StatusOK, ir.Ready, "survivor %d must be ready", ir.ID)
		assert.Greater(t, ir.ClaimsAfter, ir.ClaimsBefore, "survivor %d must have taken over partitions", ir.ID)
	}
	assert.Equal(t, partitions, after, "the survivors hold every partition")
}

// An instance whose model feed cannot read the models topic (here it
// does not exist, and the cluster creates no topic on demand) makes run
// fail instead of waiting for the feed to catch up for ever. Before,
// run waited on feed.CaughtUp() alone, which a failed feed never closes.
func TestInstanceFeedFailureIsReported(t *testing.T) {
	c := kafkatest.New(t, kafkatest.NoAutoCreate())
	in, err := startInstance(t.Context(), 0, c.Addrs(), "g", slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer in.close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = in.caughtUp(ctx)
	require.Error(t, err)
	assert.NoError(t, ctx.Err(), "caughtUp waited for the deadline: %v", err)
	assert.ErrorContains(t, err, modelsTopic)
}

// TestCollectorReportsALostPartition: when the broker answers the score
// collector's fetches with OFFSET_OUT_OF_RANGE, sarama gives those
// partitions up, and the collector says so, with that error, instead of
// counting on: run then reports an incomplete count, not records the
// pipeline lost. Before, Consumer.Return.Errors was off, the error went
// to sarama's discarded log, and the scores of a lost partition were
// reported "missing" after the 90 s wait.
func TestCollectorReportsALostPartition(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(scoresTopic, 2))
	fault := c.FailFetches(kerr.OffsetOutOfRange)
	coll, err := collect(c.Addrs(), "run")
	require.NoError(t, err)
	defer coll.close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = waitFor(ctx, 20*time.Second, func() bool { return coll.lost() != nil })
	require.Positive(t, fault.Failed(), "the fetch error was not injected")
	require.NoError(t, err, "the collector did not report its lost partitions")
	assert.ErrorIs(t, coll.lost(), sarama.ErrOffsetOutOfRange)
	assert.ErrorContains(t, coll.lost(), "incomplete")
}
