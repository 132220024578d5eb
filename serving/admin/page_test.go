package admin_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/admin"
	"github.com/modelstream/modelstream/serving/quality"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/speculative/canary"
)

// runningRollout returns a fixture serving "fraud" v1 with a rollout of
// v2 that has advanced past its first step and is still running, and
// live quality for both.
func runningRollout(t *testing.T) *fixture {
	t.Helper()
	tr, err := quality.NewTracker(8)
	require.NoError(t, err)
	c, err := canary.New(canaryScorer{serving.ModelRef{Name: "fraud", Version: 1}}, canaryScorer{serving.ModelRef{Name: "fraud", Version: 2}},
		canary.Name("fraud <v2>"), canary.Seed(3), canary.MinCalls(100), canary.MinOutcomes(50))
	require.NoError(t, err)
	f := newFixture(t, admin.Quality(tr), admin.Rollouts(c))
	_, err = f.srv.Activate(context.Background(), servingtest.Spec{Value: 1}.Descriptor("fraud", 1))
	require.NoError(t, err)
	ctx := context.Background()
	for i := 0; i < 200000 && c.Status().Step < 1; i++ {
		res, _ := c.Score(ctx, serving.Record{Key: []byte(strconv.Itoa(i))})
		v := res.Provenance.Decision.Variant
		c.Outcome(v, float64(i%10/9)) // 10% wrong on both sides
		m, _ := tr.Meter(quality.Key{Model: "fraud", Version: res.Provenance.Model.Version, Variant: v})
		m.ObserveBinary(0.8, i%10 != 9)
		if i%1000 == 999 {
			c.Evaluate(ctx)
		}
	}
	st := c.Status()
	require.Equal(t, 1, st.Step, "the rollout did not advance")
	require.False(t, st.Done)
	return f
}

func TestPageRenders(t *testing.T) {
	f := runningRollout(t)
	code, body := f.get(t, "/")
	require.Equal(t, 200, code)
	assert.Contains(t, body, `<meta http-equiv="refresh" content="5">`)
	assert.Contains(t, body, `data-model="fraud"`)
	assert.Contains(t, body, `class="share-chart"`)
	assert.Contains(t, body, `fraud &lt;v2&gt;`, "the rollout's name is escaped")
	assert.NotContains(t, body, `fraud <v2>`)
	assert.NotContains(t, body, `<script`)
	code, _ = f.get(t, "/nothing-here")
	assert.Equal(t, 404, code)
}

// The outcomes column showed the classification outcomes only: a
// regression series read "0" outcomes beside its MAE.
func TestPageCountsRegressionOutcomes(t *testing.T) {
	tr, err := quality.NewTracker(8)
	require.NoError(t, err)
	f := newFixture(t, admin.Quality(tr))
	_, err = f.srv.Activate(context.Background(), servingtest.Spec{Value: 1}.Descriptor("price", 1))
	require.NoError(t, err)
	m, _ := tr.Meter(quality.Key{Model: "price", Version: 1})
	for i := range 3 {
		require.NoError(t, m.ObserveValue(float64(i), 1))
	}
	code, body := f.get(t, "/")
	require.Equal(t, 200, code)
	row := regexp.MustCompile(`(?s)<tr class="series"[^>]*>.*?</tr>`).FindString(body)
	assert.Regexp(t, `<td>v1</td><td></td><td[^>]*>3</td>`, row)
}

// TestPageInBrowser renders the operator's page in headless Chromium
// while a rollout runs, and asserts on the DOM the browser built. The
// screenshot is kept in $MODELSTREAM_ARTIFACTS when set. Without a
// chromium binary the test skips, unless CI is set: CI installs it.
func TestPageInBrowser(t *testing.T) {
	bin := os.Getenv("CHROMIUM")
	if bin == "" {
		bin, _ = exec.LookPath("chromium")
	}
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium not found, and CI is set: .ci/run installs it")
		}
		t.Skip("chromium not installed")
	}
	f := runningRollout(t)
	dir := os.Getenv("MODELSTREAM_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	shot, err := filepath.Abs(filepath.Join(dir, "operator-page.png"))
	require.NoError(t, err)
	os.Remove(shot)
	chrome := func(args ...string) []byte {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
			"--user-data-dir=" + t.TempDir(), "--window-size=1200,1500"}
		cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, errOut.String())
		}
		return out.Bytes()
	}
	dom := string(chrome("--dump-dom", f.ts.URL+"/"))
	// What the browser built: one model section with its live version,
	// the running rollout at its second step with the traffic shares, the
	// share chart with a point per decision, and the quality rows.
	section := regexp.MustCompile(`<section class="model" id="model-fraud" data-model="fraud">`)
	require.True(t, section.MatchString(dom), "no model section in the DOM:\n%s", dom)
	assert.Contains(t, dom, `<span class="live-version" data-version="1">v1</span>`)
	assert.Regexp(t, `<div class="rollout" data-rollout="fraud &lt;v2&gt;" data-share="0.05" data-step="1" data-done="false">`, dom)
	assert.Contains(t, dom, `<b class="candidate-share">5%</b>`)
	assert.Contains(t, dom, `<b class="champion-share">95%</b>`)
	assert.Regexp(t, `<span class="current">5%</span>`, dom)
	assert.Contains(t, dom, `<svg class="share-chart"`)
	assert.GreaterOrEqual(t, strings.Count(dom, `<circle class="decision advance"`), 1)
	assert.GreaterOrEqual(t, strings.Count(dom, `<circle class="decision hold"`), 1)
	assert.Equal(t, 2, strings.Count(dom, `<tr class="series"`), "quality rows for champion and candidate")
	assert.Equal(t, 2, strings.Count(dom, `<svg class="quality-chart"`))
	assert.Contains(t, dom, `http-equiv="refresh"`)
	assert.NotContains(t, dom, "<script")

	chrome("--screenshot="+shot, f.ts.URL+"/")
	png, err := os.ReadFile(shot)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(png, []byte("\x89PNG")), "the screenshot is not a PNG")
	assert.Greater(t, len(png), 10000)
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
}
