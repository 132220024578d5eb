package feedbackkafka_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/feedback"
	"github.com/modelstream/modelstream/serving/feedback/feedbackkafka"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/quality"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
	"github.com/modelstream/modelstream/serving/wire"
)

// A Reader joins the scores a Sink wrote to the labels that arrive later
// on a feedback topic, by the input's key, and hands each match to live
// quality.
func ExampleNewReader() {
	cluster, err := kafkatest.Start(kafkatest.Topic("scores", 1), kafkatest.Topic("labels", 1))
	if err != nil {
		panic(err)
	}
	defer cluster.Close()

	// Scores of three orders, as a Sink writes them, and the truth about
	// two of them: order-3 was not fraud.
	pc := sarama.NewConfig()
	pc.Producer.Return.Successes = true
	p, err := sarama.NewSyncProducer(cluster.Addrs(), pc)
	if err != nil {
		panic(err)
	}
	defer p.Close()
	model := serving.Provenance{Model: serving.ModelRef{Name: "fraud", Version: 3}}
	for i, v := range []float64{0.9, 0.2, 0.7} {
		key := fmt.Sprintf("order-%d", i+1)
		label := map[bool]string{true: "1", false: "0"}[v >= 0.5]
		s := wire.Score{Key: key, Prediction: serving.Prediction{Value: v, Label: label}, Provenance: model, Topic: "orders", Offset: int64(i)}
		b, err := wire.ScoreJSON.AppendScore(nil, &s)
		if err != nil {
			panic(err)
		}
		p.SendMessage(&sarama.ProducerMessage{Topic: "scores", Key: sarama.StringEncoder(key), Value: sarama.ByteEncoder(b)})
	}
	p.SendMessage(&sarama.ProducerMessage{Topic: "labels", Key: sarama.StringEncoder("order-1"), Value: sarama.StringEncoder("true")})
	p.SendMessage(&sarama.ProducerMessage{Topic: "labels", Key: sarama.StringEncoder("order-3"), Value: sarama.StringEncoder("false")})

	cfg, err := kafka.NewConfig(cluster.Addrs(), kafka.Logger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		panic(err)
	}
	j, err := feedback.NewJoiner(time.Hour, 10_000) // labels may come an hour after their score
	if err != nil {
		panic(err)
	}
	tr, err := quality.NewTracker(100)
	if err != nil {
		panic(err)
	}
	observe, err := feedback.Observe(tr, feedback.Binary)
	if err != nil {
		panic(err)
	}
	var mu sync.Mutex
	var joined []string
	r, err := feedbackkafka.NewReader(cfg, "scores", "labels", j, func(m feedback.Match) error {
		mu.Lock()
		joined = append(joined, fmt.Sprintf("%s: predicted %s, truth %v", m.Label.Key, m.Score.Label, m.Label.Value))
		mu.Unlock()
		return observe(m)
	})
	if err != nil {
		panic(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	for deadline := time.Now().Add(time.Minute); r.Stats().Joined < 2 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	fmt.Println("Run:", <-done)

	mu.Lock()
	slices.Sort(joined) // scores and labels are read concurrently
	for _, s := range joined {
		fmt.Println(s)
	}
	mu.Unlock()
	st := r.Stats()
	fmt.Printf("scores waiting %d (order-2)\n", st.PendingScores)
	for _, s := range tr.Snapshot() {
		fmt.Printf("%s@v%d accuracy %.2f over %d\n", s.Model, s.Version, s.Accuracy.Value, s.Accuracy.N)
	}
	// Output:
	// Run: <nil>
	// order-1: predicted 1, truth 1
	// order-3: predicted 1, truth 0
	// scores waiting 1 (order-2)
	// fraud@v3 accuracy 0.50 over 2
}
