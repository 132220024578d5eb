package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// openSpans returns the spans of every kind that sr saw start and never
// saw end, by name, with the offset of their record when it is known.
func openSpans(sr *tracetest.SpanRecorder) (started int, open []string) {
	ended := map[trace.SpanID]bool{}
	for _, s := range sr.Ended() {
		ended[s.SpanContext().SpanID()] = true
	}
	for _, s := range sr.Started() {
		started++
		if !ended[s.SpanContext().SpanID()] {
			open = append(open, fmt.Sprintf("%s@%d", s.Name(), attrs(s)["messaging.kafka.offset"].AsInt64()))
		}
	}
	return started, open
}

// TestTracingStopsMidFlight stops a traced Source while records are in
// flight, in both delivery modes, in each way a Source stops: its
// context cancelled (the drain cut short by a slow Scorer), its brokers
// gone (then cancelled, if Run has not stopped by itself), and the
// scores topic refusing every write (at-least-once; the exactly-once
// case is TestTracingExactlyOnceUnwritable). Every span it started, of
// every kind, has ended once Run returns and the Sink is closed.
//
// Crash (export_test.go) is left out: it stands for a killed process,
// which ends no span, and leaves its records' spans open on purpose.
func TestTracingStopsMidFlight(t *testing.T) {
	for _, mode := range []string{"at-least-once", "exactly-once"} {
		for _, how := range []string{"cancelled", "brokers gone", "unwritable"} {
			if how == "unwritable" && mode == "exactly-once" {
				continue
			}
			t.Run(mode+"/"+how, func(t *testing.T) { tracingStop(t, mode == "exactly-once", how) })
		}
	}
}

func tracingStop(t *testing.T, eos bool, how string) {
	if raceEnabled && eos && how == "brokers gone" {
		t.Skip("race detector on: sarama races with itself on a failed transactional write (see race_on_test.go)")
	}
	const n = 4000
	c := kafkatest.New(t, kafkatest.Topic(kafka.DefaultDataTopic, 2))
	srv := newServer(t)
	if _, err := srv.Activate(context.Background(), linearModel(t, "m", 1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	keys, vals := records(0, n)
	produce(t, c, kafka.DefaultDataTopic, keys, vals)
	if how == "unwritable" {
		c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: kafka.DefaultScoresTopic, Err: kerr.InvalidRecord, Count: -1})
	}
	// A slow Scorer keeps records in flight, some scored, some queued.
	m := srv.Model("m")
	scorer := serving.ScorerFunc(func(ctx context.Context, r serving.Record) (serving.Result, error) {
		select {
		case <-time.After(200 * time.Microsecond):
		case <-ctx.Done():
			return serving.Result{}, ctx.Err()
		}
		return m.Score(ctx, r)
	})
	sr, tp := recorder()
	opts := []kafka.SourceOption{kafka.TracerProvider(tp), kafka.Workers(4), kafka.Window(256),
		kafka.CommitInterval(50 * time.Millisecond), kafka.DrainTimeout(20 * time.Millisecond)}
	if eos {
		opts = append(opts, kafka.ExactlyOnce())
	}
	cfg := config(t, c.Addrs(), kafka.RetryTimeout(2*time.Second))
	sink, err := kafka.NewSink(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	src, err := kafka.NewSource(config(t, c.Addrs(), kafka.RetryTimeout(2*time.Second), kafka.Sarama(testTuning)), "trace-stop", scorer, sink, append([]kafka.SourceOption{kafka.Topics(kafka.DefaultDataTopic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	waitFor(t, "records in flight", func() bool { return src.Stats().Consumed > 500 })
	switch how {
	case "cancelled":
		cancel()
	case "brokers gone":
		c.Close()
	}
	// Under ExactlyOnce, a Source whose brokers are gone aborts and
	// rejoins without end (see "Exactly once" in the package
	// documentation): it is cancelled after a few seconds of that.
	wait := 2 * time.Minute
	if eos && how == "brokers gone" {
		wait = 5 * time.Second
	}
	select {
	case err = <-done:
	case <-time.After(wait):
		t.Logf("%s: Run still running after %v; cancelled; stats %+v", how, wait, src.Stats())
		cancel()
		select {
		case err = <-done:
		case <-time.After(2 * time.Minute):
			t.Fatalf("Run still running 2 minutes after it was cancelled (%s); stats %+v", how, src.Stats())
		}
	}
	sink.Close()
	started, open := openSpans(sr)
	t.Logf("%s: Run returned %v; stats %+v; %d spans started, %d open", how, err, src.Stats(), started, len(open))
	if how == "unwritable" && err == nil {
		t.Error("Run returned nil with the scores topic refusing every write")
	}
	if started == 0 {
		t.Fatal("no span started")
	}
	if len(open) > 0 {
		t.Errorf("%d of %d spans never ended: %v", len(open), started, open[:min(len(open), 20)])
	}
}
