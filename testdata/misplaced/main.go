// Package main passes options to constructors they do not belong to.
// It must not compile: TestMisplacedOptionsDoNotCompile builds it and
// expects exactly one error on each line marked "misplaced", and no
// other error, so that a misplaced option is a compile error, as in
// franz-go's kgo, rather than a surprise at run time.
package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/speculative"
	"github.com/modelstream/modelstream/training/trainkafka"
)

func main() {
	ctx := context.Background()
	cfg, _ := kafka.NewConfig([]string{"localhost:9092"})
	srv, _ := serving.NewServer()
	sink, _ := kafka.NewSink(ctx, cfg)
	sc := srv.Model("fraud")

	_, _ = kafka.NewConfig([]string{"localhost:9092"}, kafka.Workers(4))             // misplaced: a Source's, not the Config's
	_, _ = kafka.NewSource(cfg, "g", sc, sink, kafka.Logger(slog.Default()))         // misplaced: the Config's, shared by every client
	_, _ = kafka.NewSource(cfg, "g", sc, sink, kafka.DeadLetterTopic("dlq"))         // misplaced: a Sink's
	_, _ = kafka.NewSink(ctx, cfg, kafka.Topics("payments"))                         // misplaced: the data topics a Source reads
	_, _ = kafka.NewModelFeed(cfg, srv, kafka.ExactlyOnce())                         // misplaced: a Source's
	_, _ = kafka.NewPublisher(ctx, cfg, kafka.KnownVersions(nil))                    // misplaced: a ModelFeed's
	_, _ = trainkafka.NewSource(ctx, cfg, "trainer", kafka.Topics("labelled"))       // misplaced: the scoring Source's; trainkafka.Topics
	_, _ = speculative.NewSplit(nil, speculative.WithDecider(speculative.First()))   // misplaced: a Budget's
	_, _ = speculative.NewBudget(time.Millisecond, sc, nil, speculative.WithSeed(1)) // misplaced: a Split's or a Bandit's
}
