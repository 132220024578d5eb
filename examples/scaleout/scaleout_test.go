package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
