package feedbackkafka

import (
	"bytes"
	"context"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/internal/atomicfile"
	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/feedback"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/wire"
)

// checkpointFS is the filesystem checkpoints use; tests replace it.
var checkpointFS = atomicfile.OS

// stateful is state saved in the checkpoint along with the join (see
// [Save], which says so in its signature for the reader of its doc).
type stateful interface {
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// Option configures a Reader.
type Option func(*options) error

type options struct {
	scores  ScoreDecoder
	byInput bool
	path    string
	every   time.Duration
	states  map[string]stateful
	retry   time.Duration
}

// ScoreDecoder decodes the score records of the scores topic for a
// [Reader]. serving/kafka/confluent's ScoreDecoder is one, for scores
// written as Avro with a Schema Registry.
type ScoreDecoder interface {
	// DecodeScore decodes the score record m. An error counts m as a
	// bad score (Stats.BadScores), and the Reader goes on with the next
	// record. It is called on the Reader's goroutine, which waits for it:
	// it must return when ctx, which Run's cancellation cancels, is done.
	DecodeScore(ctx context.Context, m wire.Message) (wire.Score, error)
}

// wireScores is the default ScoreDecoder: wire.DecodeScore.
type wireScores struct{}

func (wireScores) DecodeScore(_ context.Context, m wire.Message) (wire.Score, error) {
	return wire.DecodeScore(m)
}

// ScoreDecoding sets how the Reader decodes score records, overriding
// the default of wire.DecodeScore, which reads the JSON scores of either
// wire.ScoreEncoding. Give it serving/kafka/confluent's ScoreDecoder for
// scores a Sink writes as Avro (confluent.AvroScores); wire.DecodeScore
// counts them as bad scores. A nil d is an error wrapping
// [serving.ErrConfig].
func ScoreDecoding(d ScoreDecoder) Option {
	return func(o *options) error {
		if d == nil {
			return fmt.Errorf("%w: feedbackkafka: ScoreDecoding(nil)", serving.ErrConfig)
		}
		o.scores = d
		return nil
	}
}

// JoinByInput joins on the input record's position (topic, partition,
// offset), which a feedback record then carries in its value, instead
// of on the record key. The default is to join by key.
func JoinByInput() Option { return func(o *options) error { o.byInput = true; return nil } }

// Checkpoint saves the Reader's state to path every interval and when
// Run returns, and restores it when Run starts: the offsets read up to
// in both topics, the Joiner's state, and every state given with
// [Save], in one file replaced atomically. A restarted Reader so resumes
// where the file stands, neither skipping nor counting any record twice,
// also after a crash. A file that cannot be restored (not a checkpoint,
// a negative offset, a state refused) is restored not at all: Run fails
// and leaves the Joiner and the states as they were. The default is no
// checkpoint: a Reader starts at the oldest records of both topics.
// path's directory must exist when NewReader is called: a missing one is
// an error wrapping [serving.ErrConfig] and the filesystem's error.
func Checkpoint(path string, interval time.Duration) Option {
	return func(o *options) error {
		if path == "" || interval <= 0 {
			return fmt.Errorf("%w: feedbackkafka: Checkpoint(%q, %v): need a path and a positive interval", serving.ErrConfig, path, interval)
		}
		if st, ok := checkpointFS.(interface {
			Stat(string) (os.FileInfo, error)
		}); ok {
			dir := filepath.Dir(path)
			fi, err := st.Stat(dir)
			if err == nil && !fi.IsDir() {
				err = fmt.Errorf("%s is not a directory", dir)
			}
			if err != nil {
				return fmt.Errorf("%w: feedbackkafka: Checkpoint(%q): %w", serving.ErrConfig, path, err)
			}
		}
		o.path, o.every = path, interval
		return nil
	}
}

// Save adds s, under name, to the checkpoint (see [Checkpoint]): state
// saved along with the join, such as a speculative.Bandit fed by the
// matches, so that after a restart it stands exactly where the offsets
// do. s must change only through the Reader's match function, which runs
// on the Reader's goroutine, for the checkpoint to be consistent. A
// name given twice is an error wrapping [serving.ErrConfig]: one of the
// two states would not be saved. The default is nothing more than the
// join.
func Save(name string, s interface {
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}) Option {
	return func(o *options) error {
		if name == "" || s == nil {
			return fmt.Errorf("%w: feedbackkafka: Save(%q): need a name and a state", serving.ErrConfig, name)
		}
		if _, dup := o.states[name]; dup {
			return fmt.Errorf("%w: feedbackkafka: Save(%q) given twice: one state would not be checkpointed", serving.ErrConfig, name)
		}
		o.states[name] = s
		return nil
	}
}

// Retry is how long the Reader waits before trying again to read a topic
// that is missing or failed. The default is 1s.
func Retry(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: feedbackkafka: Retry(%v): must be positive", serving.ErrConfig, d)
		}
		o.retry = d
		return nil
	}
}

// item is what a partition's follower hands to Run: a message, or only
// the news that the partition has nothing more to read (m nil).
type item struct {
	parts     []int32 // partitions about to be followed, before any of their messages
	m         *sarama.ConsumerMessage
	topic     string
	partition int32
	caughtUp  bool // nothing after this to read, for now
}

// mark is what Run knows of one partition's event time.
type mark struct {
	latest   time.Time
	caughtUp bool
}

// watermark is the event time of topic: the least of its partitions'
// latest timestamps, leaving out those caught up; the greatest of them
// when all are caught up. A partition that has sent nothing and is not
// caught up holds it at the zero time.
func watermark(marks map[string]map[int32]*mark, topic string) time.Time {
	var least, most time.Time
	open := false
	for _, mk := range marks[topic] {
		if mk.latest.After(most) {
			most = mk.latest
		}
		if mk.caughtUp {
			continue
		}
		if !open || mk.latest.Before(least) {
			least = mk.latest
		}
		open = true
	}
	if open {
		return least
	}
	return most
}

// Reader reads a scores topic and a feedback topic of labels, joins them
// with a feedback.Joiner, and calls a function with every match. It reads
// every partition of both topics (not as a consumer group member), like
// a model feed.
//
// A feedback record is keyed like the input record it judges (unless
// [JoinByInput]), and its value is the truth: a JSON number, true or
// false (1 or 0), a JSON string (a class name: Label.Class, which
// feedback.Observe compares by name), or an object
// {"value": 1, "class": "fraud", "topic": "data", "partition": 0,
// "offset": 42}, where topic, partition and offset name the input record
// when joining by input. Its timestamp is the label's time. A score
// record is a serving/wire.Score in either wire.ScoreEncoding, as
// wire.DecodeScore reads it, or what the [ScoreDecoding] given reads:
// with serving/kafka/confluent's ScoreDecoder, Avro scores too.
//
// A Reader is safe for concurrent use; Run may be called once.
type Reader struct {
	o       options
	log     *slog.Logger
	brokers []string
	sc      *sarama.Config
	scores  string
	labels  string
	join    *feedback.Joiner
	onMatch func(feedback.Match) error
	ran     atomic.Bool
	offMu   sync.Mutex // guards the offsets map Run shares with watchLag

	badScores, badLabels, matchErrs, fbErrs, scErrs, checkpoints atomic.Uint64
	lag                                                          atomic.Int64
}

// NewReader returns a Reader of the topics scores and labels with the
// connection settings cfg, joining with j and calling onMatch with every
// match on the Reader's goroutine.
func NewReader(cfg *kafka.Config, scores, labels string, j *feedback.Joiner, onMatch func(feedback.Match) error, opts ...Option) (*Reader, error) {
	o := options{scores: wireScores{}, states: map[string]stateful{}, retry: time.Second}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: feedbackkafka: nil option", serving.ErrConfig)
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	switch {
	case cfg == nil || j == nil || onMatch == nil:
		return nil, fmt.Errorf("%w: feedbackkafka: NewReader needs a Config, a Joiner and a match function", serving.ErrConfig)
	case scores == "" || labels == "" || scores == labels:
		return nil, fmt.Errorf("%w: feedbackkafka: topics %q and %q: need two different topics", serving.ErrConfig, scores, labels)
	}
	// The Reader must not create the feedback topic by asking for it.
	sc, err := cfg.SaramaConfig(func(c *sarama.Config) { c.Metadata.AllowAutoTopicCreation = false })
	if err != nil {
		return nil, err
	}
	r := &Reader{o: o, log: cfg.Logger(), brokers: cfg.Brokers(), sc: sc, scores: scores, labels: labels, join: j, onMatch: onMatch}
	r.lag.Store(-1)
	return r, nil
}

// Stats returns the counters.
func (r *Reader) Stats() feedback.ReaderStats {
	return feedback.ReaderStats{
		Stats:     r.join.Stats(),
		BadScores: r.badScores.Load(), BadLabels: r.badLabels.Load(), MatchErrors: r.matchErrs.Load(),
		FeedbackErrors: r.fbErrs.Load(), ScoreErrors: r.scErrs.Load(), FeedbackLag: r.lag.Load(),
		Checkpoints: r.checkpoints.Load(),
	}
}

// checkpoint is the checkpoint file's JSON.
type checkpoint struct {
	// Format is checkpointFormat in every file written since binary
	// states got their own field, and absent (0) in older files; see
	// legacyState.
	Format int `json:"format,omitempty"`
	// Offsets maps "topic/partition" to the next offset to read.
	Offsets map[string]int64           `json:"offsets"`
	Join    json.RawMessage            `json:"join"`
	States  map[string]json.RawMessage `json:"states,omitempty"`
	// Binary holds the states whose encoding is not JSON, as they were
	// encoded (base64 in the file), apart from States so that a state
	// whose own encoding is a JSON string is never mistaken for one.
	Binary map[string][]byte `json:"binary_states,omitempty"`
}

// checkpointFormat marks the files whose States hold JSON encodings
// only.
const checkpointFormat = 2

// legacyState returns the encoding of a state read from the States of a
// checkpoint written before Format existed. Those files kept a state
// whose encoding is not JSON in States too, wrapped as a base64 JSON
// string, so such an entry is unwrapped: a JSON string whose content is
// base64 of bytes that are not JSON, which is exactly what that save
// wrote. The one encoding read wrongly is a state's own JSON string
// holding base64 of non-JSON bytes, which such a file cannot tell from a
// wrapped one; no state of this module encodes as a JSON string.
func legacyState(raw json.RawMessage) json.RawMessage {
	var b []byte
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &b) != nil || json.Valid(b) {
		return raw
	}
	return b
}

func posKey(topic string, p int32) string { return topic + "/" + strconv.Itoa(int(p)) }

// restore loads the checkpoint, if any, into the Joiner and the states,
// and returns the offsets.
func (r *Reader) restore() (map[string]int64, error) {
	offsets := map[string]int64{}
	if r.o.path == "" {
		return offsets, nil
	}
	data, err := checkpointFS.ReadFile(r.o.path)
	if errors.Is(err, os.ErrNotExist) {
		return offsets, nil
	}
	if err != nil { // not a corrupt checkpoint: one that could not be read, this time
		return nil, fmt.Errorf("feedbackkafka: checkpoint: %w", err)
	}
	var c checkpoint
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%w: feedbackkafka: checkpoint: %s: %v", serving.ErrCorruptState, r.o.path, err)
	}
	// A negative offset would reach sarama as OffsetNewest or
	// OffsetOldest, and skip or re-read a partition.
	for pos, off := range c.Offsets {
		if off < 0 {
			return nil, fmt.Errorf("%w: feedbackkafka: checkpoint: %s: offset %d for %q", serving.ErrCorruptState, r.o.path, off, pos)
		}
	}
	// All or nothing: what was restored before a refusal is put back as
	// it was, so that a refused checkpoint leaves the Joiner and the
	// states untouched.
	type saved struct {
		u    interface{ UnmarshalBinary([]byte) error }
		prev []byte
	}
	var undo []saved
	rollback := func() {
		for _, s := range slices.Backward(undo) {
			if err := s.u.UnmarshalBinary(s.prev); err != nil {
				r.log.Error("feedbackkafka: cannot put a state back after a refused checkpoint", "err", err)
			}
		}
	}
	prev, err := r.join.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if err := r.join.UnmarshalBinary(c.Join); err != nil {
		return nil, fmt.Errorf("%w: feedbackkafka: checkpoint: %s: %w", serving.ErrCorruptState, r.o.path, err)
	}
	undo = append(undo, saved{r.join, prev})
	for name, s := range r.o.states {
		raw, ok := c.States[name]
		if ok && c.Format < checkpointFormat {
			raw = legacyState(raw)
		}
		if !ok {
			if raw, ok = c.Binary[name]; !ok {
				continue // a state added since: it starts afresh
			}
		}
		prev, err := s.MarshalBinary()
		if err != nil {
			rollback()
			return nil, fmt.Errorf("feedbackkafka: state %q: %w", name, err)
		}
		if err := s.UnmarshalBinary(raw); err != nil {
			undo = append(undo, saved{s, prev}) // it may have changed before refusing
			rollback()
			return nil, fmt.Errorf("%w: feedbackkafka: checkpoint: %s: state %q: %w", serving.ErrCorruptState, r.o.path, name, err)
		}
		undo = append(undo, saved{s, prev})
	}
	if c.Offsets != nil {
		offsets = c.Offsets
	}
	return offsets, nil
}

// save writes the checkpoint atomically and durably: a temporary file,
// synced, renamed over the old one, then the directory synced.
func (r *Reader) save(offsets map[string]int64) error {
	if r.o.path == "" {
		return nil
	}
	c := checkpoint{Format: checkpointFormat, Offsets: offsets, States: map[string]json.RawMessage{}, Binary: map[string][]byte{}}
	var err error
	if c.Join, err = r.join.MarshalBinary(); err != nil {
		return err
	}
	for name, s := range r.o.states {
		b, err := s.MarshalBinary()
		if err != nil {
			return fmt.Errorf("feedbackkafka: state %q: %w", name, err)
		}
		if json.Valid(b) {
			c.States[name] = b
		} else {
			c.Binary[name] = b
		}
	}
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(checkpointFS, r.o.path, data); err != nil {
		return err
	}
	r.checkpoints.Add(1)
	return nil
}

// Run reads and joins until ctx is done, then writes a last checkpoint
// and returns nil; it returns an error if the checkpoint cannot be
// restored or the cluster cannot be reached at all. A checkpoint file that
// exists but is not a checkpoint, or holds a state that is refused, gives
// an error wrapping [serving.ErrCorruptState] before anything is read,
// rather than start over and count twice; one that cannot be read gives
// the read's error (errors.Is(err, fs.ErrPermission), say), not
// ErrCorruptState. A missing or deleted
// topic is not an error: it is counted, and tried again every Retry, so
// that the scores keep flowing while the feedback is away.
func (r *Reader) Run(ctx context.Context) error {
	if r.ran.Swap(true) {
		return errors.New("feedbackkafka: Run called twice")
	}
	offsets, err := r.restore()
	if err != nil {
		return err
	}
	client, err := sarama.NewClient(r.brokers, r.sc)
	if err != nil {
		return fmt.Errorf("feedbackkafka: %w", err)
	}
	defer client.Close()
	cons, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return fmt.Errorf("feedbackkafka: %w", err)
	}
	defer cons.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs := make(chan item, 256)
	marks := map[string]map[int32]*mark{r.scores: {}, r.labels: {}}
	var wg sync.WaitGroup
	start := map[string]int64{}
	for k, v := range offsets {
		start[k] = v
	}
	for _, topic := range []string{r.scores, r.labels} {
		wg.Go(func() { r.follow(ctx, client, cons, topic, start, msgs) })
	}
	wg.Go(func() { r.watchLag(ctx, client, offsets) })

	tick := make(<-chan time.Time)
	if r.o.every > 0 {
		t := time.NewTicker(r.o.every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			cancel()
			// Stop the followers before the last checkpoint, so that
			// nothing is read past it.
			go func() { wg.Wait(); close(msgs) }()
			for m := range msgs {
				_ = m // read after the stop: not processed, read again next time
			}
			r.offMu.Lock()
			err := r.save(offsets)
			r.offMu.Unlock()
			if err != nil {
				r.log.Error("feedbackkafka: checkpoint failed", "path", r.o.path, "err", err)
			}
			return nil
		case <-tick:
			r.offMu.Lock()
			err := r.save(offsets)
			r.offMu.Unlock()
			if err != nil {
				r.log.Error("feedbackkafka: checkpoint failed", "path", r.o.path, "err", err)
			}
		case it := <-msgs:
			if it.parts != nil {
				for _, p := range it.parts {
					marks[it.topic][p] = &mark{}
				}
				continue
			}
			mk := marks[it.topic][it.partition]
			if mk == nil {
				mk = &mark{}
				marks[it.topic][it.partition] = mk
			}
			mk.caughtUp = it.caughtUp
			if m := it.m; m != nil {
				if m.Timestamp.After(mk.latest) {
					mk.latest = m.Timestamp
				}
				r.handle(ctx, m)
				r.offMu.Lock()
				offsets[posKey(m.Topic, m.Partition)] = m.Offset + 1
				r.offMu.Unlock()
			}
			r.join.Advance(watermark(marks, r.scores), watermark(marks, r.labels))
		}
	}
}

func (r *Reader) handle(ctx context.Context, m *sarama.ConsumerMessage) {
	if m.Topic == r.scores {
		s, err := r.o.scores.DecodeScore(ctx, wire.Message{Key: m.Key, Value: m.Value, Headers: kafka.Headers(m)})
		if err != nil {
			// The first says why at Warn, such as a scores topic of Avro
			// read without a ScoreDecoding that reads it; the rest are
			// counted, and logged at Debug.
			lvl := slog.LevelDebug
			if r.badScores.Add(1) == 1 {
				lvl = slog.LevelWarn
			}
			r.log.Log(ctx, lvl, "feedbackkafka: bad score", "partition", m.Partition, "offset", m.Offset, "err", err)
			return
		}
		key := string(s.InputKey()) // the input key's bytes, as a label's key below
		if r.o.byInput {
			key = feedback.InputKey(s.Topic, s.Partition, s.Offset)
		}
		if match, ok := r.join.AddScore(key, s, m.Timestamp); ok {
			r.deliver(match)
		}
		return
	}
	l, err := decodeLabel(m, r.o.byInput)
	if err != nil {
		r.badLabels.Add(1)
		return
	}
	if match, ok := r.join.AddLabel(l); ok {
		r.deliver(match)
	}
}

func (r *Reader) deliver(m feedback.Match) {
	if err := r.onMatch(m); err != nil {
		r.matchErrs.Add(1)
	}
}

// labelValue is the object form of a feedback record's value.
type labelValue struct {
	Value     *float64 `json:"value"`
	Class     string   `json:"class"`
	Topic     string   `json:"topic"`
	Partition *int32   `json:"partition"`
	Offset    *int64   `json:"offset"`
}

func decodeLabel(m *sarama.ConsumerMessage, byInput bool) (feedback.Label, error) {
	l := feedback.Label{Key: string(m.Key), Time: m.Timestamp}
	v := bytes.TrimSpace(m.Value)
	var obj labelValue
	switch {
	case len(v) > 0 && v[0] == '{':
		if err := json.Unmarshal(v, &obj); err != nil {
			return l, err
		}
		if obj.Value == nil && obj.Class == "" {
			return l, errors.New("feedbackkafka: label without value or class")
		}
		if obj.Value != nil {
			l.Value = *obj.Value
		}
		l.Class = obj.Class
	case bytes.Equal(v, []byte("true")):
		l.Value = 1
	case bytes.Equal(v, []byte("false")):
		l.Value = 0
	case len(v) > 0 && v[0] == '"':
		if err := json.Unmarshal(v, &l.Class); err != nil {
			return l, err
		}
	default:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return l, err
		}
		l.Value = f
	}
	if l.Value != l.Value || l.Value > 1e308 || l.Value < -1e308 {
		return l, errors.New("feedbackkafka: non-finite label")
	}
	if byInput {
		if obj.Topic == "" || obj.Partition == nil || obj.Offset == nil {
			return l, errors.New("feedbackkafka: label without input position")
		}
		l.Key = feedback.InputKey(obj.Topic, *obj.Partition, *obj.Offset)
	} else if l.Key == "" {
		return l, errors.New("feedbackkafka: label without key")
	}
	return l, nil
}

// follow reads every partition of topic, as it appears, into msgs,
// starting at start's offsets or the oldest; a missing topic or a failed
// partition is counted and tried again every Retry.
func (r *Reader) follow(ctx context.Context, client sarama.Client, cons sarama.Consumer, topic string, start map[string]int64, msgs chan<- item) {
	errs := &r.scErrs
	if topic == r.labels {
		errs = &r.fbErrs
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	started := map[int32]bool{}
	for {
		// Asking sarama for the partitions of a missing topic retries
		// for a long while; the cluster's topic list answers at once.
		var parts []int32
		topics, err := client.Topics()
		if err == nil && slices.Contains(topics, topic) {
			parts, err = client.Partitions(topic)
		}
		if err != nil || len(parts) == 0 {
			errs.Add(1)
			_ = client.RefreshMetadata() // all topics: no retries for the missing one
		}
		var fresh []int32
		for _, p := range parts {
			if !started[p] {
				fresh = append(fresh, p)
			}
		}
		if len(fresh) > 0 { // registered before any of their messages: they hold the event time back
			select {
			case msgs <- item{topic: topic, parts: fresh}:
			case <-ctx.Done():
				return
			}
		}
		for _, p := range fresh {
			started[p] = true
			next, ok := start[posKey(topic, p)]
			if !ok {
				next = sarama.OffsetOldest
			}
			wg.Go(func() { r.partition(ctx, client, cons, topic, p, next, errs, msgs) })
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(r.o.retry):
		}
	}
}

// empty reports whether partition p of topic has nothing to read from
// next on.
func (r *Reader) empty(client sarama.Client, topic string, p int32, next int64) bool {
	hwm, err := client.GetOffset(topic, p, sarama.OffsetNewest)
	if err != nil {
		return false
	}
	if next == sarama.OffsetOldest {
		if next, err = client.GetOffset(topic, p, sarama.OffsetOldest); err != nil {
			return false
		}
	}
	return next >= hwm
}

func (r *Reader) partition(ctx context.Context, client sarama.Client, cons sarama.Consumer, topic string, p int32, next int64, errs *atomic.Uint64, msgs chan<- item) {
	for {
		if r.empty(client, topic, p, next) {
			select {
			case msgs <- item{topic: topic, partition: p, caughtUp: true}:
			case <-ctx.Done():
				return
			}
		}
		pc, err := cons.ConsumePartition(topic, p, next)
		if errors.Is(err, sarama.ErrOffsetOutOfRange) { // retention passed us: what is left
			r.log.Warn("feedbackkafka: offset no longer held, reading from the oldest", "topic", topic, "partition", p, "offset", next)
			next = sarama.OffsetOldest
			pc, err = cons.ConsumePartition(topic, p, next)
		}
		if err == nil {
			next = r.drain(ctx, pc, next, errs, msgs)
			pc.Close()
		}
		if ctx.Err() != nil {
			return
		}
		errs.Add(1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(r.o.retry):
		}
	}
}

// drain forwards pc's messages until it ends or ctx is done, and returns
// the next offset to read.
func (r *Reader) drain(ctx context.Context, pc sarama.PartitionConsumer, next int64, errs *atomic.Uint64, msgs chan<- item) int64 {
	for {
		select {
		case <-ctx.Done():
			return next
		case e, ok := <-pc.Errors():
			if !ok {
				return next
			}
			errs.Add(1)
			r.log.Warn("feedbackkafka: read failed", "topic", e.Topic, "partition", e.Partition, "err", e.Err)
		case m, ok := <-pc.Messages():
			if !ok {
				return next
			}
			select {
			case msgs <- item{m: m, topic: m.Topic, partition: m.Partition, caughtUp: m.Offset+1 >= pc.HighWaterMarkOffset()}:
				next = m.Offset + 1
			case <-ctx.Done():
				return next
			}
		}
	}
}

// watchLag computes the feedback topic's lag every Retry.
func (r *Reader) watchLag(ctx context.Context, client sarama.Client, offsets map[string]int64) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(r.o.retry):
		}
		topics, err := client.Topics()
		if err != nil || !slices.Contains(topics, r.labels) {
			continue
		}
		parts, err := client.Partitions(r.labels)
		if err != nil {
			continue
		}
		var lag int64
		ok := true
		for _, p := range parts {
			hwm, err := client.GetOffset(r.labels, p, sarama.OffsetNewest)
			if err != nil {
				ok = false
				break
			}
			r.offMu.Lock()
			pos, seen := offsets[posKey(r.labels, p)]
			r.offMu.Unlock()
			if !seen {
				if pos, err = client.GetOffset(r.labels, p, sarama.OffsetOldest); err != nil {
					ok = false
					break
				}
			}
			lag += max(hwm-pos, 0)
		}
		if ok {
			r.lag.Store(lag)
		}
	}
}
