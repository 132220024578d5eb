package feedback

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/quality"
	"github.com/modelstream/modelstream/serving/wire"
)

// Label is the truth about one scored record, read from the feedback
// topic.
type Label struct {
	// Key is the join key: the input record's key, or its position
	// (see [InputKey]), as the Joiner was told to join by.
	Key string `json:"key"`
	// Value is the truth as a number: 0 or 1 for a binary outcome, the
	// class index of a multiclass one, the actual value of a regression.
	// It is 0, and means nothing, when the feedback gives only Class.
	Value float64 `json:"value"`
	// Class is the true class's name, when the feedback names it. When
	// set, [Observe] reads the truth by this name,
	// not by Value.
	Class string `json:"class,omitempty"`
	// Time is when the truth was recorded (the feedback record's
	// timestamp).
	Time time.Time `json:"time"`
}

// Match is a score joined to its label.
type Match struct {
	Score wire.Score `json:"score"`
	// ScoreTime is the score record's timestamp.
	ScoreTime time.Time `json:"score_time"`
	Label     Label     `json:"label"`
}

// Variant returns the variant that routed the scored record: that of
// the outermost Decision that names one, following the winning
// candidate's nested Decision, or "". It is the Variant of the score's
// quality.KeyOf.
func (m Match) Variant() string { return quality.KeyOf(m.Score.Provenance).Variant }

// InputKey is the join key of an input record by position:
// "topic/partition/offset".
func InputKey(topic string, partition int32, offset int64) string {
	return topic + "/" + strconv.FormatInt(int64(partition), 10) + "/" + strconv.FormatInt(offset, 10)
}

// Stats counts what a Joiner has seen. Every label ends up counted once
// as Joined, Duplicate, Late or Unknown (or is still pending); every score
// as Joined, Unlabelled, DuplicateScores (or still pending); entries
// pushed out of a full buffer count as Overflow as well as Unlabelled or
// Unknown.
type Stats struct {
	// Scores and Labels count the records offered.
	Scores uint64 `json:"scores"`
	Labels uint64 `json:"labels"`
	// Joined counts scores joined to a label; Early those of them whose
	// label arrived first.
	Joined uint64 `json:"joined"`
	Early  uint64 `json:"early"`
	// Duplicates counts labels for a key already labelled; they are
	// dropped, the first label counts.
	Duplicates uint64 `json:"duplicates"`
	// DuplicateScores counts scores for a key already scored (an
	// at-least-once redelivery), whether that score waits, was joined or
	// left unlabelled (as far as the Joiner remembers keys); they are
	// dropped.
	DuplicateScores uint64 `json:"duplicate_scores"`
	// Late counts labels that arrived after their score left the window
	// unlabelled; Unknown labels that matched no score at all.
	Late    uint64 `json:"late"`
	Unknown uint64 `json:"unknown"`
	// Unlabelled counts scores whose label did not arrive within the
	// window.
	Unlabelled uint64 `json:"unlabelled"`
	// Overflow counts pending entries pushed out because a buffer was
	// full.
	Overflow uint64 `json:"overflow"`
	// PendingScores and PendingLabels are the entries waiting now.
	PendingScores int `json:"pending_scores"`
	PendingLabels int `json:"pending_labels"`
}

// Joiner joins labels to scores by key within a window of event time,
// in bounded memory. It reads nothing itself: package
// serving/feedback/feedbackkafka feeds it from Kafka topics, and tests or
// other transports can drive it directly.
//
// A score waits for its label until the labels' event time passes the
// score's time plus the window; a label that arrives before its score
// waits until the scores' event time passes the label's time plus the
// window. The event times are advanced by [Joiner.Advance]. Waiting on the other stream's
// time, not the clock's, is what keeps a feedback topic that lags far
// behind from marking every score unlabelled: its scores wait, up to
// the buffer's bound.
//
// At most max scores and max labels wait at once; beyond, the oldest is
// pushed out and counted. The keys of the last max joined and the last
// max expired scores are remembered, to tell duplicate and late labels
// from unknown ones.
//
// A Joiner is safe for concurrent use.
type Joiner struct {
	mu     sync.Mutex
	window time.Duration
	max    int
	scores pending[wire.Score]
	labels pending[Label]
	joined recent
	gone   recent // scores that expired unlabelled
	scoreT time.Time
	labelT time.Time
	stats  Stats
}

// NewJoiner returns a Joiner with the given window and buffer bound. It
// returns an error wrapping serving.ErrConfig unless window > 0 and
// max >= 1.
func NewJoiner(window time.Duration, max int) (*Joiner, error) {
	if window <= 0 || max < 1 {
		return nil, fmt.Errorf("%w: feedback: NewJoiner(%v, %d): need a positive window and bound", serving.ErrConfig, window, max)
	}
	return &Joiner{window: window, max: max, scores: newPending[wire.Score](), labels: newPending[Label](), joined: newRecent(max), gone: newRecent(max)}, nil
}

// AddScore offers a score with key and timestamp t, and returns the
// match it completes when its label arrived first.
func (j *Joiner) AddScore(key string, s wire.Score, t time.Time) (Match, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.stats.Scores++
	// A key remembered as joined or as gone unlabelled was scored
	// already, as one waiting was: a redelivery.
	if j.joined.has(key) || j.scores.has(key) || j.gone.has(key) {
		j.stats.DuplicateScores++
		return Match{}, false
	}
	if l, ok := j.labels.take(key); ok {
		j.stats.Joined++
		j.stats.Early++
		j.joined.add(key)
		return Match{Score: s, ScoreTime: t, Label: l}, true
	}
	if j.scores.len() >= j.max {
		j.stats.Overflow++
		j.stats.Unlabelled++
		k, _, _ := j.scores.pop()
		j.gone.add(k)
	}
	j.scores.put(key, s, t)
	return Match{}, false
}

// AddLabel offers a label, and returns the match it completes if its
// score is waiting.
func (j *Joiner) AddLabel(l Label) (Match, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.stats.Labels++
	switch {
	case j.joined.has(l.Key) || j.labels.has(l.Key):
		j.stats.Duplicates++
		return Match{}, false
	case j.gone.has(l.Key):
		j.stats.Late++
		return Match{}, false
	}
	if s, t, ok := j.scores.takeWithTime(l.Key); ok {
		j.stats.Joined++
		j.joined.add(l.Key)
		return Match{Score: s, ScoreTime: t, Label: l}, true
	}
	if j.labels.len() >= j.max {
		j.stats.Overflow++
		j.stats.Unknown++
		j.labels.pop()
	}
	j.labels.put(l.Key, l, l.Time)
	return Match{}, false
}

// Advance moves the streams' event times forward to scores and labels
// (a time earlier than the current one is ignored) and expires the
// entries that the other stream's time has passed by more than the
// window. The times are watermarks: a promise that no record older than
// them is still to come on that stream. With one partition per topic the
// latest record's timestamp will do; with several, it is the least of
// the partitions' latest timestamps, leaving out partitions that have
// nothing more to read, which is what serving/feedback/feedbackkafka
// computes.
func (j *Joiner) Advance(scores, labels time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if scores.After(j.scoreT) {
		j.scoreT = scores
	}
	if labels.After(j.labelT) {
		j.labelT = labels
	}
	j.expire()
}

// expire drops the entries the other stream's time has passed; j.mu is
// held.
func (j *Joiner) expire() {
	for {
		k, t, ok := j.scores.front()
		if !ok || !j.labelT.After(t.Add(j.window)) {
			break
		}
		j.scores.pop()
		j.gone.add(k)
		j.stats.Unlabelled++
	}
	for {
		_, t, ok := j.labels.front()
		if !ok || !j.scoreT.After(t.Add(j.window)) {
			break
		}
		j.labels.pop()
		j.stats.Unknown++
	}
}

// Stats returns the counters.
func (j *Joiner) Stats() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := j.stats
	s.PendingScores, s.PendingLabels = j.scores.len(), j.labels.len()
	return s
}

// joinState is the JSON form of a Joiner's state.
type joinState struct {
	Scores []entry[wire.Score] `json:"scores"`
	Labels []entry[Label]      `json:"labels"`
	Joined []string            `json:"joined"`
	Gone   []string            `json:"gone"`
	ScoreT time.Time           `json:"score_time"`
	LabelT time.Time           `json:"label_time"`
	Stats  Stats               `json:"stats"`
}

// MarshalBinary implements encoding.BinaryMarshaler: the pending
// entries, the remembered keys, both streams' times and the counters, as
// JSON.
func (j *Joiner) MarshalBinary() ([]byte, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return json.Marshal(joinState{
		Scores: j.scores.entries(), Labels: j.labels.entries(),
		Joined: j.joined.keys(), Gone: j.gone.keys(),
		ScoreT: j.scoreT, LabelT: j.labelT, Stats: j.stats,
	})
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler: it replaces the
// Joiner's state with one saved by MarshalBinary. Entries beyond the
// Joiner's bound are dropped as overflow. Data that is not a saved state
// (one holding a waiting key twice included) is refused with an error
// wrapping [serving.ErrCorruptState], and leaves the Joiner as it was.
func (j *Joiner) UnmarshalBinary(data []byte) error {
	var st joinState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("%w: feedback: %v", serving.ErrCorruptState, err)
	}
	// A saved state holds each waiting key once: a key waiting both as a
	// score and as a label would have joined.
	seen := make(map[string]bool, len(st.Scores))
	for _, e := range st.Scores {
		if seen[e.Key] {
			return fmt.Errorf("%w: feedback: score key %q waits twice", serving.ErrCorruptState, e.Key)
		}
		seen[e.Key] = true
	}
	labels := make(map[string]bool, len(st.Labels))
	for _, e := range st.Labels {
		if labels[e.Key] || seen[e.Key] {
			return fmt.Errorf("%w: feedback: label key %q waits twice, or as a score too", serving.ErrCorruptState, e.Key)
		}
		labels[e.Key] = true
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.scores, j.labels = newPending[wire.Score](), newPending[Label]()
	j.joined, j.gone = newRecent(j.max), newRecent(j.max)
	for _, k := range st.Joined {
		j.joined.add(k)
	}
	for _, k := range st.Gone {
		j.gone.add(k)
	}
	j.stats, j.scoreT, j.labelT = st.Stats, st.ScoreT, st.LabelT
	for _, e := range st.Scores {
		if j.scores.len() >= j.max {
			j.stats.Overflow++
			j.stats.Unlabelled++
			continue
		}
		j.scores.put(e.Key, e.Value, e.Time)
	}
	for _, e := range st.Labels {
		if j.labels.len() >= j.max {
			j.stats.Overflow++
			j.stats.Unknown++
			continue
		}
		j.labels.put(e.Key, e.Value, e.Time)
	}
	return nil
}

// entry is one waiting score or label.
type entry[V any] struct {
	Key   string    `json:"key"`
	Value V         `json:"value"`
	Time  time.Time `json:"time"`
	dead  bool
}

// pending is a map of waiting entries with their arrival order, so the
// oldest is found in O(1); taken entries stay in the queue as dead
// until they reach its front.
type pending[V any] struct {
	byKey map[string]*entry[V]
	queue []*entry[V]
	head  int
}

func newPending[V any]() pending[V] { return pending[V]{byKey: map[string]*entry[V]{}} }

func (p *pending[V]) len() int            { return len(p.byKey) }
func (p *pending[V]) has(key string) bool { _, ok := p.byKey[key]; return ok }

func (p *pending[V]) put(key string, v V, t time.Time) {
	e := &entry[V]{Key: key, Value: v, Time: t}
	p.byKey[key] = e
	p.queue = append(p.queue, e)
}

func (p *pending[V]) take(key string) (V, bool) {
	v, _, ok := p.takeWithTime(key)
	return v, ok
}

func (p *pending[V]) takeWithTime(key string) (V, time.Time, bool) {
	e, ok := p.byKey[key]
	if !ok {
		var zero V
		return zero, time.Time{}, false
	}
	delete(p.byKey, key)
	e.dead = true
	p.compact()
	return e.Value, e.Time, true
}

// front returns the oldest live entry.
func (p *pending[V]) front() (string, time.Time, bool) {
	p.compact()
	if p.head >= len(p.queue) {
		return "", time.Time{}, false
	}
	e := p.queue[p.head]
	return e.Key, e.Time, true
}

func (p *pending[V]) pop() (string, V, bool) {
	p.compact()
	if p.head >= len(p.queue) {
		var zero V
		return "", zero, false
	}
	e := p.queue[p.head]
	p.queue[p.head] = nil
	p.head++
	delete(p.byKey, e.Key)
	return e.Key, e.Value, true
}

// compact skips dead entries at the front and reclaims the queue's
// consumed prefix once it is half of it.
func (p *pending[V]) compact() {
	for p.head < len(p.queue) && p.queue[p.head].dead {
		p.queue[p.head] = nil
		p.head++
	}
	if p.head > 64 && p.head*2 > len(p.queue) {
		p.queue = append(p.queue[:0], p.queue[p.head:]...)
		p.head = 0
	}
	// Dead entries in the middle are bounded too: a queue more than
	// twice the live entries is rebuilt.
	if live := len(p.byKey); len(p.queue)-p.head > 2*live+64 {
		q := p.queue[:0]
		for _, e := range p.queue[p.head:] {
			if !e.dead {
				q = append(q, e)
			}
		}
		clear(p.queue[len(q):])
		p.queue, p.head = q, 0
	}
}

func (p *pending[V]) entries() []entry[V] {
	out := make([]entry[V], 0, len(p.byKey))
	for _, e := range p.queue[p.head:] {
		if !e.dead {
			out = append(out, *e)
		}
	}
	return out
}

// recent remembers the last n keys added.
type recent struct {
	ring []string
	next int
	set  map[string]int // key -> occurrences in ring
}

func newRecent(n int) recent { return recent{ring: make([]string, 0, n), set: map[string]int{}} }

func (r *recent) has(k string) bool { return r.set[k] > 0 }

func (r *recent) add(k string) {
	if len(r.ring) < cap(r.ring) {
		r.ring = append(r.ring, k)
	} else {
		old := r.ring[r.next]
		if r.set[old]--; r.set[old] <= 0 {
			delete(r.set, old)
		}
		r.ring[r.next] = k
		r.next = (r.next + 1) % len(r.ring)
	}
	r.set[k]++
}

// keys returns the keys oldest first.
func (r *recent) keys() []string {
	if len(r.ring) < cap(r.ring) {
		return append([]string(nil), r.ring...)
	}
	return append(append([]string(nil), r.ring[r.next:]...), r.ring[:r.next]...)
}

// ReaderStats counts what a reader of a scores stream and a feedback
// stream has done, beside its Joiner's Stats: the counters of a
// feedbackkafka.Reader. It is declared here, not beside the Kafka reader,
// so that an observer such as serving/metrics can export it without
// linking a Kafka client.
type ReaderStats struct {
	Stats
	// BadScores and BadLabels count records that could not be decoded.
	BadScores uint64 `json:"bad_scores"`
	BadLabels uint64 `json:"bad_labels"`
	// MatchErrors counts matches whose function returned an error.
	MatchErrors uint64 `json:"match_errors"`
	// FeedbackErrors counts failures to read the feedback topic: it is
	// missing, was deleted, or a fetch failed. ScoreErrors the same for
	// the scores topic.
	FeedbackErrors uint64 `json:"feedback_errors"`
	ScoreErrors    uint64 `json:"score_errors"`
	// FeedbackLag is the number of feedback records written but not yet
	// read, as of the last check; -1 before the first.
	FeedbackLag int64 `json:"feedback_lag"`
	// Checkpoints counts checkpoints written.
	Checkpoints uint64 `json:"checkpoints"`
}
