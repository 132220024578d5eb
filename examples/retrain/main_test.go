package main

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/training"
)

// TestRetrainRecovers runs the example on the embedded broker with a
// shorter stream and checks the story it tells: drift is detected soon
// after the shift and never before, a retrained version goes live, and
// the rolling accuracy collapses and then recovers.
func TestRetrainRecovers(t *testing.T) {
	cfg := defaultConfig()
	cfg.records, cfg.shift, cfg.every, cfg.retrain, cfg.perSec = 8000, 4000, 1500, 300, 16000
	cfg.plot = filepath.Join(t.TempDir(), "retrain.png")
	sum, err := run(context.Background(), io.Discard, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("drift at %v, activations %v, accuracy before %.3f, worst %.3f, end %.3f",
		sum.driftAt, sum.activated, sum.accBefore, sum.accLow, sum.accEnd)
	if len(sum.driftAt) != 1 || sum.driftAt[0] <= int64(cfg.shift) || sum.driftAt[0] > int64(cfg.shift)+600 {
		t.Errorf("drift detected at %v, want once within 600 records after %d", sum.driftAt, cfg.shift)
	}
	swapped := false
	for _, a := range sum.activated {
		if uint64(a[1]) == sum.retrainVer && a[0] > cfg.shift {
			swapped = true
		}
	}
	if sum.retrainVer == 0 || !swapped {
		t.Errorf("the retrained version v%d never went live after the shift (activations %v)", sum.retrainVer, sum.activated)
	}
	if sum.accBefore < 0.85 || sum.accLow > 0.7 || sum.accEnd < 0.85 {
		t.Errorf("rolling accuracy before %.3f, worst after %.3f, end %.3f: want high, collapsed, recovered", sum.accBefore, sum.accLow, sum.accEnd)
	}
}

// crashing fails Next after n samples.
type crashing struct {
	training.Source
	n int
}

var errCrash = errors.New("simulated trainer failure")

func (c *crashing) Next(ctx context.Context) (training.Sample, error) {
	if c.n == 0 {
		return training.Sample{}, errCrash
	}
	c.n--
	return c.Source.Next(ctx)
}

// A trainer that fails makes run return its error, rather than wait
// forever for records it will never learn.
func TestRetrainReportsTrainerFailure(t *testing.T) {
	cfg := defaultConfig()
	cfg.records, cfg.shift, cfg.perSec, cfg.plot = 2000, 1000, 16000, ""
	cfg.wrap = func(s training.Source) training.Source { return &crashing{s, 500} }
	// The deadline only keeps a regression from hanging the test run.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err := run(ctx, io.Discard, cfg)
	if !errors.Is(err, errCrash) || ctx.Err() != nil {
		t.Fatalf("run: %v (context: %v), want the trainer's failure before the deadline", err, ctx.Err())
	}
}

// lingering cancels the run after n samples, then, as a trainer busy
// with its last record would, keeps reading its source for a moment.
type lingering struct {
	training.Source
	n      int
	cancel context.CancelFunc
	closed chan bool // whether the source was closed under the trainer
}

func (l *lingering) Next(ctx context.Context) (training.Sample, error) {
	if l.n > 0 {
		l.n--
		return l.Source.Next(ctx)
	}
	l.cancel()
	time.Sleep(500 * time.Millisecond) // long enough for run to reach its deferred Close calls
	closed := false
	for range 10000 {
		c, stop := context.WithTimeout(context.Background(), 20*time.Millisecond)
		_, err := l.Source.Next(c)
		stop()
		if err != nil {
			closed = errors.Is(err, serving.ErrClosed)
			break
		}
	}
	l.closed <- closed
	return training.Sample{}, ctx.Err()
}

// On Ctrl-C, run lets the trainer stop (and commit) before it closes the
// trainer's source. Before, the source was closed while the trainer was
// still running: its last reads failed with ErrClosed.
func TestRetrainStopsTheTrainerBeforeItsSource(t *testing.T) {
	cfg := defaultConfig()
	cfg.records, cfg.shift, cfg.perSec, cfg.plot = 4000, 2000, 16000, ""
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := &lingering{n: 500, cancel: cancel, closed: make(chan bool, 1)}
	cfg.wrap = func(s training.Source) training.Source { l.Source = s; return l }
	if _, err := run(ctx, io.Discard, cfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("run: %v, want context.Canceled", err)
	}
	select {
	case closed := <-l.closed:
		if closed {
			t.Error("the trainer's source was closed while the trainer was still reading it")
		}
	default:
		t.Fatal("run returned before the trainer finished")
	}
}
