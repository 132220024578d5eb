package kafka

import (
	"maps"
	"slices"
	"time"

	"github.com/modelstream/modelstream/serving"
)

// Options come in one style: a constructor takes options of its own
// interface type ([FeedOption], [PublisherOption], [SinkOption],
// [SourceOption]), so an option given to the wrong constructor does not
// compile. An option that makes sense for several clients, such as
// [Topic], implements each of their interfaces.

// FeedOption configures a [ModelFeed].
type FeedOption interface{ applyFeed(*feedOptions) }

// PublisherOption configures a [Publisher].
type PublisherOption interface{ applyPublisher(*publisherOptions) }

// SinkOption configures a [Sink].
type SinkOption interface{ applySink(*sinkOptions) }

// SourceOption configures a [Source].
type SourceOption interface{ applySource(*sourceOptions) }

// ModelOption configures the clients of the models topic: it is both a
// [FeedOption] and a [PublisherOption].
type ModelOption interface {
	FeedOption
	PublisherOption
}

// TopicOption is a [ModelOption] and a [SinkOption].
type TopicOption interface {
	ModelOption
	SinkOption
}

type feedOpt func(*feedOptions)

func (f feedOpt) applyFeed(o *feedOptions) { f(o) }

type sinkOpt func(*sinkOptions)

func (f sinkOpt) applySink(o *sinkOptions) { f(o) }

type sourceOpt func(*sourceOptions)

func (f sourceOpt) applySource(o *sourceOptions) { f(o) }

type topicOpt string

func (t topicOpt) applyFeed(o *feedOptions) {
	o.topic = string(t)
	if !slices.Contains(o.topics, o.topic) {
		o.topics = append(o.topics, o.topic)
	}
}
func (t topicOpt) applyPublisher(o *publisherOptions) { o.topic = string(t) }
func (t topicOpt) applySink(o *sinkOptions)           { o.topic = string(t) }

// Topic sets the topic a client reads or writes: the models topic of a
// ModelFeed and a Publisher, overriding the default of
// [DefaultModelsTopic], or the scores topic of a Sink, overriding the
// default of [DefaultScoresTopic]. NewModelFeed refuses two Topic
// options that name different topics, with serving.ErrConfig.
func Topic(t string) TopicOption { return topicOpt(t) }

type maxBytesOpt int

func (n maxBytesOpt) applyFeed(o *feedOptions)           { o.maxBytes = int(n) }
func (n maxBytesOpt) applyPublisher(o *publisherOptions) { o.maxBytes = int(n) }

// MaxBytes limits the size of a model message's value, overriding the
// default of wire.DefaultMaxModelBytes (16 MiB). A ModelFeed rejects
// larger messages as malformed; a Publisher refuses to write them: larger
// models travel by Location.
func MaxBytes(n int) ModelOption { return maxBytesOpt(n) }

// StartOffsets makes the feed start each listed partition at the given
// offset instead of the oldest one. A durable registry that remembers the
// offset after the last message it applied (FeedEvent.Offset + 1) passes
// it here on restart. Partitions not listed start at the oldest offset,
// and so do partitions whose offset the topic no longer holds: below the
// low-water mark, once retention deleted the records, or above the
// high-water mark, once the topic was recreated. The feed logs a warning
// then, and replays what the partition holds. The default is the oldest
// offset of every partition.
//
// StartOffsets may be given more than once, as by a program that passes
// its own beside a registry/kafkafeed Sync's FeedOptions, only if every
// map says the same: NewModelFeed refuses, with serving.ErrConfig, two
// that start a partition at different offsets, a partition left out of
// one counting as offset 0 (the oldest).
func StartOffsets(m map[int32]int64) FeedOption {
	return feedOpt(func(o *feedOptions) {
		if !o.startGiven {
			o.start, o.startGiven = maps.Clone(m), true
		} else if o.startClash == "" {
			o.startClash = startClash(o.start, m)
		}
	})
}

// KnownVersions tells the feed the highest version of each model name
// that the messages before its start offsets (see StartOffsets) carried,
// as the registry that resumes it knows them: a version-less message of
// such a name is numbered above that version, as by a feed that read
// those messages (see package serving/wire, Versions). Names past the
// feed's bound on remembered names (65,536) are left out. The default is
// none. KnownVersions may be given more than once, as by a program that
// passes its own beside a registry/kafkafeed Sync's FeedOptions: the feed
// then knows the highest version any of them gives for each name.
func KnownVersions(m map[string]uint64) FeedOption {
	return feedOpt(func(o *feedOptions) {
		if o.known == nil {
			o.known = make(map[string]uint64, len(m))
		}
		for name, v := range m {
			o.known[name] = max(o.known[name], v)
		}
	})
}

// Observer adds a function called once for every message a ModelFeed
// read, after it was handled, in offset order per partition; except for
// a message whose handling failed while Run's context was done, which
// the feed leaves to be read again by the next run, and the messages
// after it. Since different model names are handled concurrently, a
// message can be reported after later messages of its partition went
// live, but never after them: its event waits for every earlier
// message of the partition to be handled, so the offset after an event
// is always a safe place to resume. The calls for one partition never
// overlap, though they may come from different goroutines; fn must not
// block for long, as it holds back the partition's reading. A panic in
// fn is recovered and logged, and the feed goes on. A registry uses it
// to record model events and the offsets it has applied.
//
// Observer may be given several times, as by a program that passes its
// own beside a registry/kafkafeed Sync's FeedOptions: every function is
// called, in the order given, each even when one before it panics.
// NewModelFeed refuses Observer(nil) with serving.ErrConfig. The default
// is none.
func Observer(fn func(FeedEvent)) FeedOption {
	return feedOpt(func(o *feedOptions) { o.observers = append(o.observers, fn) })
}

// DeadLetterTopic sets the topic a Sink writes dead letters to,
// overriding the default of [DefaultDeadLetterTopic].
func DeadLetterTopic(t string) SinkOption { return sinkOpt(func(o *sinkOptions) { o.dlq = t }) }

// Topics sets the data topics a Source reads. A Source needs it: there
// is no default topic, so that a Source never reads a topic the program
// did not name, and NewSource refuses a Source without Topics with
// serving.ErrConfig.
func Topics(ts ...string) SourceOption {
	return sourceOpt(func(o *sourceOptions) { o.topics = slices.Clone(ts) })
}

// RecordCodec sets the codec that decodes a Source's record values,
// overriding the default of JSON{} (a JSON array of numbers, or an
// object of named numbers).
func RecordCodec(c Codec) SourceOption { return sourceOpt(func(o *sourceOptions) { o.codec = c }) }

// Window sets how many records of one partition may be in flight at once
// (read but not yet acknowledged by Kafka), overriding the default of
// 512.
//
// Memory per claimed partition is bounded by Window records in the
// pipeline plus what sarama's consumer buffers ahead of it: up to
// ChannelBufferSize decoded records (sarama's default, 256, unless
// changed through [Sarama]) and the rest of the fetch responses it holds,
// each at most Consumer.Fetch.Default bytes for the partition (1 MiB by
// default) unless a single record is larger. Window does not change
// sarama's buffer: lowering it bounds the records in flight, not those
// read ahead.
func Window(n int) SourceOption { return sourceOpt(func(o *sourceOptions) { o.window = n }) }

// Workers sets how many goroutines score records, shared by all
// partitions, overriding the default of runtime.GOMAXPROCS(0).
func Workers(n int) SourceOption { return sourceOpt(func(o *sourceOptions) { o.workers = n }) }

// CommitInterval sets how often acknowledged offsets are committed,
// overriding the default of one second. They are also committed when a
// partition is released and when the Source stops.
func CommitInterval(d time.Duration) SourceOption {
	return sourceOpt(func(o *sourceOptions) { o.interval = d })
}

// DrainTimeout sets how long, once Run's context is done, records in
// flight may still take to score, overriding the default of 30 seconds.
// Until then the Scorer runs with a context that is not cancelled, so
// that the records in flight are drained rather than failed. After it,
// the Scorer's context is cancelled: a record whose scoring then fails is
// abandoned, neither written nor dead-lettered, and neither its offset
// nor any later one of its partition is marked, so the next owner of the
// partition scores it again. A Scorer that ignores its context still
// holds Run until it returns.
func DrainTimeout(d time.Duration) SourceOption {
	return sourceOpt(func(o *sourceOptions) { o.drain = d })
}

// Hooks adds hooks to a Source: [HookDeadLetter], [HookCommit] and
// [HookLag] are called, on the Source's goroutines; values implementing
// none of them are ignored. A panic in a hook is recovered and logged,
// and the hooks after it are still called. The default is no hooks.
func Hooks(hs ...serving.Hook) SourceOption {
	return sourceOpt(func(o *sourceOptions) {
		for _, h := range hs {
			o.hooks.add(h)
		}
	})
}
