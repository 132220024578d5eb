// Package kafkalog reads a stretch of one partition with plain fetch
// requests, delivering its records as a consumer would: without
// transaction markers and, when reading committed records only, without
// the records of aborted transactions. Unlike a partition consumer it
// knows where the stretch ends even when the last offsets hold no
// record a consumer delivers (a topic written by a transactional
// producer ends with a commit marker).
package kafkalog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/IBM/sarama"
)

// maxRetries bounds the fetches retried after a retriable error (a
// leader that moved), each after a metadata refresh.
const maxRetries = 5

// Read calls fn, in offset order, with each record of topic's partition
// p from offset from up to, not including, offset to, as the
// configuration cfg (its Consumer.IsolationLevel and Fetch.Max) would
// have a consumer deliver it. Reading committed records only, it stops
// at the partition's last stable offset when that comes before to: the
// records from there on are in a transaction still open, which a
// consumer is not delivered until it ends (a read-committed consumer's
// end offset is the last stable offset, not the high-water mark). It
// returns ctx's error if ctx ends first, or the broker's error.
func Read(ctx context.Context, client sarama.Client, cfg *sarama.Config, topic string, p int32, from, to int64, fn func(*sarama.ConsumerMessage)) error {
	readCommitted := cfg.Consumer.IsolationLevel == sarama.ReadCommitted
	maxBytes := cfg.Consumer.Fetch.Max
	if maxBytes <= 0 {
		maxBytes = 1 << 20
	}
	aborted := map[int64]bool{} // producers whose open transaction was aborted
	retries := 0
	for from < to {
		if err := ctx.Err(); err != nil {
			return err
		}
		block, err := fetch(client, cfg, topic, p, from, maxBytes)
		if err != nil {
			if retries++; retries > maxRetries || !retriable(err) {
				return err
			}
			_ = client.RefreshMetadata(topic)
			continue
		}
		retries = 0
		if readCommitted && block.LastStableOffset >= 0 && block.LastStableOffset < to {
			to = block.LastStableOffset
		}
		txns := slices.Clone(block.AbortedTransactions)
		slices.SortFunc(txns, func(a, b *sarama.AbortedTransaction) int { return cmp.Compare(a.FirstOffset, b.FirstOffset) })
		advanced := false
		for _, rs := range block.RecordsSet {
			b := rs.RecordBatch
			if b == nil {
				// A legacy message set (magic 0 or 1): no transactions.
				if rs.MsgSet == nil {
					continue
				}
				for _, m := range rs.MsgSet.Messages {
					if m.Offset >= from && m.Offset < to && m.Msg != nil {
						fn(&sarama.ConsumerMessage{Topic: topic, Partition: p, Offset: m.Offset, Key: m.Msg.Key, Value: m.Msg.Value, Timestamp: m.Msg.Timestamp})
					}
					if m.Offset+1 > from {
						from, advanced = m.Offset+1, true
					}
				}
				continue
			}
			last := b.FirstOffset + int64(b.LastOffsetDelta)
			for len(txns) > 0 && txns[0].FirstOffset <= last {
				aborted[txns[0].ProducerID] = true
				txns = txns[1:]
			}
			if last < from {
				continue
			}
			switch {
			case b.Control:
				// A control record's key: int16 version, int16 type (0
				// abort, 1 commit). Either ends the producer's transaction.
				delete(aborted, b.ProducerID)
			case readCommitted && b.IsTransactional && aborted[b.ProducerID]:
			default:
				for _, r := range b.Records {
					off := b.FirstOffset + r.OffsetDelta
					if off < from || off >= to {
						continue
					}
					fn(&sarama.ConsumerMessage{
						Topic: topic, Partition: p, Offset: off, Key: r.Key, Value: r.Value, Headers: r.Headers,
						Timestamp: b.FirstTimestamp.Add(r.TimestampDelta),
					})
				}
			}
			if last+1 > from {
				from, advanced = last+1, true
			}
		}
		if !advanced && from < to {
			return fmt.Errorf("kafkalog: no progress fetching %s/%d at offset %d, before %d", topic, p, from, to)
		}
	}
	return nil
}

// fetch asks the partition's leader for the records from offset from.
func fetch(client sarama.Client, cfg *sarama.Config, topic string, p int32, from int64, maxBytes int32) (*sarama.FetchResponseBlock, error) {
	leader, err := client.Leader(topic, p)
	if err != nil {
		return nil, err
	}
	req := &sarama.FetchRequest{Version: 4, MaxBytes: maxBytes, Isolation: cfg.Consumer.IsolationLevel}
	req.AddBlock(topic, p, from, maxBytes, -1)
	resp, err := leader.Fetch(req)
	if err != nil {
		return nil, err
	}
	block := resp.GetBlock(topic, p)
	if block == nil {
		return nil, errors.New("kafkalog: no block in the fetch response")
	}
	if block.Err != sarama.ErrNoError {
		return nil, block.Err
	}
	return block, nil
}

func retriable(err error) bool {
	var kerr sarama.KError
	if errors.As(err, &kerr) {
		switch kerr {
		case sarama.ErrNotLeaderForPartition, sarama.ErrLeaderNotAvailable, sarama.ErrUnknownTopicOrPartition,
			sarama.ErrRequestTimedOut, sarama.ErrNotEnoughReplicas, sarama.ErrFencedLeaderEpoch, sarama.ErrUnknownLeaderEpoch:
			return true
		}
		return false
	}
	return true // a network error: the broker may be back, or another leader
}
