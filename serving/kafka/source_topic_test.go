package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestSourceMissingTopic: a Source told to read a topic that does not
// exist (a misspelt name) fails Run at start with a *kafka.TopicError
// naming it, rather than retrying and logging forever, or, on a cluster
// that creates topics on first use (kafkatest's default, and Kafka's),
// creating it and waiting on it for records that never come. The check
// does not create the topic.
func TestSourceMissingTopic(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Topic("payments", 1))
	srv := newServer(t)
	cfg := config(t, c.Addrs(), kafka.Sarama(testTuning))
	sink, err := kafka.NewSink(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	src, err := kafka.NewSource(cfg, "misspelt", srv.Model("m"), sink, kafka.Topics("payments", "paymnets"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	err = src.Run(ctx)
	var te *kafka.TopicError
	if !errors.As(err, &te) || te.Topic != "paymnets" {
		t.Fatalf("Run = %v after %v; want a *kafka.TopicError naming \"paymnets\"", err, time.Since(start))
	}
	if ctx.Err() != nil {
		t.Fatalf("Run returned only when its context ended: %v", err)
	}
	client, err := sarama.NewClient(c.Addrs(), sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	topics, err := client.Topics()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range topics {
		if name == "paymnets" {
			t.Fatal("checking the topics created the missing one")
		}
	}
}

// TestSourceNeedsTopics: a Source made without Topics is refused with
// serving.ErrConfig naming the option, instead of reading a topic the
// program never named (it read "data" before).
func TestSourceNeedsTopics(t *testing.T) {
	c := kafkatest.New(t)
	cfg := config(t, c.Addrs())
	sink, err := kafka.NewSink(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	srv := newServer(t)
	for _, opts := range [][]kafka.SourceOption{nil, {kafka.Topics()}} {
		src, err := kafka.NewSource(cfg, "no-topics", srv.Model("m"), sink, opts...)
		if !errors.Is(err, serving.ErrConfig) || !strings.Contains(fmt.Sprint(err), "Topics") || src != nil {
			t.Errorf("NewSource with %d options = %v, %v; want serving.ErrConfig naming Topics", len(opts), src, err)
		}
	}
}
