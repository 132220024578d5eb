// Command tail prints the records of a scores topic in a readable form,
// one line each: the score, its label, the model version and content ID
// that computed it, and where its input came from. Dead letters are shown
// with their reason.
//
//	go run ./examples/tail -brokers localhost:9092 -topic scores
//	go run ./examples/tail -brokers localhost:9092 -topic scores.dlq -n 10
//
// With no -brokers it starts an embedded broker, writes a few sample
// scores and a dead letter through a Sink, and tails them.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/internal/demo"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/wire"
)

func main() {
	brokers := flag.String("brokers", "", "comma-separated Kafka brokers; empty starts an embedded broker with sample scores")
	topic := flag.String("topic", kafka.DefaultScoresTopic, "topic to tail")
	from := flag.String("from", "oldest", "where to start in each partition: oldest or newest")
	n := flag.Int("n", 0, "stop after n records; 0 runs until Ctrl-C (8 with the embedded broker)")
	flag.Parse()
	// sarama.Logger is a package variable that sarama's goroutines read
	// while they shut down, so it is set once here, not in run.
	sarama.Logger = discard{}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, *brokers, *topic, *from, *n); err != nil {
		fmt.Fprintln(os.Stderr, "tail:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, brokers, topic, from string, n int) error {
	start := sarama.OffsetOldest
	switch from {
	case "oldest":
	case "newest":
		start = sarama.OffsetNewest
	default:
		return fmt.Errorf("-from %q: want oldest or newest", from)
	}
	// On the embedded broker, the topic is created here and the samples
	// are written once the partitions are followed, so that -from newest
	// shows them too. A real cluster's topics are left as they are.
	var topics []demo.Topic
	if brokers == "" {
		topics = append(topics, demo.Topic{Name: topic, Partitions: 4})
	}
	cl, err := demo.Connect(brokers, "", topics...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if cl.Embedded != nil && n == 0 {
		n = 8
	}
	cfg := sarama.NewConfig()
	cfg.Version = kafka.DefaultVersion
	cons, err := sarama.NewConsumer(cl.Brokers, cfg)
	if err != nil {
		return err
	}
	defer cons.Close()
	parts, err := cons.Partitions(topic)
	if err != nil {
		return err
	}
	// The forwarders stop when run returns: done tells them to stop
	// sending, and each drains its partition until AsyncClose closes
	// it, as sarama asks. Without done, a forwarder holding a message
	// nobody reads any more (there were more records than -n) blocked
	// for ever.
	msgs := make(chan *sarama.ConsumerMessage)
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(done)
	for _, p := range parts {
		pc, err := cons.ConsumePartition(topic, p, start)
		if err != nil {
			return err
		}
		defer pc.AsyncClose()
		wg.Go(func() {
			for m := range pc.Messages() {
				select {
				case msgs <- m:
				case <-done:
				}
			}
		})
	}
	if cl.Embedded != nil {
		if err := samples(ctx, cl.Brokers, topic); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "tailing %s (%d partitions) on the %s\n", topic, len(parts), cl.Where())
	for i := 0; n == 0 || i < n; i++ {
		select {
		case m := <-msgs:
			fmt.Fprintln(w, demo.FormatScore(m))
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// samples scores a few transactions with the sample fraud model and
// writes them, and one dead letter, through a Sink.
func samples(ctx context.Context, brokers []string, topic string) error {
	srv, err := serving.NewServer(serving.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return err
	}
	defer srv.Close()
	if _, err := srv.Activate(ctx, demo.FraudModel(1)); err != nil {
		return err
	}
	kcfg, err := kafka.NewConfig(brokers)
	if err != nil {
		return err
	}
	sink, err := kafka.NewSink(kcfg, kafka.Topic(topic), kafka.DeadLetterTopic(topic))
	if err != nil {
		return err
	}
	defer sink.Close()
	acks := make(chan error, 8)
	ack := func(err error) { acks <- err }
	for i, x := range [][]float64{{25, 14, 0}, {480, 3, 1}, {60, 22, 0}, {150, 2, 1}, {12, 10, 0}, {900, 4, 0}, {75, 13, 1}} {
		in := &sarama.ConsumerMessage{Topic: "transactions", Partition: int32(i % 2), Offset: int64(i), Key: []byte(fmt.Sprintf("card%03d", 17*i)), Timestamp: time.Now()}
		res, err := srv.Model("fraud").Score(ctx, serving.Record{Key: in.Key, Features: x})
		if err != nil {
			return err
		}
		sink.WriteScore(in, res, ack)
	}
	bad := &sarama.ConsumerMessage{Topic: "transactions", Partition: 1, Offset: 7, Key: []byte("card999"), Value: []byte(`{"amount": "lots"}`)}
	sink.WriteDeadLetter(bad, wire.StageDecode, fmt.Errorf("kafka: cannot decode record: field amount: not a number"), ack)
	for range 8 {
		if err := <-acks; err != nil {
			return err
		}
	}
	return nil
}

type discard struct{}

func (discard) Print(...any)          {}
func (discard) Printf(string, ...any) {}
func (discard) Println(...any)        {}
