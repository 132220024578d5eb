package feedback

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/quality"
	"github.com/modelstream/modelstream/serving/wire"
)

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func score(v float64) wire.Score { return wire.Score{Prediction: serving.Prediction{Value: v}} }

// streams drives a Joiner as two one-partition streams would: each
// record's time advances its stream.
type streams struct{ *Joiner }

func (s streams) AddScore(k string, sc wire.Score, t time.Time) (Match, bool) {
	m, ok := s.Joiner.AddScore(k, sc, t)
	s.Advance(t, time.Time{})
	return m, ok
}

func (s streams) AddLabel(l Label) (Match, bool) {
	m, ok := s.Joiner.AddLabel(l)
	s.Advance(time.Time{}, l.Time)
	return m, ok
}

func newStreams(w time.Duration, n int) streams { j, _ := NewJoiner(w, n); return streams{j} }

func TestJoinBothOrders(t *testing.T) {
	j := newStreams(time.Minute, 100)
	if _, ok := j.AddScore("a", score(0.9), at(0)); ok {
		t.Fatal("a score alone matched")
	}
	m, ok := j.AddLabel(Label{Key: "a", Value: 1, Time: at(5)})
	if !ok || m.Score.Prediction.Value != 0.9 || m.Label.Value != 1 || !m.ScoreTime.Equal(at(0)) {
		t.Fatalf("score then label: %+v %v", m, ok)
	}
	// The label first: it waits for its score.
	if _, ok := j.AddLabel(Label{Key: "b", Value: 0, Time: at(6)}); ok {
		t.Fatal("a label alone matched")
	}
	if m, ok := j.AddScore("b", score(0.2), at(4)); !ok || m.Label.Key != "b" {
		t.Fatalf("label then score: %+v %v", m, ok)
	}
	st := j.Stats()
	if st.Joined != 2 || st.Early != 1 || st.PendingScores != 0 || st.PendingLabels != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestJoinBadInput(t *testing.T) {
	j := newStreams(time.Minute, 100)
	j.AddScore("a", score(1), at(0))
	j.AddLabel(Label{Key: "a", Value: 1, Time: at(1)})
	// A duplicated label, for a joined key and for a waiting one.
	j.AddLabel(Label{Key: "a", Value: 0, Time: at(2)})
	j.AddLabel(Label{Key: "w", Value: 0, Time: at(2)})
	j.AddLabel(Label{Key: "w", Value: 1, Time: at(2)})
	// A duplicated score (a redelivery).
	j.AddScore("a", score(1), at(3))
	j.AddScore("s", score(1), at(3))
	j.AddScore("s", score(1), at(3))
	// The labels' time moves past s's window: s is never labelled, and
	// its label, arriving after, is late.
	j.AddLabel(Label{Key: "x", Value: 1, Time: at(200)})
	if _, ok := j.AddLabel(Label{Key: "s", Value: 1, Time: at(201)}); ok {
		t.Fatal("a late label matched")
	}
	// The scores' time moves past the waiting labels: they match no
	// score, unknown keys.
	j.AddScore("y", score(1), at(400))
	st := j.Stats()
	want := Stats{Scores: 5, Labels: 6, Joined: 1, Duplicates: 2, DuplicateScores: 2, Late: 1, Unknown: 2, Unlabelled: 1, PendingScores: 1}
	if st != want {
		t.Errorf("stats\n got %+v\nwant %+v", st, want)
	}
}

// A score redelivered after it left the window unlabelled is a
// duplicate, as one redelivered while it waits is: it was taken as a
// new score, waited again, made its label count as late while it
// waited, and was counted unlabelled twice.
func TestJoinScoreRedeliveredAfterExpiry(t *testing.T) {
	j := newStreams(time.Minute, 100)
	j.AddScore("s", score(1), at(0))
	j.AddLabel(Label{Key: "x", Value: 1, Time: at(200)}) // s leaves the window unlabelled
	j.AddScore("s", score(1), at(0))                     // redelivered
	if _, ok := j.AddLabel(Label{Key: "s", Value: 1, Time: at(201)}); ok {
		t.Fatal("a late label matched")
	}
	j.AddLabel(Label{Key: "z", Value: 1, Time: at(400)})
	st := j.Stats()
	want := Stats{Scores: 2, Labels: 3, DuplicateScores: 1, Late: 1, Unlabelled: 1, PendingLabels: 2}
	if st != want {
		t.Errorf("stats\n got %+v\nwant %+v", st, want)
	}
}

// A feedback stream that lags far behind expires nothing: the scores
// wait on the labels' time, up to the bound, and the overflow is
// counted.
func TestJoinLaggingFeedbackBounded(t *testing.T) {
	j := newStreams(time.Minute, 50)
	for i := range 200 {
		j.AddScore(fmt.Sprint(i), score(1), at(i*10)) // 2000s of scores, no labels
	}
	st := j.Stats()
	if st.PendingScores != 50 || st.Overflow != 150 || st.Unlabelled != 150 {
		t.Errorf("stats %+v", st)
	}
	// The most recent ones still join when the feedback catches up; its
	// time then expires those older than a minute before it.
	if _, ok := j.AddLabel(Label{Key: "199", Value: 1, Time: at(1995)}); !ok {
		t.Error("the newest waiting score did not join")
	}
	if st := j.Stats(); st.PendingScores != 5 || st.Unlabelled != 150+44 {
		t.Errorf("after the feedback caught up: %+v", st)
	}
	if _, ok := j.AddLabel(Label{Key: "190", Value: 1, Time: at(1995)}); ok {
		t.Error("an expired score joined")
	}
	if _, ok := j.AddLabel(Label{Key: "10", Value: 1, Time: at(1995)}); ok {
		t.Error("an overflowed score joined")
	}
	if st := j.Stats(); st.Late != 1 || st.PendingLabels != 1 {
		t.Errorf("a late label, and one for a score long forgotten: %+v", st)
	}
	// Labels for unknown keys are bounded the same way.
	for i := range 200 {
		j.AddLabel(Label{Key: fmt.Sprint("u", i), Value: 1, Time: at(2000)})
	}
	if st := j.Stats(); st.PendingLabels != 50 || st.Unknown != 151 || st.Overflow != 150+151 {
		t.Errorf("unknown labels: %+v", st)
	}
}

func TestJoinStateRoundTrip(t *testing.T) {
	j := newStreams(time.Minute, 10)
	j.AddScore("a", score(0.3), at(0))
	j.AddScore("b", score(0.6), at(1))
	j.AddLabel(Label{Key: "b", Value: 1, Time: at(2)})
	j.AddLabel(Label{Key: "c", Value: 0, Class: "ok", Time: at(3)})
	data, err := j.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	k := newStreams(time.Minute, 10)
	if err := k.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if k.Stats() != j.Stats() {
		t.Errorf("restored stats %+v, want %+v", k.Stats(), j.Stats())
	}
	// The restored joiner goes on as the original would: a duplicate is
	// still a duplicate, waiting entries still join.
	if _, ok := k.AddLabel(Label{Key: "b", Value: 1, Time: at(4)}); ok {
		t.Error("duplicate joined after restore")
	}
	if m, ok := k.AddLabel(Label{Key: "a", Value: 1, Time: at(4)}); !ok || m.Score.Prediction.Value != 0.3 {
		t.Error("waiting score lost in restore")
	}
	if m, ok := k.AddScore("c", score(0.1), at(4)); !ok || m.Label.Class != "ok" {
		t.Error("waiting label lost in restore")
	}
	if err := k.UnmarshalBinary([]byte("nope")); !errors.Is(err, serving.ErrCorruptState) {
		t.Errorf("garbage state: %v", err)
	}
}

func TestNewJoinerValidates(t *testing.T) {
	for _, c := range []struct {
		w time.Duration
		n int
	}{{0, 1}, {time.Second, 0}, {-time.Second, 5}} {
		if _, err := NewJoiner(c.w, c.n); !errors.Is(err, serving.ErrConfig) {
			t.Errorf("NewJoiner(%v, %d): %v", c.w, c.n, err)
		}
	}
}

// Memory stays bounded over a long run of joins in both orders.
func TestJoinQueueCompacts(t *testing.T) {
	j := newStreams(time.Hour, 100)
	for i := range 100000 {
		k := fmt.Sprint(i)
		if i%2 == 0 {
			j.AddScore(k, score(1), at(i))
			j.AddLabel(Label{Key: k, Time: at(i)})
		} else {
			j.AddLabel(Label{Key: k, Time: at(i)})
			j.AddScore(k, score(1), at(i))
		}
	}
	if n := len(j.scores.queue) + len(j.labels.queue); n > 300 {
		t.Errorf("queues hold %d entries for %d waiting", n, j.scores.len()+j.labels.len())
	}
	if st := j.Stats(); st.Joined != 100000 {
		t.Errorf("joined %d", st.Joined)
	}
}

func TestObserve(t *testing.T) {
	tr, _ := quality.NewTracker(4)
	prov := serving.Provenance{Model: serving.ModelRef{Name: "m", Version: 2}, Decision: &serving.Decision{Variant: "canary"}}
	bin := mustObserve(t, tr, Binary)
	for _, c := range []struct {
		p, y float64
	}{{0.9, 1}, {0.2, 0}, {0.7, 0}} {
		if err := bin(Match{Score: wire.Score{Prediction: serving.Prediction{Value: c.p}, Provenance: prov}, Label: Label{Value: c.y}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := bin(Match{Score: wire.Score{Prediction: serving.Prediction{Value: 0.5}, Provenance: prov}, Label: Label{Value: 2}}); !errors.Is(err, serving.ErrOutcome) {
		t.Errorf("binary label 2: %v", err)
	}
	mc := mustObserve(t, tr, Multiclass)
	if err := mc(Match{Score: wire.Score{Prediction: serving.Prediction{Values: []float64{0.1, 0.7, 0.2}}, Provenance: prov}, Label: Label{Value: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := mc(Match{Score: wire.Score{Prediction: serving.Prediction{Values: []float64{0.1, 0.7}}, Provenance: prov}, Label: Label{Value: 5}}); !errors.Is(err, serving.ErrOutcome) {
		t.Errorf("class out of range: %v", err)
	}
	mustObserve(t, tr, Regression)(Match{Score: wire.Score{Prediction: serving.Prediction{Value: 3}, Provenance: prov}, Label: Label{Value: 5}})
	meter, _ := tr.Meter(quality.Key{Model: "m", Version: 2, Variant: "canary"})
	s := meter.Summary()
	if s.Accuracy.N != 4 || s.Accuracy.Value != 0.75 || s.AUC.N != 3 || s.MAE.Value != 2 || s.Refused != 2 {
		t.Errorf("summary %+v", s)
	}
}

// Labels that name their class ("red") are compared by name with the
// prediction's Label, not read as class 0; a name outside the classes is
// refused, counted, and reported as an unknown class.
func TestObserveClassNames(t *testing.T) {
	tr, _ := quality.NewTracker(4)
	prov := func(v uint64) serving.Provenance {
		return serving.Provenance{Model: serving.ModelRef{Name: "wine", Version: v}}
	}
	named := func(v uint64, p serving.Prediction, class string) Match {
		return Match{Score: wire.Score{Prediction: p, Provenance: prov(v)}, Label: Label{Class: class}}
	}
	// Binary: Value is P(second class); the model says "red" (p 0.8) twice.
	bin, _ := Observe(tr, Binary, "white", "red")
	red := serving.Prediction{Value: 0.8, Label: "red", Confidence: 0.8}
	for _, c := range []string{"red", "red", "white", "rose"} {
		err := bin(named(1, red, c))
		if c == "rose" {
			if !unknownClass(err) {
				t.Errorf("unknown class %q: %v", c, err)
			}
		} else if err != nil {
			t.Fatal(err)
		}
	}
	// Without the class list, a binary label is compared with the
	// prediction's own Label.
	for _, c := range []string{"red", "white"} {
		if err := mustObserve(t, tr, Binary)(named(2, red, c)); err != nil {
			t.Fatal(err)
		}
	}
	if err := mustObserve(t, tr, Binary)(named(2, serving.Prediction{Value: 0.8}, "red")); !unknownClass(err) {
		t.Errorf("a prediction without a Label: %v", err)
	}
	// Multiclass: probabilities in the order of the classes.
	mc, _ := Observe(tr, Multiclass, "red", "white", "rose")
	p := serving.Prediction{Values: []float64{0.2, 0.5, 0.3}, Label: "white"}
	for _, c := range []string{"white", "rose", "white", "green"} {
		if err := mc(named(3, p, c)); (err != nil) != (c == "green") || (err != nil && !unknownClass(err)) {
			t.Errorf("class %q: %v", c, err)
		}
	}
	if err := mustObserve(t, tr, Multiclass)(named(3, p, "white")); !unknownClass(err) {
		t.Errorf("multiclass names without the class list: %v", err)
	}
	sum := func(v uint64) quality.Summary {
		m, _ := tr.Meter(quality.Key{Model: "wine", Version: v})
		return m.Summary()
	}
	if s := sum(1); s.Accuracy.N != 3 || math.Abs(s.Accuracy.Value-2.0/3) > 1e-12 || s.AUC.N != 3 || s.Refused != 1 ||
		math.Abs(s.LogLoss.Value-(-2*math.Log(0.8)-math.Log(0.2))/3) > 1e-12 {
		t.Errorf("binary by name: %+v", s)
	}
	if s := sum(2); s.Accuracy.N != 2 || s.Accuracy.Value != 0.5 || s.Refused != 1 {
		t.Errorf("binary by the prediction's Label: %+v", s)
	}
	if s := sum(3); s.Accuracy.N != 3 || math.Abs(s.Accuracy.Value-2.0/3) > 1e-12 || s.Refused != 2 ||
		math.Abs(s.LogLoss.Value-(-2*math.Log(0.5)-math.Log(0.3))/3) > 1e-12 {
		t.Errorf("multiclass by name: %+v", s)
	}
	if _, err := Observe(tr, Multiclass, "a", "a"); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("duplicate class names: %v", err)
	}
}

// TestJoinStateRefusesDuplicateKeys: a saved state never holds a key
// twice among the waiting scores, twice among the waiting labels, or
// both waiting as a score and as a label (the two would have joined).
// Such data is refused with serving.ErrCorruptState, and the Joiner
// keeps its state.
// It was accepted: the map kept one entry and the queue two, so the
// counts and the expiry of the key went wrong.
func TestJoinStateRefusesDuplicateKeys(t *testing.T) {
	sc := func(k string) entry[wire.Score] { return entry[wire.Score]{Key: k, Value: score(0.5), Time: at(1)} }
	lb := func(k string) entry[Label] {
		return entry[Label]{Key: k, Value: Label{Key: k, Value: 1, Time: at(1)}, Time: at(1)}
	}
	for name, st := range map[string]joinState{
		"score twice":         {Scores: []entry[wire.Score]{sc("a"), sc("b"), sc("a")}},
		"label twice":         {Labels: []entry[Label]{lb("a"), lb("a")}},
		"score and label too": {Scores: []entry[wire.Score]{sc("a")}, Labels: []entry[Label]{lb("a")}},
	} {
		data, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		j := newStreams(time.Minute, 10)
		j.AddScore("kept", score(0.1), at(0))
		before := j.Stats()
		if err := j.UnmarshalBinary(data); !errors.Is(err, serving.ErrCorruptState) {
			t.Errorf("%s: %v, want ErrCorruptState", name, err)
		}
		if j.Stats() != before {
			t.Errorf("%s: a refused state changed the Joiner: %+v, was %+v", name, j.Stats(), before)
		}
	}
}

// TestObserveBinaryNameWhenTheModelSaidNegative: without the class
// list, a binary label by name is placed by the prediction's Label also
// when the model chose the negative class (Value < 0.5): a truth naming
// that class is a right answer. TestObserveClassNames only had the model
// choose the positive class, so reading any name equal to the Label as
// the positive class passed it.
func TestObserveBinaryNameWhenTheModelSaidNegative(t *testing.T) {
	tr, _ := quality.NewTracker(4)
	observe := mustObserve(t, tr, Binary)
	white := serving.Prediction{Value: 0.2, Label: "white", Confidence: 0.8}
	model := serving.Provenance{Model: serving.ModelRef{Name: "wine", Version: 1}}
	for _, c := range []string{"white", "white", "red"} {
		if err := observe(Match{Score: wire.Score{Prediction: white, Provenance: model}, Label: Label{Class: c}}); err != nil {
			t.Fatal(err)
		}
	}
	m, _ := tr.Meter(quality.Key{Model: "wine", Version: 1})
	if s := m.Summary(); s.Accuracy.N != 3 || math.Abs(s.Accuracy.Value-2.0/3) > 1e-12 ||
		math.Abs(s.LogLoss.Value-(-2*math.Log(0.8)-math.Log(0.2))/3) > 1e-12 {
		t.Errorf("the model said white (p 0.2 of red), the truth was white, white, red: %+v", s)
	}
}

// TestObserveValidates: every configuration Observe documents as an
// error is one, wrapping serving.ErrConfig. A binary task given three
// classes was not tested, and went unchecked in a mutant that passed
// every test.
func TestObserveValidates(t *testing.T) {
	tr, _ := quality.NewTracker(4)
	for _, tc := range []struct {
		task    Task
		classes []string
	}{
		{Binary, []string{"ok", "fraud", "maybe"}},
		{Binary, []string{"ok"}},
		{Multiclass, []string{"red"}},
		{Multiclass, []string{"red", ""}},
		{Multiclass, []string{"red", "white", "red"}},
		{Regression, []string{"low", "high"}},
	} {
		if _, err := Observe(tr, tc.task, tc.classes...); !errors.Is(err, serving.ErrConfig) {
			t.Errorf("Observe(%v, %q): %v, want ErrConfig", tc.task, tc.classes, err)
		}
	}
	for _, task := range []Task{0, Regression + 1} {
		if _, err := Observe(tr, task); !errors.Is(err, serving.ErrConfig) {
			t.Errorf("Observe(task %d): %v, want ErrConfig", task, err)
		}
	}
	if _, err := Observe(nil, Binary); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("Observe(nil Tracker): %v, want ErrConfig", err)
	}
	for _, task := range []Task{Binary, Multiclass, Regression} {
		if _, err := Observe(tr, task); err != nil {
			t.Errorf("Observe(%v) without classes: %v", task, err)
		}
	}
	if _, err := Observe(tr, Binary, "ok", "fraud"); err != nil {
		t.Errorf("two binary classes: %v", err)
	}
}

// unknownClass reports whether err refuses an outcome for naming an
// unknown class.
func unknownClass(err error) bool {
	return errors.Is(err, serving.ErrOutcome) && strings.Contains(err.Error(), "feedback: unknown class")
}

// mustObserve is Observe for a configuration that must be valid.
func mustObserve(t *testing.T, tr *quality.Tracker, task Task, classes ...string) func(Match) error {
	t.Helper()
	observe, err := Observe(tr, task, classes...)
	if err != nil {
		t.Fatal(err)
	}
	return observe
}
