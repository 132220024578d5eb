package training

import (
	"context"
	"io"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/feedback"
	"github.com/modelstream/modelstream/serving/wire"
)

// liveLoop is the loop of TestLiveDriftRetrains: a Server scores each
// record with its live version, the record's truth is joined to the
// score, a Page-Hinkley detector watches the live 0/1 error and reports
// drift to a Trainer, which learns the same labelled records and
// publishes to the Server.
type liveLoop struct {
	srv       *serving.Server
	tr        *Trainer
	accepted  int // reports the trainer took
	published []serving.Descriptor
	liveAt    map[uint64]int // version -> first record it scored
	wrong     []bool         // per record scored, by the live version
}

func runLiveLoop(t *testing.T, change int) *liveLoop {
	t.Helper()
	ctx := context.Background()
	data := conceptStream(7000, change, 5)
	srv, err := serving.NewServer(serving.WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	// v1, learned offline on the first 1,000 records, goes live.
	first, _ := NewLearner(Logistic, 3)
	for _, s := range data[:1000] {
		if _, err := first.Learn(s); err != nil {
			t.Fatal(err)
		}
	}
	d, err := first.Snapshot("m", "")
	if err != nil {
		t.Fatal(err)
	}
	d.Version = 1
	if _, err := srv.Activate(ctx, d); err != nil {
		t.Fatal(err)
	}

	lp := &liveLoop{srv: srv, liveAt: map[uint64]int{}}
	var mu sync.Mutex // guards published: the observer runs on Run's goroutine
	l, _ := NewLearner(Logistic, 3)
	src := make(chanSource)
	tr, err := NewTrainer("m", l, src, ServerPublisher(srv), RetrainOnDrift(300), WithLogger(quietLogger),
		WithObserver(func(e Event) {
			if e.Kind == EventPublished {
				mu.Lock()
				lp.published = append(lp.published, e.Descriptor)
				mu.Unlock()
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	lp.tr = tr
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- tr.Run(rctx) }()

	ph, _ := NewPageHinkley()
	feed, err := feedback.Drift(ph.Add, func(m feedback.Match) float64 {
		if (m.Score.Prediction.Value >= 0.5) == (m.Label.Value == 1) {
			return 0
		}
		return 1
	}, func(m feedback.Match) {
		if tr.ReportDrift(m.Score.Provenance.Model) {
			lp.accepted++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	j, _ := feedback.NewJoiner(time.Hour, 1000)
	model := srv.Model("m")
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	for i, s := range data[1000:] {
		key := strconv.Itoa(i)
		at := t0.Add(time.Duration(i) * time.Millisecond)
		res, err := model.Score(ctx, serving.Record{Key: []byte(key), Features: s.Features})
		if err != nil {
			t.Fatal(err)
		}
		v := res.Provenance.Model.Version
		if _, ok := lp.liveAt[v]; !ok {
			lp.liveAt[v] = i + 1000
		}
		lp.wrong = append(lp.wrong, (res.Value >= 0.5) != (s.Target == 1))
		j.AddScore(key, wire.Score{Key: key, Prediction: res.Prediction, Provenance: res.Provenance}, at)
		// The truth arrives after the score, and the trainer learns the
		// labelled record.
		m, ok := j.AddLabel(feedback.Label{Key: key, Value: s.Target, Time: at})
		if !ok {
			t.Fatalf("record %d: the label did not join", i)
		}
		if err := feed(m); err != nil {
			t.Fatal(err)
		}
		src <- s
	}
	// Wait until the trainer has learned every record it was sent, then stop it.
	for tr.Stats().Records < int64(len(data)-1000) {
		time.Sleep(time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return lp
}

func (lp *liveLoop) errorRate(from, to int) float64 {
	n := 0
	for _, w := range lp.wrong[from-1000 : to-1000] {
		if w {
			n++
		}
	}
	return float64(n) / float64(to-from)
}

// TestLiveDriftRetrains closes the loop from live outcomes to
// retraining: the concept of the labels changes at record 4,000; the
// drift detector on the live error of the served v1 fires soon after,
// the trainer (with no detector of its own) retrains on the records
// after the change and publishes v2, which goes live and serves the new
// concept well. The reports about v1 that come after v2 went live are
// refused, so exactly one version is published. Without the change,
// nothing is published.
func TestLiveDriftRetrains(t *testing.T) {
	const change = 4000
	lp := runLiveLoop(t, change)
	t.Logf("accepted reports %d, published %d, live from %v, stats %+v", lp.accepted, len(lp.published), lp.liveAt, lp.tr.Stats())
	if len(lp.published) != 1 {
		t.Fatalf("published %d versions, want 1", len(lp.published))
	}
	d := lp.published[0]
	if d.Version != 2 || d.Labels[LabelTrigger] != string(TriggerLiveDrift) || d.Labels[LabelParentVersion] != "1" {
		t.Errorf("published v%d, labels %v", d.Version, d.Labels)
	}
	if ref, _ := lp.srv.Current("m"); ref.Version != 2 {
		t.Errorf("live: %v, want v2", ref)
	}
	at, ok := lp.liveAt[2]
	if !ok || at <= change+300 || at > change+1000 {
		t.Fatalf("v2 went live at record %d (ok %v), want within 1,000 records after the change at %d", at, ok, change)
	}
	before, between, after := lp.errorRate(1000, change), lp.errorRate(change, at), lp.errorRate(at+200, 7000)
	t.Logf("live error: %.3f before the change, %.3f until v2, %.3f after", before, between, after)
	if before > 0.1 || between < 0.5 || after > 0.1 {
		t.Errorf("live error %.3f before the change, %.3f until v2, %.3f after: want low, high, low", before, between, after)
	}
	if st := lp.tr.Stats(); st.Drifts != 1 || st.Published != 1 {
		t.Errorf("trainer stats %+v", st)
	}
	// A report about v1, now retired, is refused; one about another
	// model too.
	if lp.tr.ReportDrift(serving.ModelRef{Name: "m", Version: 1}) || lp.tr.ReportDrift(serving.ModelRef{Name: "other", Version: 2}) {
		t.Error("a stale or foreign report was taken")
	}

	still := runLiveLoop(t, 1<<30)
	if len(still.published) != 0 || still.accepted != 0 || still.tr.Stats().Drifts != 0 {
		t.Errorf("without a change: %d reports taken, published %v", still.accepted, still.published)
	}
	if ref, _ := still.srv.Current("m"); ref.Version != 1 {
		t.Errorf("live without a change: %v", ref)
	}
}

// Without RetrainOnDrift, a reported drift publishes the learner as it
// stands with the next record; reports made before that record count
// once, and a report about a version older than the last published one
// is refused and changes nothing.
func TestReportDriftPublishesAtOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var published []serving.Descriptor
	pub := PublisherFunc(func(_ context.Context, d serving.Descriptor) error { published = append(published, d); return nil })
	l, _ := NewLearner(Logistic, 3)
	src := make(chanSource)
	tr, err := NewTrainer("m", l, src, pub, WithBaseVersion(4, ""), WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	data := conceptStream(40, 1<<30, 3)
	sent := int64(0)
	send := func(ss []Sample) { // and wait until they are learned
		for _, s := range ss {
			src <- s
		}
		sent += int64(len(ss))
		for tr.Stats().Records < sent {
			time.Sleep(time.Millisecond)
		}
	}
	send(data[:10])
	if !tr.ReportDrift(serving.ModelRef{Name: "m", Version: 4}) || !tr.ReportDrift(serving.ModelRef{Name: "m", Version: 4}) {
		t.Fatal("a report about the live v4 was refused")
	}
	send(data[10:20])
	// v5 is out: a report about v4 is now stale, one about v5 is not.
	for tr.Stats().Published < 1 { // the record is counted before the publication ends
		time.Sleep(time.Millisecond)
	}
	if tr.ReportDrift(serving.ModelRef{Name: "m", Version: 4}) {
		t.Error("a report about the retired v4 was taken")
	}
	send(data[20:30])
	if !tr.ReportDrift(serving.ModelRef{Name: "m", Version: 5}) {
		t.Error("a report about the live v5 was refused")
	}
	send(data[30:])
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(published) != 2 || published[0].Version != 5 || published[1].Version != 6 {
		t.Fatalf("published %d versions: %+v", len(published), published)
	}
	for _, d := range published {
		if d.Labels[LabelTrigger] != string(TriggerLiveDrift) {
			t.Errorf("v%d trigger %q", d.Version, d.Labels[LabelTrigger])
		}
	}
	if want := []string{"11", "31"}; published[0].Labels[LabelTotalRecords] != want[0] || published[1].Labels[LabelTotalRecords] != want[1] {
		t.Errorf("published after %s and %s records, want %v", published[0].Labels[LabelTotalRecords], published[1].Labels[LabelTotalRecords], want)
	}
	if st := tr.Stats(); st.Drifts != 2 || st.Published != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestReportBeforeRunJudgedWhenTaken: a report made before Run is
// judged again when Run takes it, against the version Run found
// published: one about an older version is dropped, one about that
// version publishes. Nothing tested the second judgement, so taking
// every report that was accepted when made passed the tests, and a late
// report about a retired version retrained its successor.
func TestReportBeforeRunJudgedWhenTaken(t *testing.T) {
	for _, tc := range []struct {
		reported  uint64
		published int
	}{{3, 0}, {7, 1}} {
		var mu sync.Mutex
		var published []serving.Descriptor
		pub := PublisherFunc(func(_ context.Context, d serving.Descriptor) error {
			mu.Lock()
			defer mu.Unlock()
			published = append(published, d)
			return nil
		})
		l, _ := NewLearner(Logistic, 3)
		src := make(chanSource)
		tr, err := NewTrainer("m", l, src, pub, WithBaseVersion(7, ""), WithLogger(quietLogger))
		if err != nil {
			t.Fatal(err)
		}
		if !tr.ReportDrift(serving.ModelRef{Name: "m", Version: tc.reported}) {
			t.Fatalf("v%d: a report before Run, when no version is known yet, was refused", tc.reported)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- tr.Run(ctx) }()
		for _, s := range conceptStream(10, 1<<30, 3) {
			src <- s
		}
		for tr.Stats().Records < 10 {
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		n := len(published)
		mu.Unlock()
		if n != tc.published {
			t.Errorf("a report about v%d with v7 published when Run started: %d versions published, want %d", tc.reported, n, tc.published)
		}
	}
}

// TestLiveDriftRetrainSurvivesARestart: a trainer stopped in the middle
// of a retrain that a live-drift report started resumes it from its
// checkpoint and publishes the retrained version as live_drift, after
// the records the retrain still needed. Nothing restarted such a
// trainer, and a checkpoint without the retrain's cause passed every
// test (the version came out labelled "drift").
func TestLiveDriftRetrainSurvivesARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ckpt")
	data := conceptStream(30, 1<<30, 3)
	var mu sync.Mutex
	var published []serving.Descriptor
	pub := PublisherFunc(func(_ context.Context, d serving.Descriptor) error {
		mu.Lock()
		defer mu.Unlock()
		published = append(published, d)
		return nil
	})
	run := func(ss []Sample, report bool) {
		l, _ := NewLearner(Logistic, 3)
		src := make(chanSource)
		tr, err := NewTrainer("m", l, src, pub, RetrainOnDrift(20), WithCheckpoint(path, 1), WithLogger(quietLogger))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- tr.Run(ctx) }()
		if report && !tr.ReportDrift(serving.ModelRef{Name: "m"}) {
			t.Fatal("report refused")
		}
		before := tr.Stats().Records
		for _, s := range ss {
			src <- s
		}
		for tr.Stats().Records < before+int64(len(ss)) {
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	run(data[:10], true) // the report is taken with the first record: 20 to go, 9 learned
	mu.Lock()
	n := len(published)
	mu.Unlock()
	if n != 0 {
		t.Fatalf("published %d versions before the retrain ended", n)
	}
	run(data[10:], false)
	mu.Lock()
	defer mu.Unlock()
	if len(published) != 1 || published[0].Labels[LabelTrigger] != string(TriggerLiveDrift) || published[0].Labels[LabelTotalRecords] != "21" {
		for _, d := range published {
			t.Logf("v%d: %v", d.Version, d.Labels)
		}
		t.Fatalf("published %d versions, want one live_drift retrain after record 21", len(published))
	}
}

// A report about an older version, checked while that version was
// still the newest but stored after a report about its successor, must
// not replace the successor's: Run would then find only the older one,
// stale, and the successor's drift would be lost. ReportDrift kept the
// last report stored, so this failed (no drift taken).
func TestReportDriftKeepsTheNewest(t *testing.T) {
	for _, newer := range []uint64{5, 0} { // 0: the current version
		l, err := NewLearner(Logistic, 3)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := NewTrainer("m", l, SourceFunc(func(context.Context) (Sample, error) { return Sample{}, io.EOF }),
			PublisherFunc(func(context.Context, serving.Descriptor) error { return nil }))
		if err != nil {
			t.Fatal(err)
		}
		tr.st.ParentVer = 4
		if !tr.ReportDrift(serving.ModelRef{Name: "m", Version: newer}) || !tr.ReportDrift(serving.ModelRef{Name: "m", Version: 4}) {
			t.Fatal("a report that is not stale was refused")
		}
		tr.st.ParentVer = 5 // v5 went out before Run came to the reports
		if !tr.takeReport() {
			t.Errorf("the report about v%d was lost behind an older one about v4", newer)
		}
		if tr.takeReport() {
			t.Error("a report was taken twice")
		}
	}
}
