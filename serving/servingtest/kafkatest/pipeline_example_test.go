package kafkatest_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/modelstream/modelstream/serving"
	_ "github.com/modelstream/modelstream/serving/formats/linear"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// Example_pipeline is the body of a test of a whole scoring service: a
// model published to the models topic, a ModelFeed that hot-swaps it
// into a Server, and a Source and Sink that score a data topic, with
// the scores and dead letters read back by the cluster's helpers; t is
// the test's *testing.T.
//
// The model is published before the feed starts, so that CaughtUp
// means "the model is live": CaughtUp waits for the messages that were
// on the topic when Run started, not for later ones. A record scored
// before any version is live is dead-lettered with serving.ErrNoModel.
func Example_pipeline() {
	t := &exampleT{}
	defer t.done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil)) // or leave the loggers out

	c := kafkatest.New(t, kafkatest.Topic("models", 1), kafkatest.Topic("payments", 1))
	scores := c.Consume(t, "scores") // start reading before the writes
	dead := c.Consume(t, "scores.dlq")

	// The training side: a model message, as the wire package encodes it.
	m, err := wire.EncodeModel(serving.Descriptor{Name: "fraud", Format: "linear",
		Bytes: []byte(`{"kind":"logistic","features":2,"feature_names":["amount","hour"],"weights":[[0.004,-0.05]],"bias":[-1]}`)}, 0)
	if err != nil {
		t.Fatalf("%v", err)
	}
	c.Produce(t, "models", kafkatest.Message{Key: m.Key, Value: m.Value, Headers: m.Headers})

	// The service under test.
	srv, err := serving.NewServer(serving.WithLogger(quiet))
	if err != nil {
		t.Fatalf("%v", err)
	}
	defer srv.Close()
	cfg, err := kafka.NewConfig(c.Addrs(), kafka.Logger(quiet))
	if err != nil {
		t.Fatalf("%v", err)
	}
	feed, err := kafka.NewModelFeed(cfg, srv)
	if err != nil {
		t.Fatalf("%v", err)
	}
	go feed.Run(ctx)
	<-feed.CaughtUp() // in a test, also select on a timeout
	sink, err := kafka.NewSink(ctx, cfg, kafka.Topic("scores"), kafka.DeadLetterTopic("scores.dlq"))
	if err != nil {
		t.Fatalf("%v", err)
	}
	defer sink.Close()
	src, err := kafka.NewSource(cfg, "fraud-scorer", srv.Model("fraud"), sink, kafka.Topics("payments"))
	if err != nil {
		t.Fatalf("%v", err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- src.Run(runCtx) }()

	c.Produce(t, "payments",
		kafkatest.Message{Key: []byte("card-1"), Value: []byte(`{"amount": 250, "hour": 3}`)},
		kafkatest.Message{Key: []byte("card-1"), Value: []byte(`{"hour": 4}`)})

	out := scores.Next(t, 1)[0]
	s, err := wire.DecodeScore(wire.Message{Key: out.Key, Value: out.Value, Headers: out.Headers})
	if err != nil {
		t.Fatalf("%v", err)
	}
	p, err := wire.ProvenanceOf(out.Headers, nil) // the headers alone say which model
	if err != nil {
		t.Fatalf("%v", err)
	}
	fmt.Printf("score of %s at offset %d: %.3f by %s (headers: %s)\n", s.Key, s.Offset, s.Value, s.Provenance.Model, p.Model)
	dl, err := wire.ParseDeadLetter(dead.Next(t, 1)[0].Headers)
	if err != nil {
		t.Fatalf("%v", err)
	}
	fmt.Printf("dead letter at offset %d, stage %s: %s\n", dl.Offset, dl.Stage, dl.Reason)

	stop() // drains, commits, leaves the group
	fmt.Println("Run:", <-done, "committed:", c.Committed(t, "fraud-scorer", "payments"))
	// Output:
	// score of card-1 at offset 0: 0.463 by fraud@v1 (headers: fraud@v1)
	// dead letter at offset 1, stage score: serving: score fraud@v1: serving: missing field: "amount"
	// Run: <nil> committed: map[0:2]
}
