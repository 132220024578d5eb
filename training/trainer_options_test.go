package training

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelstream/modelstream/serving"
)

// recordingDetector keeps every value a Trainer feeds it and never fires.
type recordingDetector struct{ xs []float64 }

func (d *recordingDetector) Add(x float64) bool { d.xs = append(d.xs, x); return false }
func (d *recordingDetector) Reset()             {}

// TestDriftOnLossFeedsTheLoss: OnDrift's detector sees the 0/1 error of
// each record by default, and with DriftOnLoss its progressive loss (the
// logistic log loss of the model as it stood before the record: ln 2 for
// the first record, learned from zero weights). Nothing used DriftOnLoss
// before this test; dropping its branch now fails it.
func TestDriftOnLossFeedsTheLoss(t *testing.T) {
	data := conceptStream(200, 200, 5)
	run := func(opts ...TrainerOption) []float64 {
		l, err := NewLearner(Logistic, 3)
		if err != nil {
			t.Fatal(err)
		}
		det := &recordingDetector{}
		tr, err := NewTrainer("m", l, &sliceSource{data: data}, PublisherFunc(func(context.Context, serving.Descriptor) error { return nil }),
			append([]TrainerOption{OnDrift(det), WithLogger(quietLogger)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(det.xs) != len(data) {
			t.Fatalf("the detector saw %d values for %d records", len(det.xs), len(data))
		}
		return det.xs
	}
	for i, x := range run() {
		if x != 0 && x != 1 {
			t.Fatalf("default: value %d is %v, want a 0/1 error", i, x)
		}
	}
	losses := run(DriftOnLoss())
	if math.Abs(losses[0]-math.Ln2) > 1e-9 {
		t.Errorf("DriftOnLoss: first value %v, want the log loss ln 2 = %v", losses[0], math.Ln2)
	}
	fractional := 0
	for _, x := range losses {
		if x < 0 || math.IsNaN(x) || math.IsInf(x, 0) {
			t.Fatalf("DriftOnLoss: value %v is not a loss", x)
		}
		if x != 0 && x != 1 {
			fractional++
		}
	}
	if fractional < len(losses)/2 {
		t.Errorf("DriftOnLoss: only %d of %d values are not 0/1 errors", fractional, len(losses))
	}
}

// TestWithDescriptionIsPublished: the Description given with
// WithDescription is on every version published, with the training
// labels beside the ones of WithLabels. Nothing used WithDescription
// before this test.
func TestWithDescriptionIsPublished(t *testing.T) {
	l, err := NewLearner(Logistic, 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []serving.Descriptor
	pub := PublisherFunc(func(_ context.Context, d serving.Descriptor) error { got = append(got, d); return nil })
	tr, err := NewTrainer("m", l, &sliceSource{data: conceptStream(100, 100, 6)}, pub,
		EveryRecords(50), WithDescription("fraud, retrained hourly"), WithLabels(map[string]string{"team": "risk"}), WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(got) < 2 {
		t.Fatalf("%d versions published, want at least 2", len(got))
	}
	for _, d := range got {
		if d.Description != "fraud, retrained hourly" {
			t.Errorf("v%d: Description %q", d.Version, d.Description)
		}
		if d.Labels["team"] != "risk" || d.Labels[LabelTrigger] == "" {
			t.Errorf("v%d: labels %v, want team=risk beside the training labels", d.Version, d.Labels)
		}
	}
}

// TestMetricsMAEAndMerge: MAE is the mean of |prediction - target| over
// the predictions made before each record was learned (progressive
// validation), and Merge makes every mean one over the records of both.
// Neither was called by any test before.
func TestMetricsMAEAndMerge(t *testing.T) {
	learn := func(data []Sample) (Metrics, float64) {
		l, err := NewLearner(Logistic, 3)
		if err != nil {
			t.Fatal(err)
		}
		var abs float64
		for _, s := range data {
			p, err := l.Predict(s.Features)
			if err != nil {
				t.Fatal(err)
			}
			abs += math.Abs(p.Value - s.Target)
			if _, err := l.Learn(s); err != nil {
				t.Fatal(err)
			}
		}
		return l.Metrics(), abs / float64(len(data))
	}
	a, maeA := learn(conceptStream(300, 300, 7))
	b, maeB := learn(conceptStream(100, 0, 8))
	if math.Abs(a.MAE()-maeA) > 1e-12 || math.Abs(b.MAE()-maeB) > 1e-12 {
		t.Fatalf("MAE %v and %v, want %v and %v", a.MAE(), b.MAE(), maeA, maeB)
	}
	m := a
	m.Merge(b)
	mean := func(x, y float64) float64 { return (300*x + 100*y) / 400 }
	if m.Count() != 400 {
		t.Errorf("merged Count %d, want 400", m.Count())
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"Loss", m.Loss(), mean(a.Loss(), b.Loss())},
		{"Accuracy", m.Accuracy(), mean(a.Accuracy(), b.Accuracy())},
		{"MAE", m.MAE(), mean(maeA, maeB)},
	} {
		if math.Abs(c.got-c.want) > 1e-12 {
			t.Errorf("merged %s %v, want %v", c.name, c.got, c.want)
		}
	}
	if a.Count() != 300 {
		t.Errorf("Merge changed the Metrics it was given a copy of: %d", a.Count())
	}
}

// TestTrainerStatsAcrossARestart: a trainer restored from its
// checkpoint continues Records, Skipped, Version and Live from it, while
// Published and PublishFailures count this process's publications only,
// as TrainerStats' doc says.
func TestTrainerStatsAcrossARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ckpt")
	data := conceptStream(300, 300, 9)
	data[10].Features = []float64{math.NaN(), 0, 0} // skipped, in the first run
	run := func(src *sliceSource) (restored, after TrainerStats) {
		l, err := NewLearner(Logistic, 3)
		if err != nil {
			t.Fatal(err)
		}
		pub := PublisherFunc(func(context.Context, serving.Descriptor) error { return nil })
		tr, err := NewTrainer("m", l, src, pub, EveryRecords(100), WithCheckpoint(path, 50), WithLogger(quietLogger))
		if err != nil {
			t.Fatal(err)
		}
		restored = tr.Stats()
		if err := tr.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return restored, tr.Stats()
	}
	_, first := run(&sliceSource{data: data[:200]})
	if first.Records != 200 || first.Skipped != 1 || first.Published == 0 {
		t.Fatalf("first run: %+v", first)
	}
	restored, second := run(&sliceSource{data: data[200:]})
	if restored.Records != 200 || restored.Skipped != 1 || restored.Published != 0 {
		t.Errorf("restored, before Run: %+v, want Records 200, Skipped 1, Published 0", restored)
	}
	if second.Records != 300 || second.Skipped != 1 {
		t.Errorf("after the restart Records %d and Skipped %d, want 300 and 1: they continue from the checkpoint", second.Records, second.Skipped)
	}
	if second.Published != 1 {
		t.Errorf("after the restart Published %d, want 1: this process's publications", second.Published)
	}
	if second.Version != first.Version+1 || second.Live == "" || second.Live == first.Live {
		t.Errorf("Version %d Live %.8s after v%d %.8s: the numbering continues from the checkpoint", second.Version, second.Live, first.Version, first.Live)
	}
}

// TestPublishFailureIsCountedAndReported: a publication the Publisher
// refuses is counted in TrainerStats.PublishFailures and reported as an
// EventPublishFailed carrying its Trigger and the error, and the next
// one that succeeds as an EventPublished with its own Trigger. No test
// read PublishFailures or Event.Trigger before.
func TestPublishFailureIsCountedAndReported(t *testing.T) {
	l, err := NewLearner(Logistic, 3)
	if err != nil {
		t.Fatal(err)
	}
	errRefused := errors.New("refused")
	calls := 0
	pub := PublisherFunc(func(context.Context, serving.Descriptor) error {
		calls++
		if calls == 1 {
			return errRefused
		}
		return nil
	})
	var events []Event
	tr, err := NewTrainer("m", l, &sliceSource{data: conceptStream(100, 100, 10)}, pub,
		EveryRecords(50), WithObserver(func(e Event) { events = append(events, e) }), WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := tr.Stats(); st.PublishFailures != 1 || st.Published < 1 {
		t.Errorf("stats %+v, want 1 publish failure and a publication", st)
	}
	var failed, published []Event
	for _, e := range events {
		switch e.Kind {
		case EventPublishFailed:
			failed = append(failed, e)
		case EventPublished:
			published = append(published, e)
		}
	}
	if len(failed) != 1 || failed[0].Trigger != TriggerRecords || !errors.Is(failed[0].Err, errRefused) {
		for _, e := range failed {
			t.Logf("publish failed: trigger %q, err %v", e.Trigger, e.Err)
		}
		t.Errorf("%d publish-failed events, want one for trigger %q with the publisher's error", len(failed), TriggerRecords)
	}
	if len(published) == 0 || published[0].Trigger != TriggerRecords {
		t.Errorf("%d published events, want the next count trigger's (%q) first", len(published), TriggerRecords)
	}
}

// TestSampleErrorSaysWhere: a refused sample's *SampleError says which
// value is at fault (the feature's index, or -1 for the target), the
// value and why, and the learner is unchanged. Tests checked
// ErrInvalidSample only, never where.
func TestSampleErrorSaysWhere(t *testing.T) {
	for _, c := range []struct {
		name   string
		kind   Kind
		opts   []Option
		s      Sample
		index  int
		reason string
	}{
		{"NaN feature", Logistic, nil, Sample{Features: []float64{1, math.NaN(), 3}, Target: 1}, 1, "not finite"},
		{"infinite feature", Linear, nil, Sample{Features: []float64{1, 2, math.Inf(-1)}, Target: 1}, 2, "not finite"},
		{"NaN target", Linear, nil, Sample{Features: []float64{1, 2, 3}, Target: math.NaN()}, -1, "not finite"},
		{"logistic target 2", Logistic, nil, Sample{Features: []float64{1, 2, 3}, Target: 2}, -1, "[0, 1]"},
		{"softmax class 3 of 3", Softmax, []Option{WithClasses(3)}, Sample{Features: []float64{1, 2, 3}, Target: 3}, -1, "class index"},
	} {
		l, err := NewLearner(c.kind, 3, c.opts...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = l.Learn(c.s)
		var se *SampleError
		if !errors.As(err, &se) || !errors.Is(err, ErrInvalidSample) {
			t.Errorf("%s: %v, want a *SampleError wrapping ErrInvalidSample", c.name, err)
			continue
		}
		if se.Index != c.index || !strings.Contains(se.Reason, c.reason) {
			t.Errorf("%s: Index %d, Reason %q; want %d and %q", c.name, se.Index, se.Reason, c.index, c.reason)
		}
		if l.Metrics().Count() != 0 || l.Steps() != 0 {
			t.Errorf("%s: a refused sample changed the learner", c.name)
		}
	}
}

// TestOutcomeClassAndCorrect: the Outcome of Learn is the prediction
// made before learning the record: Class is the predicted class (the
// argmax for Softmax, p >= 0.5 for Logistic, round(Value) for Linear),
// Correct whether it matched the target, and the Corrects add up to the
// Metrics' accuracy. No test read Class or Correct.
func TestOutcomeClassAndCorrect(t *testing.T) {
	for _, kind := range []Kind{Linear, Logistic, Softmax} {
		var opts []Option
		if kind == Softmax {
			opts = append(opts, WithClasses(2))
		}
		l, err := NewLearner(kind, 3, opts...)
		if err != nil {
			t.Fatal(err)
		}
		correct := 0
		for i, s := range conceptStream(300, 300, 11) {
			p, err := l.Predict(s.Features)
			if err != nil {
				t.Fatal(err)
			}
			o, err := l.Learn(s)
			if err != nil {
				t.Fatal(err)
			}
			want := int(math.Round(p.Value))
			switch kind {
			case Logistic:
				want = 0
				if p.Value >= 0.5 {
					want = 1
				}
			case Softmax:
				want = 0
				if p.Values[1] > p.Values[0] {
					want = 1
				}
			}
			if i > 0 && o.Class != want { // the first record ties at p = 0.5
				t.Fatalf("%v record %d: Class %d, the prediction before learning says %d (%v)", kind, i, o.Class, want, p)
			}
			if o.Correct != (o.Class == int(s.Target)) {
				t.Fatalf("%v record %d: Correct %v for Class %d and target %v", kind, i, o.Correct, o.Class, s.Target)
			}
			if o.Correct {
				correct++
			}
		}
		if m := l.Metrics(); math.Abs(m.Accuracy()-float64(correct)/300) > 1e-12 {
			t.Errorf("%v: accuracy %v, the Corrects say %v", kind, m.Accuracy(), float64(correct)/300)
		}
	}
}

// TestDriftOptionsNeedADetector: DriftOnLoss without OnDrift, and
// OnDrift(nil), leave a trainer with no drift trigger while the program
// asked for one; NewTrainer accepted both, and the trainer never looked
// for drift. OnDrift of a nil *PageHinkley (a detector whose
// constructor's error was dropped) was accepted too, and Run panicked at
// its first record.
func TestDriftOptionsNeedADetector(t *testing.T) {
	l, err := NewLearner(Logistic, 3)
	if err != nil {
		t.Fatal(err)
	}
	nop := PublisherFunc(func(context.Context, serving.Descriptor) error { return nil })
	none, _ := NewPageHinkley(PHLambda(-1)) // nil: its constructor failed
	for name, opts := range map[string][]TrainerOption{
		"DriftOnLoss alone":            {DriftOnLoss()},
		"OnDrift(nil)":                 {OnDrift(nil)},
		"OnDrift(nil) and DriftOnLoss": {OnDrift(nil), DriftOnLoss()},
		"OnDrift(nil *PageHinkley)":    {OnDrift(none)},
	} {
		if _, err := NewTrainer("m", l, &sliceSource{}, nop, opts...); !errors.Is(err, serving.ErrConfig) {
			t.Errorf("%s: %v, want serving.ErrConfig", name, err)
		}
	}
	if _, err := NewTrainer("m", l, &sliceSource{}, nop, OnDrift(&recordingDetector{}), DriftOnLoss()); err != nil {
		t.Errorf("OnDrift and DriftOnLoss: %v", err)
	}
}
