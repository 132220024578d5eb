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
	if err := run(ctx, os.Stdout, os.Stderr, *brokers, *topic, *from, *n); err != nil {
		fmt.Fprintln(os.Stderr, "tail:", err)
		os.Exit(1)
	}
}

// run prints the records of topic to w, and the consumer's errors to
// errw as they come. It returns when n records were printed, when ctx is
// done, or with an error when a partition stops for good (its offset out
// of range, its retries exhausted): a tail that silently leaves out a
// partition would be a wrong one.
func run(ctx context.Context, w, errw io.Writer, brokers, topic, from string, n int) error {
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
	// Without Return.Errors, sarama only logs the consumer's errors, here
	// to nowhere, and a partition that stops is never heard of again.
	cfg.Consumer.Return.Errors = true
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
	// sending, and each drains its partition's messages and errors until
	// AsyncClose closes them, as sarama asks. Without done, a forwarder
	// holding a message nobody reads any more (there were more records
	// than -n) blocked for ever. A partition whose channels close before
	// done is one sarama gave up on: its forwarder says so on stopped.
	msgs := make(chan *sarama.ConsumerMessage)
	errs := make(chan *sarama.ConsumerError)
	stopped := make(chan int32)
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
		wg.Go(func() { forward(pc, p, msgs, errs, stopped, done) })
	}
	if cl.Embedded != nil {
		if err := samples(ctx, cl.Brokers, topic); err != nil {
			return err
		}
	}
	fmt.Fprintf(errw, "tailing %s (%d partitions) on the %s\n", topic, len(parts), cl.Where())
	last := map[int32]error{}
	for i := 0; n == 0 || i < n; {
		select {
		case m := <-msgs:
			fmt.Fprintln(w, demo.FormatScore(m))
			i++
		case e := <-errs:
			fmt.Fprintf(errw, "tail: %s/%d: %v\n", e.Topic, e.Partition, e.Err)
			last[e.Partition] = e.Err
		case p := <-stopped:
			if err := last[p]; err != nil {
				return fmt.Errorf("partition %s/%d stopped: %w", topic, p, err)
			}
			return fmt.Errorf("partition %s/%d stopped", topic, p)
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// forward hands the messages and errors of partition p to run until
// done, then drains them until AsyncClose closes both. When sarama closes
// them before done, it gave the partition up: forward tells run on
// stopped, after the errors that said why.
func forward(pc sarama.PartitionConsumer, p int32, msgs chan<- *sarama.ConsumerMessage, errs chan<- *sarama.ConsumerError, stopped chan<- int32, done <-chan struct{}) {
	in, ein := pc.Messages(), pc.Errors()
	defer func() {
		select {
		case stopped <- p:
		case <-done:
		}
	}()
	for in != nil || ein != nil {
		select {
		case m, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			select {
			case msgs <- m:
			case <-done:
			}
		case e, ok := <-ein:
			if !ok {
				ein = nil
				continue
			}
			select {
			case errs <- e:
			case <-done:
			}
		}
	}
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
	sink, err := kafka.NewSink(ctx, kcfg, kafka.Topic(topic), kafka.DeadLetterTopic(topic))
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
