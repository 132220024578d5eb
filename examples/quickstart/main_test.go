package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// TestQuickstart runs the demo small and fast against a test cluster of
// its own, then reads the topics back and checks what the quickstart
// promises: fraud@v1 scores, then fraud@v2 scores every transaction sent
// after v2 went live; every transaction is scored or dead-lettered (the
// malformed ones, and only those, dead-lettered); and, with no crash,
// none is answered twice.
func TestQuickstart(t *testing.T) {
	const n = 6000 // one malformed transaction in 5000
	c := kafkatest.New(t, kafkatest.Topic(dataTopic, 4), kafkatest.Topic(scoresTopic, 4), kafkatest.Topic(dlqTopic, 1), kafkatest.Topic(modelsTopic, 1))
	if err := run(context.Background(), strings.Join(c.Addrs(), ","), "", n, 6000, false); err != nil {
		t.Fatal(err)
	}
	client, err := sarama.NewClient(c.Addrs(), sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	count := func(topic string) int {
		parts, err := client.Partitions(topic)
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, p := range parts {
			hw, err := client.GetOffset(topic, p, sarama.OffsetNewest)
			if err != nil {
				t.Fatal(err)
			}
			total += int(hw)
		}
		return total
	}
	nin, nscores, ndead := count(dataTopic), count(scoresTopic), count(dlqTopic)
	if nin != n {
		t.Fatalf("%d transactions on %s, want %d", nin, dataTopic, n)
	}
	type at struct {
		part int32
		off  int64
	}
	inputs := map[at]string{}
	for _, m := range c.Consume(t, dataTopic).Next(t, nin) {
		inputs[at{m.Partition, m.Offset}] = string(m.Value)
	}
	malformed := func(v string) bool { return strings.Contains(v, `"lots"`) }
	answered := map[at]int{}
	byVersion := map[uint64]int{}
	for _, m := range c.Consume(t, scoresTopic).Next(t, nscores) {
		s, err := wire.DecodeScore(wire.Message{Key: m.Key, Value: m.Value, Headers: m.Headers})
		if err != nil {
			t.Fatalf("score %s: %v", m.Value, err)
		}
		k := at{s.Partition, s.Offset}
		answered[k]++
		byVersion[s.Provenance.Model.Version]++
		if malformed(inputs[k]) {
			t.Errorf("the malformed transaction %s was scored", inputs[k])
		}
	}
	for _, m := range c.Consume(t, dlqTopic).Next(t, ndead) {
		dl, err := wire.ParseDeadLetter(m.Headers)
		if err != nil {
			t.Fatalf("dead letter %s: %v", m.Value, err)
		}
		k := at{dl.Partition, dl.Offset}
		answered[k]++
		if !malformed(inputs[k]) {
			t.Errorf("the well-formed transaction %s was dead-lettered: %s", inputs[k], dl.Reason)
		}
	}
	for k, v := range inputs {
		switch answered[k] {
		case 1:
		case 0:
			t.Errorf("transaction %d/%d (%s) neither scored nor dead-lettered", k.part, k.off, v)
		default:
			t.Errorf("transaction %d/%d answered %d times without a crash", k.part, k.off, answered[k])
		}
	}
	if len(answered) != n {
		t.Errorf("%d outputs answer %d distinct transactions, want %d", nscores+ndead, len(answered), n)
	}
	// v2 is published after transaction n/2 and live before the rest is
	// sent; the first half is scored as it arrives.
	after := 0 // well-formed transactions sent after v2 went live
	for i := n/2 + 1; i < n; i++ {
		if i%5000 != 4999 {
			after++
		}
	}
	if byVersion[1] == 0 || byVersion[2] < after || byVersion[1]+byVersion[2] != nscores {
		t.Errorf("scores by version %v: want some by v1, and by v2 at least the %d sent after it went live", byVersion, after)
	}
	if ndead != n/5000 {
		t.Errorf("%d dead letters, want %d", ndead, n/5000)
	}
	t.Logf("%d transactions: %d scored by v1, %d by v2, %d dead-lettered", n, byVersion[1], byVersion[2], ndead)
}

// TestQuickstartLoadsEveryFormat: the quickstart registers every model
// format of the module, so that a LightGBM model, say, published to its
// models topic with kcat loads rather than failing as an unknown format.
func TestQuickstartLoadsEveryFormat(t *testing.T) {
	for _, f := range []string{"lightgbm", "lightgbm-json", "linear", "onnx", "pmml", "tensorflow-graphdef", "tensorflow-savedmodel", "xgboost-json", "xgboost-ubj"} {
		if !slices.Contains(serving.Formats(), f) {
			t.Errorf("format %q not registered; have %v", f, serving.Formats())
		}
	}
	b, err := os.ReadFile("../../serving/formats/leaves/testdata/lightgbm4/binary_classification.model.txt")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serving.NewServer(serving.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := srv.Activate(context.Background(), serving.Descriptor{Name: "gbm", Format: "lightgbm", Bytes: b}); err != nil {
		t.Fatalf("a LightGBM model does not load in the quickstart: %v", err)
	}
}

// TestAwaitReturnsWhenThePipelineStops: when the Source stops on its own
// (a write that failed for good) before every transaction came out, the
// quickstart reports its error instead of waiting for Ctrl-C. Before,
// the wait loop did not watch the Source and printed the same progress
// line every half second for ever.
func TestAwaitReturnsWhenThePipelineStops(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	failed := errors.New("kafka: sink: write failed for good")
	srcDone := make(chan error, 1)
	srcDone <- failed
	v := newView("run", 1, 2)
	produced, stopped, err := await(ctx, v, 10, srcDone, make(chan error), func() {})
	if !stopped || !errors.Is(err, failed) || produced != 10 {
		t.Errorf("await: stopped %v, err %v, produced %d; want the Source's error at once (ctx: %v)", stopped, err, produced, ctx.Err())
	}
	// Ctrl-C still ends the wait, and leaves the Source to be stopped.
	cancelled, stop := context.WithCancel(context.Background())
	stop()
	produced, stopped, err = await(cancelled, v, 10, make(chan error), make(chan error), func() {})
	if stopped || err != nil || produced != -1 {
		t.Errorf("await after Ctrl-C: stopped %v, err %v, produced %d; want -1", stopped, err, produced)
	}
}

// TestStreamCountsWhatWasWrittenWhenTheProducerFails: when a produce
// fails for some partitions only, stream returns the error and counts
// the transactions the cluster did acknowledge, the ones await then waits
// for. Partition 0 is alone on one of two brokers, which refuses every
// produce with INVALID_RECORD (not retried). Before, stream counted none
// of the failed batch (0 sent, while the other partitions held about
// three quarters of it): await stopped waiting early, and the summary
// said fewer transactions were sent than were scored.
func TestStreamCountsWhatWasWrittenWhenTheProducerFails(t *testing.T) {
	c := kafkatest.New(t, kafkatest.NumBrokers(2), kafkatest.Topic(dataTopic, 4))
	kf := c.Fake()
	bad := kf.LeaderFor(dataTopic, 0)
	for p := int32(1); p < 4; p++ {
		if kf.LeaderFor(dataTopic, p) == bad {
			good := int32(0)
			if bad == 0 {
				good = 1
			}
			if err := kf.MoveTopicPartition(dataTopic, p, good); err != nil {
				t.Fatal(err)
			}
		}
	}
	kf.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kf.KeepControl()
		if kf.CurrentNode() != bad {
			return nil, nil, false
		}
		pr := req.(*kmsg.ProduceRequest)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range pr.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.InvalidRecord.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	produced, err := stream(ctx, c.Addrs(), "run", 1000, 1_000_000, func() {}, func() {})
	var failed sarama.ProducerErrors
	if !errors.As(err, &failed) || len(failed) == 0 || !errors.Is(failed[0], sarama.ErrInvalidRecord) {
		t.Fatalf("stream: %v, want the partition's INVALID_RECORD", err)
	}
	client, cerr := sarama.NewClient(c.Addrs(), sarama.NewConfig())
	if cerr != nil {
		t.Fatal(cerr)
	}
	defer client.Close()
	written := 0
	for p := int32(0); p < 4; p++ {
		hw, err := client.GetOffset(dataTopic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		written += int(hw)
	}
	if written == 0 || produced != written {
		t.Errorf("stream counted %d transactions sent; the topic holds %d", produced, written)
	}
}

// TestAwaitReturnsWhenTheTailStops: when the broker answers the tail's
// fetches with OFFSET_OUT_OF_RANGE, sarama gives those partitions up, and
// the wait for every transaction's output ends with that error instead
// of printing the same line until Ctrl-C. Before, Consumer.Return.Errors
// was off: the error went to sarama's discarded log, the tail's
// partitions stopped unnoticed, and the wait ended only at its deadline.
func TestAwaitReturnsWhenTheTailStops(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic(scoresTopic, 4), kafkatest.Topic(dlqTopic, 1))
	fault := c.FailFetches(kerr.OffsetOutOfRange)
	v := newView("run", 1, 2)
	stop, lost, err := tail(c.Addrs(), v)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	produced, stopped, err := await(ctx, v, 10, make(chan error), lost, func() {})
	if fault.Failed() == 0 {
		t.Fatal("the fetch error was not injected")
	}
	if stopped || produced != 10 || !errors.Is(err, sarama.ErrOffsetOutOfRange) {
		t.Errorf("await: stopped %v, produced %d, err %v (ctx: %v); want the tail's offset out of range", stopped, produced, err, ctx.Err())
	}
}
