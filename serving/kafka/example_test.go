package kafka_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// ExampleModelFeed publishes two versions of a model, and a feed
// activates the newest in a Server, the way every scoring instance does
// at start-up.
func ExampleModelFeed() {
	cluster, err := kafkatest.Start(kafkatest.Topic(kafka.DefaultModelsTopic, 1))
	if err != nil {
		panic(err)
	}
	defer cluster.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg, err := kafka.NewConfig(cluster.Addrs(), kafka.Logger(quiet))
	if err != nil {
		panic(err)
	}
	pub, err := kafka.NewPublisher(ctx, cfg)
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	for v, value := range []float64{0.25, 0.75} {
		d := servingtest.Spec{Value: value}.Descriptor("churn", uint64(v+1))
		if _, _, err := pub.Publish(ctx, d); err != nil {
			panic(err)
		}
	}

	srv, _ := serving.NewServer(serving.WithLogger(quiet))
	feed, err := kafka.NewModelFeed(cfg, srv)
	if err != nil {
		panic(err)
	}
	go feed.Run(ctx)
	<-feed.CaughtUp()

	res, _ := srv.Model("churn").Score(ctx, serving.Record{Features: []float64{1}})
	fmt.Println(res.Provenance.Model, res.Value)
	fmt.Printf("%+v\n", feed.Stats())
	// Output:
	// churn@v2 0.75
	// {Read:2 Activated:2 Stale:0 Rejected:0 Malformed:0}
}

// ExampleSource scores a data topic with the live version of a model and
// writes the scores, with their provenance, to the scores topic.
func ExampleSource() {
	cluster, err := kafkatest.Start(kafkatest.Topic(kafka.DefaultDataTopic, 1), kafkatest.Topic(kafka.DefaultScoresTopic, 1))
	if err != nil {
		panic(err)
	}
	defer cluster.Close()
	brokers := cluster.Addrs()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	// A Server with a model that sums its features (from servingtest).
	srv, _ := serving.NewServer(serving.WithLogger(quiet))
	if _, err := srv.Activate(ctx, servingtest.Spec{Echo: true}.Descriptor("sum", 1)); err != nil {
		panic(err)
	}

	// Three records: two arrays of numbers, and one the codec refuses.
	in, _ := sarama.NewSyncProducer(brokers, nil)
	defer in.Close()
	for _, v := range []string{`[1, 2, 3]`, `[1, "two"]`, `[0.5, 0.25]`} {
		in.SendMessage(&sarama.ProducerMessage{Topic: kafka.DefaultDataTopic, Key: sarama.StringEncoder("k"), Value: sarama.StringEncoder(v)})
	}

	cfg, err := kafka.NewConfig(brokers, kafka.Logger(quiet))
	if err != nil {
		panic(err)
	}
	sink, err := kafka.NewSink(ctx, cfg)
	if err != nil {
		panic(err)
	}
	defer sink.Close()
	src, err := kafka.NewSource(cfg, "example", srv.Model("sum"), sink, kafka.Topics(kafka.DefaultDataTopic))
	if err != nil {
		panic(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- src.Run(runCtx) }()

	out, _ := sarama.NewConsumer(brokers, nil)
	defer out.Close()
	pc, _ := out.ConsumePartition(kafka.DefaultScoresTopic, 0, sarama.OffsetOldest)
	defer pc.Close()
	for range 2 {
		m := <-pc.Messages()
		s, _ := wire.DecodeScore(wire.Message{Key: m.Key, Value: m.Value, Headers: kafka.Headers(m)})
		fmt.Printf("offset %d: %v by %s (header %s=%.16s…)\n", s.Offset, s.Value, s.Provenance.Model, m.Headers[0].Key, m.Headers[0].Value)
	}
	stop() // drains, commits, leaves the group
	fmt.Println(<-done, src.Stats().Scored, "scored,", src.Stats().DeadLettered, "dead letter")
	// Output:
	// offset 0: 6 by sum@v1 (header modelstream.provenance=sum/1/2fbe770dda…)
	// offset 2: 0.75 by sum@v1 (header modelstream.provenance=sum/1/2fbe770dda…)
	// <nil> 2 scored, 1 dead letter
}

// One Config holds what every client shares: brokers, TLS, SASL, client
// ID, logger and sarama settings. NewConfig dials nothing.
func ExampleNewConfig() {
	cfg, err := kafka.NewConfig([]string{"broker-1:9093", "broker-2:9093"},
		kafka.ClientID("fraud-scorer"),
		kafka.TLS(&tls.Config{MinVersion: tls.VersionTLS12}),
		kafka.SASL("scorer", "secret"),
		kafka.Sarama(func(c *sarama.Config) { c.Net.DialTimeout = 5 * time.Second }),
	)
	if err != nil {
		panic(err)
	}
	sc, _ := cfg.SaramaConfig(nil) // what each client starts from
	fmt.Println(cfg.Brokers(), sc.ClientID, sc.Net.TLS.Enable, sc.Net.SASL.Mechanism, sc.Net.DialTimeout)
	_, err = kafka.NewConfig(nil)
	fmt.Println(errors.Is(err, serving.ErrConfig))
	// Output:
	// [broker-1:9093 broker-2:9093] fraud-scorer true PLAIN 5s
	// true
}

// deadLetters counts dead letters; a Source calls it (see Hooks).
type deadLetters struct{ n atomic.Int64 }

func (d *deadLetters) OnDeadLetter(topic string, partition int32, offset int64, reason error) {
	d.n.Add(1)
}

// Hooks observe a Source: here, the dead letters, as a metrics adapter
// would count them.
func ExampleHooks() {
	cluster, err := kafkatest.Start()
	if err != nil {
		panic(err)
	}
	defer cluster.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg, _ := kafka.NewConfig(cluster.Addrs(), kafka.Logger(quiet))
	srv, _ := serving.NewServer(serving.WithLogger(quiet))
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	srv.Activate(ctx, servingtest.Spec{Echo: true}.Descriptor("sum", 1))
	sink, _ := kafka.NewSink(ctx, cfg)
	defer sink.Close()
	dead := &deadLetters{}
	src, _ := kafka.NewSource(cfg, "hooks", srv.Model("sum"), sink, kafka.Hooks(dead), kafka.Topics(kafka.DefaultDataTopic))

	// The records first: writing them creates the topic, which Run
	// checks exists when it starts.
	p, _ := sarama.NewSyncProducer(cluster.Addrs(), nil)
	defer p.Close()
	for _, v := range []string{`[1, 2]`, `not json`, `[3]`} {
		p.SendMessage(&sarama.ProducerMessage{Topic: kafka.DefaultDataTopic, Value: sarama.StringEncoder(v)})
	}
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	for src.Stats().Scored+src.Stats().DeadLettered < 3 {
		select {
		case err := <-done:
			fmt.Println("Run:", err)
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	stop()
	<-done
	fmt.Println(dead.n.Load(), "dead letter")
	// Output: 1 dead letter
}
