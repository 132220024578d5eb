package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
	"github.com/modelstream/modelstream/speculative"
)

func Example_main() {
	main()
	// Output: fraud@v1 scored 0.463
}

// TestReadmeShowsThisCode: the README's "Embed it", "Serve a Kafka
// stream" and "Writing your own Scorer" snippets are this package's
// files, so they compile and run.
func TestReadmeShowsThisCode(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for file, from := range map[string]string{"main.go": "package main", "scorer.go": "// ErrNoAmount", "kafka.go": "// Serve"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		code := string(b)
		code = code[strings.Index(code, from):]
		if !strings.Contains(string(readme), "```go\n"+code+"```") {
			t.Errorf("README.md does not show %s as it is (from %q on)", file, from)
		}
	}
}

// TestRulesInAVote: the guide's Scorer votes with Server slots whose
// models speak the same labels, honours its context, and returns typed
// errors with its provenance.
func TestRulesInAVote(t *testing.T) {
	ctx := context.Background()
	srv, err := serving.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	model := []byte(`{"kind":"logistic","features":1,"weights":[[0.01]],"bias":[-2],"classes":["ok","fraud"]}`)
	if _, err := srv.Activate(ctx, serving.Descriptor{Name: "fraud", Format: "linear", Bytes: model}); err != nil {
		t.Fatal(err)
	}
	rules := Rules{Version: 3, Limit: 400}
	vote, err := speculative.NewEnsemble(speculative.Vote(), []serving.Scorer{rules, srv.Model("fraud"), Rules{Version: 4, Limit: 450}}, speculative.WithName("vote"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := vote.Score(ctx, serving.Record{Features: []float64{500}})
	if err != nil || res.Label != "fraud" || res.Provenance.Decision == nil || len(res.Provenance.Decision.Candidates) != 3 {
		t.Fatalf("vote: %+v, %v", res, err)
	}
	if c := res.Provenance.Decision.Candidates[0].Model; c != rules.Ref() {
		t.Errorf("first candidate named %v, want %v", c, rules.Ref())
	}
	res, err = rules.Score(ctx, serving.Record{})
	var se *serving.ModelError
	if !errors.As(err, &se) || !errors.Is(err, ErrNoAmount) || res.Provenance.Model != rules.Ref() {
		t.Errorf("no amount: %+v, %v", res, err)
	}
	cctx, cancel := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel()
	<-cctx.Done()
	if _, err := rules.Score(cctx, serving.Record{Features: []float64{1}}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("done context: %v", err)
	}
}

// TestServe runs the README's Kafka program on an embedded broker: a
// model published with a kafka.Publisher goes live before the first
// record is scored, each payment gets a score naming it, a bad one a
// dead letter, and cancelling drains and commits both.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := kafkatest.New(t, kafkatest.Topic("models", 1), kafkatest.Topic("payments", 1))
	scores, dead := c.Consume(t, "scores"), c.Consume(t, "scores.dlq")
	cfg, err := kafka.NewConfig(c.Addrs())
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kafka.NewPublisher(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	model := []byte(`{"kind":"logistic","features":2,"feature_names":["amount","hour"],"weights":[[0.004,-0.05]],"bias":[-1]}`)
	if _, _, err := pub.Publish(ctx, serving.Descriptor{Name: "fraud", Format: "linear", Bytes: model}); err != nil {
		t.Fatal(err)
	}
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	c.Produce(t, "payments",
		kafkatest.Message{Key: []byte("card-1"), Value: []byte(`{"amount": 250, "hour": 3}`)},
		kafkatest.Message{Key: []byte("card-2"), Value: []byte(`{"hour": 4}`)})

	srv, err := serving.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Serve(runCtx, c.Addrs(), srv) }()

	m := scores.Next(t, 1)[0]
	s, err := wire.DecodeScore(wire.Message{Key: m.Key, Value: m.Value, Headers: m.Headers})
	if err != nil || s.Key != "card-1" || s.Provenance.Model.String() != "fraud@v1" || fmt.Sprintf("%.3f", s.Value) != "0.463" {
		t.Errorf("score %+v, %v; want card-1 scored 0.463 by fraud@v1", s, err)
	}
	dl, err := wire.ParseDeadLetter(dead.Next(t, 1)[0].Headers)
	if err != nil || dl.Offset != 1 || !strings.Contains(dl.Reason, `"amount"`) {
		t.Errorf("dead letter %+v, %v; want offset 1 missing amount", dl, err)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if got := c.Committed(t, "fraud-scorer", "payments"); got[0] != 2 {
		t.Errorf("committed %v, want partition 0 at 2", got)
	}
}

// TestServeUnreachable: with no broker to reach, Serve returns an error
// instead of waiting for a CaughtUp that never comes.
func TestServeUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := serving.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := Serve(ctx, []string{"127.0.0.1:1"}, srv); err == nil {
		t.Error("Serve: nil error with no broker")
	}
}

// TestServeStopsWhenScoringStops: when the Source stops for good, here
// because the brokers refuse every write, Serve returns its error. It
// waited for the feed first, which ends only when ctx does, so a service
// whose scoring had stopped kept running, consuming nothing, instead of
// exiting to be restarted.
func TestServeStopsWhenScoringStops(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := kafkatest.New(t, kafkatest.Topic("models", 1), kafkatest.Topic("payments", 1))
	cfg, err := kafka.NewConfig(c.Addrs())
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kafka.NewPublisher(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	model := []byte(`{"kind":"logistic","features":2,"feature_names":["amount","hour"],"weights":[[0.004,-0.05]],"bias":[-1]}`)
	if _, _, err := pub.Publish(ctx, serving.Descriptor{Name: "fraud", Format: "linear", Bytes: model}); err != nil {
		t.Fatal(err)
	}
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	c.Produce(t, "payments", kafkatest.Message{Key: []byte("card-1"), Value: []byte(`{"amount": 250, "hour": 3}`)})
	// From now on the cluster refuses every write: the score, and the
	// dead letter that would replace it.
	c.Fake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.TopicAuthorizationFailed, Count: -1})

	srv, err := serving.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, c.Addrs(), srv) }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Serve returned nil though every write was refused")
		}
		t.Logf("Serve: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("Serve still running a minute after its writes were refused")
	}
}
