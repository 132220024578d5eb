package trainkafka

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/internal/dial"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/training"
)

// Decoder turns a record into a labelled sample. A record that cannot be
// decoded is an error wrapping kafka.ErrDecode.
type Decoder interface {
	Decode(key, value []byte) (training.Sample, error)
}

// DecoderFunc adapts a function to the Decoder interface.
type DecoderFunc func(key, value []byte) (training.Sample, error)

// Decode calls f(key, value).
func (f DecoderFunc) Decode(key, value []byte) (training.Sample, error) { return f(key, value) }

// CSV decodes a value of delimited numbers, such as "7.4;0.7;0;5", with
// the target in column Label and the features in the other columns, in
// order.
type CSV struct {
	// Comma is the delimiter; 0 means ','.
	Comma byte
	// Label is the index of the target column; negative counts from the
	// end: 0 is the first column and -1 the last.
	Label int
}

// Decode implements Decoder.
func (c CSV) Decode(_, value []byte) (training.Sample, error) {
	comma := c.Comma
	if comma == 0 {
		comma = ','
	}
	fields := bytes.Split(bytes.TrimSpace(value), []byte{comma})
	li := c.Label
	if li < 0 {
		li += len(fields)
	}
	if li < 0 || li >= len(fields) || len(fields) < 2 {
		return training.Sample{}, fmt.Errorf("%w: %d fields, label column %d", kafka.ErrDecode, len(fields), c.Label)
	}
	s := training.Sample{Features: make([]float64, 0, len(fields)-1)}
	for i, f := range fields {
		v, err := strconv.ParseFloat(string(bytes.TrimSpace(f)), 64)
		if err != nil {
			return training.Sample{}, fmt.Errorf("%w: field %d: %v", kafka.ErrDecode, i, err)
		}
		if i == li {
			s.Target = v
		} else {
			s.Features = append(s.Features, v)
		}
	}
	return s, nil
}

// JSON decodes an object with one number per feature name and one for
// the target, such as {"alcohol": 9.4, ..., "quality": 5}. Other fields
// are ignored, whatever their type; a missing feature or target, or one
// that is not a number (null included), is an error wrapping kafka.ErrDecode.
type JSON struct {
	// Features names the features, in model order.
	Features []string
	// Label names the target field.
	Label string
}

// Decode implements Decoder.
func (j JSON) Decode(_, value []byte) (training.Sample, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(value, &m); err != nil {
		return training.Sample{}, fmt.Errorf("%w: %v", kafka.ErrDecode, err)
	}
	y, err := number(m, j.Label, "target")
	if err != nil {
		return training.Sample{}, err
	}
	s := training.Sample{Features: make([]float64, len(j.Features)), Target: y}
	for i, name := range j.Features {
		if s.Features[i], err = number(m, name, "feature"); err != nil {
			return training.Sample{}, err
		}
	}
	return s, nil
}

// number reads field name of m as a JSON number.
func number(m map[string]json.RawMessage, name, what string) (float64, error) {
	raw, ok := m[name]
	if !ok {
		return 0, fmt.Errorf("%w: no %s field %q", kafka.ErrDecode, what, name)
	}
	var v float64
	if string(raw) == "null" {
		return 0, fmt.Errorf("%w: %s field %q is null", kafka.ErrDecode, what, name)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, fmt.Errorf("%w: %s field %q: %v", kafka.ErrDecode, what, name, err)
	}
	return v, nil
}

// Option configures a Source. An option of another constructor does not
// compile here.
type Option interface{ applySource(*options) }

type option func(*options)

func (f option) applySource(o *options) { f(o) }

type options struct {
	topics  []string
	decoder Decoder
}

// Topics sets the data topics. A Source has no default topic: NewSource
// refuses one without Topics, and checks that each topic exists.
func Topics(ts ...string) Option { return option(func(o *options) { o.topics = slices.Clone(ts) }) }

// SampleDecoder sets the decoder, overriding the default of
// CSV{Label: -1} (comma-separated, target last).
func SampleDecoder(d Decoder) Option { return option(func(o *options) { o.decoder = d }) }

// Stats counts what a Source has done.
type Stats struct {
	// Delivered is the number of samples handed to the trainer.
	Delivered int64
	// Skipped is the number of records that did not decode.
	Skipped int64
	// Commits is the number of Commit calls that committed offsets the
	// group then stored.
	Commits int64
	// Replayed is the number of records delivered again (after a
	// rebalance, or a restart from a checkpoint saved after the last
	// commit) that the trainer had already learned, and that were
	// skipped, not learned twice.
	Replayed int64
}

// item is a record for Next, or, with a nil msg, the start of a claim
// on partition tp, whose log then ended at end.
type item struct {
	sess sarama.ConsumerGroupSession
	msg  *sarama.ConsumerMessage
	tp   topicPartition
	end  int64
}

type topicPartition struct {
	topic     string
	partition int32
}

// Source reads labelled records from Kafka as a member of its own
// consumer group and implements training.Source and training.Committer.
// It starts consuming when created; Close stops it.
//
// Next and Commit are meant for one goroutine, the Trainer's; Stats and
// Close are safe to call from any goroutine.
type Source struct {
	o      options
	log    *slog.Logger
	group  sarama.ConsumerGroup
	items  chan item
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	pending map[topicPartition]item // last record handed out per partition, since the last commit stored
	// groupID, brokers and sc make the admin that reads commits back.
	groupID string
	brokers []string
	sc      *sarama.Config
	admin   sarama.ClusterAdmin // nil until Commit first reads back, and after a failed read
	// refused holds, per partition, the last error the group reported
	// on its error channel: how sarama tells of a commit the broker
	// refused. Guarded by mu.
	mu      sync.Mutex
	refused map[topicPartition]error
	closed  bool // Close was called; guarded by mu
	// read is the offset of the last record handed out (or skipped) per
	// partition, kept across rebalances and, through Position and
	// Resume, in the trainer's checkpoint: a record at or below it is
	// in the trainer's state already.
	read map[topicPartition]int64

	delivered, skipped, commits, replayed atomic.Int64
}

var (
	_ training.Source    = (*Source)(nil)
	_ training.Committer = (*Source)(nil)
	_ training.Resumer   = (*Source)(nil)
)

// NewSource joins the consumer group group on the cluster of cfg and
// starts reading. The group should belong to the trainer alone: scoring
// instances use their own groups. A configuration error (a nil Config,
// an empty group, no Topics or an empty topic name, a nil decoder, or a
// sarama configuration that turns automatic commits on) wraps
// serving.ErrConfig. A topic that does not exist is a *kafka.TopicError:
// NewSource checks each, and creates none, so a misspelt name fails here
// instead of leaving a trainer waiting on a topic that never gets a
// record. ctx bounds
// the connecting: when it is done first, NewSource returns ctx.Err();
// cancelling it later does not stop the Source, which Close ends.
func NewSource(ctx context.Context, cfg *kafka.Config, group string, opts ...Option) (*Source, error) {
	o := options{decoder: CSV{Label: -1}}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: trainkafka: nil option", serving.ErrConfig)
		}
		opt.applySource(&o)
	}
	switch {
	case cfg == nil:
		return nil, fmt.Errorf("%w: trainkafka: nil Config", serving.ErrConfig)
	case group == "":
		return nil, fmt.Errorf("%w: trainkafka: empty consumer group", serving.ErrConfig)
	case len(o.topics) == 0:
		return nil, fmt.Errorf("%w: trainkafka: NewSource: no Topics: name the topics the Source reads", serving.ErrConfig)
	case slices.Contains(o.topics, ""):
		return nil, fmt.Errorf("%w: trainkafka: empty topic name", serving.ErrConfig)
	case o.decoder == nil:
		return nil, fmt.Errorf("%w: trainkafka: SampleDecoder(nil)", serving.ErrConfig)
	}
	sc, err := cfg.SaramaConfig(nil)
	if err != nil {
		return nil, err
	}
	if sc.Consumer.Offsets.AutoCommit.Enable {
		return nil, fmt.Errorf("%w: trainkafka: automatic commits would commit records the trainer has not made durable", serving.ErrConfig)
	}
	if err := cfg.CheckTopics(ctx, o.topics...); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("trainkafka: %w", err)
	}
	log := cfg.Logger()
	g, err := dial.Open(ctx, func() (sarama.ConsumerGroup, error) { return sarama.NewConsumerGroup(cfg.Brokers(), group, sc) })
	if err != nil {
		return nil, fmt.Errorf("trainkafka: join group %q: %w", group, err)
	}
	life, cancel := context.WithCancel(context.Background())
	s := &Source{o: o, log: log, group: g, items: make(chan item), cancel: cancel, done: make(chan struct{}), pending: map[topicPartition]item{}, read: map[topicPartition]int64{},
		groupID: group, brokers: cfg.Brokers(), sc: sc, refused: map[topicPartition]error{}}
	go func() {
		for err := range g.Errors() {
			log.Warn("trainkafka: consumer group error", "group", group, "err", err)
			if ce, ok := err.(*sarama.ConsumerError); ok {
				s.mu.Lock()
				s.refused[topicPartition{ce.Topic, ce.Partition}] = ce.Err
				s.mu.Unlock()
			}
		}
	}()
	go s.consume(life)
	return s, nil
}

func (s *Source) consume(ctx context.Context) {
	defer close(s.done)
	for ctx.Err() == nil {
		if err := s.group.Consume(ctx, s.o.topics, handler{s}); err != nil {
			if errors.Is(err, sarama.ErrClosedConsumerGroup) {
				return
			}
			s.log.Warn("trainkafka: consume", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
}

type handler struct{ s *Source }

func (handler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// ConsumeClaim hands the partition's records, in order, to Next, after
// the partition's log end when the claim started.
func (h handler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	start := item{sess: sess, tp: topicPartition{claim.Topic(), claim.Partition()}, end: claim.HighWaterMarkOffset()}
	select {
	case h.s.items <- start:
	case <-sess.Context().Done():
		return nil
	}
	for {
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			select {
			case h.s.items <- item{sess: sess, msg: msg}:
			case <-sess.Context().Done():
				return nil
			}
		case <-sess.Context().Done():
			return nil
		}
	}
}

// Next returns the next record that decodes. Records from a partition
// this member no longer owns are dropped, since their new owner will
// deliver them again. A record at or below the last offset Next handed
// out from its partition (delivered again after a rebalance, since
// offsets are committed only when the trainer's state is durable), or
// below the position restored from a checkpoint (see Resume), is in the
// trainer's state already: it is skipped, and counted as Replayed. When
// ctx is done Next returns ctx.Err() and loses nothing.
func (s *Source) Next(ctx context.Context) (training.Sample, error) {
	for {
		var it item
		select {
		case it = <-s.items:
		case <-ctx.Done():
			return training.Sample{}, ctx.Err()
		case <-s.done:
			return training.Sample{}, serving.ErrClosed
		}
		if it.sess.Context().Err() != nil {
			continue
		}
		if it.msg == nil {
			s.claimed(it.tp, it.end)
			continue
		}
		tp := topicPartition{it.msg.Topic, it.msg.Partition}
		s.pending[tp] = it
		if last, ok := s.read[tp]; ok && it.msg.Offset <= last {
			s.replayed.Add(1)
			continue
		}
		s.read[tp] = it.msg.Offset
		sample, err := s.o.decoder.Decode(it.msg.Key, it.msg.Value)
		if err == nil {
			for _, x := range sample.Features {
				if math.IsNaN(x) || math.IsInf(x, 0) {
					err = fmt.Errorf("%w: non-finite feature", kafka.ErrDecode)
					break
				}
			}
		}
		if err != nil {
			s.skipped.Add(1)
			s.log.Debug("trainkafka: skipped record", "topic", it.msg.Topic, "partition", it.msg.Partition, "offset", it.msg.Offset, "err", err)
			continue
		}
		s.delivered.Add(1)
		return sample, nil
	}
}

// claimed forgets the offset read from tp when the partition's log now
// ends at or before it: the topic was deleted and created again (or
// truncated), and its records below that offset are new ones, not
// replays. (The group's commit, past the end too, is reset to the
// oldest offset by sarama, as Config sets Offsets.Initial.)
func (s *Source) claimed(tp topicPartition, end int64) {
	if last, ok := s.read[tp]; ok && last >= end {
		s.log.Warn("trainkafka: the partition's log ends before the last offset read: the topic was recreated or truncated; reading it from its oldest offset",
			"topic", tp.topic, "partition", tp.partition, "last_read", last, "log_end", end)
		delete(s.read, tp)
	}
}

// Commit commits, for each partition, the offset after the last record
// Next handed out (or skipped), and returns once the group has stored
// it. Records of a partition that was revoked in the meantime are not
// committed; the new owner replays them.
//
// sarama's commit reports nothing to its caller: the broker's refusal
// goes to the group's error channel, and some failures (the coordinator
// moving, offsets still loading) to no one. So Commit reads the group's
// offsets back, and commits again, with a backoff, the partitions it
// did not store. When some are still not stored after 10 seconds, or
// when ctx ends first, Commit returns an error that names them and
// wraps the last error the group reported for one of them during the
// Commit (the broker's refusal, a sarama.KError such as
// sarama.ErrOffsetMetadataTooLarge), or else the failure to read the
// offsets back, or ctx's error; the next Commit tries those partitions
// again. A Trainer's Run returns that error.
func (s *Source) Commit(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	marked := map[topicPartition]item{}
	for tp, it := range s.pending {
		if it.sess.Context().Err() == nil {
			it.sess.MarkMessage(it.msg, "")
			marked[tp] = it
		}
		delete(s.pending, tp)
	}
	if len(marked) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	s.mu.Lock()
	for tp := range marked {
		delete(s.refused, tp) // the reason of an earlier Commit's failure
	}
	s.mu.Unlock()
	for backoff := firstCommitBackoff; ; backoff = min(2*backoff, maxCommitBackoff) {
		sessions := map[sarama.ConsumerGroupSession]bool{}
		for _, it := range marked {
			sessions[it.sess] = true
		}
		for sess := range sessions {
			sess.Commit() // sarama commits again what it did not store
		}
		stored, readErr := s.committed(ctx, marked)
		for tp, it := range marked {
			// Stored, or revoked: the new owner replays what this member
			// did not commit.
			if stored[tp] > it.msg.Offset || it.sess.Context().Err() != nil {
				delete(marked, tp)
			}
		}
		if len(marked) == 0 {
			s.commits.Add(1)
			return nil
		}
		select {
		case <-time.After(backoff):
			continue
		case <-ctx.Done():
		}
		return s.notStored(ctx, marked, stored, readErr)
	}
}

// notStored keeps the partitions of marked for the next Commit and
// returns the error that says why they are not committed.
func (s *Source) notStored(ctx context.Context, marked map[topicPartition]item, stored map[topicPartition]int64, readErr error) error {
	tps := slices.SortedFunc(maps.Keys(marked), func(a, b topicPartition) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return int(a.partition) - int(b.partition)
	})
	var parts []string
	var cause error
	s.mu.Lock()
	for _, tp := range tps {
		s.pending[tp] = marked[tp]
		parts = append(parts, fmt.Sprintf("%s/%d at %d (the group holds %d)", tp.topic, tp.partition, marked[tp].msg.Offset+1, stored[tp]))
		if cause == nil {
			cause = s.refused[tp]
		}
	}
	s.mu.Unlock()
	switch {
	case cause != nil:
	case readErr != nil:
		cause = fmt.Errorf("reading the offsets back: %w", readErr)
	default:
		cause = context.Cause(ctx)
	}
	return fmt.Errorf("trainkafka: commit of group %q not stored: %s: %w", s.groupID, strings.Join(parts, ", "), cause)
}

// commitTimeout bounds how long Commit commits again the partitions the
// group did not store; firstCommitBackoff and maxCommitBackoff are the
// waits between its attempts.
var (
	commitTimeout      = 10 * time.Second
	firstCommitBackoff = 50 * time.Millisecond
	maxCommitBackoff   = time.Second
)

// committed returns, for each partition of marked, the offset the group
// has stored, or -1 when it holds none, or an error when it cannot be
// read before ctx ends. sarama's admin takes no context, so the read runs
// in a goroutine of its own, left to end by itself when ctx ends first.
func (s *Source) committed(ctx context.Context, marked map[topicPartition]item) (map[topicPartition]int64, error) {
	out := make(map[topicPartition]int64, len(marked))
	parts := map[string][]int32{}
	for tp := range marked {
		out[tp] = -1
		parts[tp.topic] = append(parts[tp.topic], tp.partition)
	}
	type answer struct {
		resp *sarama.OffsetFetchResponse
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		// The admin is taken for this read and given back after it, so
		// that a read left running by a Commit whose ctx ended never
		// shares it with the next one's.
		s.mu.Lock()
		admin := s.admin
		s.admin = nil
		s.mu.Unlock()
		var a answer
		if admin == nil {
			admin, a.err = sarama.NewClusterAdmin(s.brokers, s.sc)
		}
		if a.err == nil {
			a.resp, a.err = admin.ListConsumerGroupOffsets(s.groupID, parts)
			if a.err != nil && !errors.Is(a.err, sarama.ErrGroupIDNotFound) {
				admin.Close()
				admin = nil
			}
		}
		s.mu.Lock()
		if admin != nil && (s.closed || s.admin != nil) {
			admin.Close()
		} else if admin != nil {
			s.admin = admin
		}
		s.mu.Unlock()
		got <- a
	}()
	var a answer
	select {
	case a = <-got:
	case <-ctx.Done():
		return out, ctx.Err()
	}
	if errors.Is(a.err, sarama.ErrGroupIDNotFound) {
		return out, nil // no commit yet
	}
	if a.err != nil {
		return out, a.err
	}
	for tp := range marked {
		if b := a.resp.GetBlock(tp.topic, tp.partition); b != nil && b.Err == sarama.ErrNoError {
			out[tp] = b.Offset
		}
	}
	return out, nil
}

// Stats returns the Source's counters.
func (s *Source) Stats() Stats {
	return Stats{Delivered: s.delivered.Load(), Skipped: s.skipped.Load(), Commits: s.commits.Load(), Replayed: s.replayed.Load()}
}

// position is one partition's entry in a Position.
type position struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Offset is the last record's offset handed out or skipped.
	Offset int64 `json:"offset"`
}

// Position implements training.Resumer: the offset of the last record
// Next handed out or skipped, per partition, as a JSON array of
// {"topic", "partition", "offset"} objects. Like Next, it is for the
// Trainer's goroutine.
func (s *Source) Position() (json.RawMessage, error) {
	ps := make([]position, 0, len(s.read))
	for tp, off := range s.read {
		ps = append(ps, position{tp.topic, tp.partition, off})
	}
	slices.SortFunc(ps, func(a, b position) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition) - int(b.Partition)
	})
	return json.Marshal(ps)
}

// Resume implements training.Resumer: Next skips the records at or
// below pos's offsets, which the checkpoint that saved pos learned. A
// pos that is not a Position's JSON is an error, and changes nothing.
// It is called before the first Next.
func (s *Source) Resume(pos json.RawMessage) error {
	var ps []position
	if err := json.Unmarshal(pos, &ps); err != nil {
		return fmt.Errorf("trainkafka: position: %w", err)
	}
	for _, p := range ps {
		if p.Topic == "" || p.Partition < 0 || p.Offset < 0 {
			return fmt.Errorf("trainkafka: position: bad entry %+v", p)
		}
	}
	for _, p := range ps {
		tp := topicPartition{p.Topic, p.Partition}
		if last, ok := s.read[tp]; !ok || p.Offset > last {
			s.read[tp] = p.Offset
		}
	}
	return nil
}

// Close leaves the group without committing: commits belong to the
// trainer. It is idempotent.
func (s *Source) Close() error {
	var err error
	s.once.Do(func() {
		s.cancel()
		err = s.group.Close()
		<-s.done
		s.mu.Lock()
		s.closed = true
		if s.admin != nil {
			s.admin.Close()
			s.admin = nil
		}
		s.mu.Unlock()
	})
	return err
}
