package main

import (
	"context"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
)

// Serve scores the payments topic with the live version of "fraud", and
// hot-swaps into srv every model published to the models topic, until
// ctx is cancelled.
func Serve(ctx context.Context, brokers []string, srv *serving.Server) error {
	cfg, err := kafka.NewConfig(brokers) // also TLS, SASL, a logger: one Config for every client
	if err != nil {
		return err
	}
	feed, err := kafka.NewModelFeed(cfg, srv) // reads the whole models topic, in no group
	if err != nil {
		return err
	}
	sink, err := kafka.NewSink(ctx, cfg) // scores to "scores", failures to "scores.dlq"
	if err != nil {
		return err
	}
	defer sink.Close() // after the Source's Run has returned
	src, err := kafka.NewSource(cfg, "fraud-scorer", srv.Model("fraud"), sink, kafka.Topics("payments"))
	if err != nil {
		return err
	}

	feedCtx, stopFeed := context.WithCancel(ctx)
	defer stopFeed()
	feedDone := make(chan error, 1)
	go func() { feedDone <- feed.Run(feedCtx) }()
	select { // score once the models published so far are live
	case <-feed.CaughtUp():
	case err := <-feedDone:
		return err // the cluster cannot be reached, or ctx is done
	}
	err = src.Run(ctx) // on cancellation: drains, commits, leaves the group, returns nil
	stopFeed()         // a Source that stopped on an error stops the feed too
	if ferr := <-feedDone; err == nil {
		err = ferr
	}
	return err
}
