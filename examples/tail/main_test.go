package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestTail runs the example with no flags: on the embedded broker it
// writes seven scores and a dead letter through a Sink, and prints each
// on one readable line, the scores with the model version that made them
// and their input's origin, the dead letter with its stage and reason.
func TestTail(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, io.Discard, "", "scores", "oldest", 0); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 8 {
		t.Fatalf("%d lines, want 8", len(lines))
	}
	var scores, dead int
	for _, l := range lines {
		switch {
		case strings.Contains(l, "by fraud@v1 (id ") && strings.Contains(l, "from transactions/"):
			scores++
		case strings.Contains(l, "DEAD LETTER from transactions/1@7 (decode): ") && strings.Contains(l, "not a number"):
			dead++
		default:
			t.Errorf("unexpected line %q", l)
		}
	}
	if scores != 7 || dead != 1 {
		t.Errorf("%d scores and %d dead letters, want 7 and 1", scores, dead)
	}
	if err := run(context.Background(), &out, io.Discard, "", "scores", "latest", 0); err == nil {
		t.Error("-from latest: no error, want one naming oldest or newest")
	}
}

// TestTailLeavesNoForwarder stops after 3 of the 8 records: run must not
// leave behind the goroutines that forward each partition's messages.
// Before, the forwarders holding a record nobody read any more blocked on
// the send for ever (one per partition that had a record in hand).
func TestTailLeavesNoForwarder(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, io.Discard, "", "scores", "oldest", 3); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 3 {
		t.Fatalf("%d lines, want 3:\n%s", n, out.String())
	}
	// run waits for its forwarders; allow a moment anyway so that a
	// failure is a leak, not a slow exit.
	var left int
	for range 100 {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		if left = strings.Count(stacks, "examples/tail.run.func"); left == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("%d forwarding goroutines still running after run returned", left)
}

// TestTailFromNewest: on the embedded broker, -from newest shows the
// sample records too. Before, they were written before the partitions
// were followed from their ends, so nothing was shown and run waited
// for records that never came.
func TestTailFromNewest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, io.Discard, "", "scores", "newest", 0); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 8 || ctx.Err() != nil {
		t.Errorf("%d lines (context: %v), want the 8 samples:\n%s", n, ctx.Err(), out.String())
	}
}

// TestTailReportsAStoppedPartition: when the broker answers a fetch with
// OFFSET_OUT_OF_RANGE, as it does once retention deleted the records
// ahead of the tail, sarama gives the partition up. run prints the error
// and returns one naming the partition. Before, Consumer.Return.Errors
// was off: sarama logged the error to nowhere, and run waited for
// records that never came, until its context ended, then returned nil.
func TestTailReportsAStoppedPartition(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic("scores", 1))
	c.Produce(t, "scores", kafkatest.Message{Key: []byte("k"), Value: []byte("{}")})
	fault := c.FailFetches(kerr.OffsetOutOfRange)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errw bytes.Buffer
	err := run(ctx, &out, &errw, strings.Join(c.Addrs(), ","), "scores", "oldest", 0)
	if fault.Failed() == 0 {
		t.Fatal("the fetch error was not injected")
	}
	if err == nil || !strings.Contains(err.Error(), "scores/0") || !errors.Is(err, sarama.ErrOffsetOutOfRange) {
		t.Errorf("run: %v (context: %v), want an error naming partition scores/0 and its offset out of range", err, ctx.Err())
	}
	if !strings.Contains(errw.String(), "tail: scores/0: ") {
		t.Errorf("errors printed: %q, want the consumer's error", errw.String())
	}
}
