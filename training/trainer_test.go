package training

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
)

// sliceSource replays samples from a committed position, like a
// consumer group: after a restart it resumes from the last commit.
type sliceSource struct {
	mu        sync.Mutex
	data      []Sample
	next      int
	committed int
	failAt    int // Next fails with errCrash at this index, when > 0
	commits   int
}

var errCrash = errors.New("simulated crash")

func (s *sliceSource) Next(ctx context.Context) (Sample, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return Sample{}, err
	}
	if s.failAt > 0 && s.next == s.failAt {
		return Sample{}, errCrash
	}
	if s.next >= len(s.data) {
		return Sample{}, io.EOF
	}
	x := s.data[s.next]
	s.next++
	return Sample{Features: clone(x.Features), Target: x.Target}, nil
}

// Commit records the position of the last sample handed out.
func (s *sliceSource) Commit(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.committed = s.next
	s.commits++
	return nil
}

// restart returns a source that resumes from the last commit, as a
// consumer group does.
func (s *sliceSource) restart() *sliceSource {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &sliceSource{data: s.data, next: s.committed, committed: s.committed}
}

// conceptStream is a logistic concept whose first coefficient flips sign
// at record change.
func conceptStream(n, change int, seed uint64) []Sample {
	r := rand.New(rand.NewPCG(seed, 21))
	out := make([]Sample, n)
	for i := range out {
		x := []float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64()}
		z := 3*x[0] + x[1]
		if i >= change {
			z = -3*x[0] + x[1]
		}
		y := 0.0
		if z > 0 {
			y = 1
		}
		out[i] = Sample{Features: x, Target: y}
	}
	return out
}

func TestTrainerPublishesLineage(t *testing.T) {
	ctx := context.Background()
	srv, err := serving.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var published []serving.Descriptor
	l, _ := NewLearner(Logistic, 3)
	src := &sliceSource{data: conceptStream(2500, 1<<30, 1)}
	tr, err := NewTrainer("m", l, src, ServerPublisher(srv), EveryRecords(1000),
		WithLabels(map[string]string{"trainer": "test"}),
		WithObserver(func(e Event) {
			if e.Kind == EventPublished {
				published = append(published, e.Descriptor)
				// The served model is exactly the learner at this moment.
				x := []float64{0.3, -0.2, 0.1}
				want, _ := l.Predict(x)
				res, err := srv.Model("m").Score(ctx, serving.Record{Features: x})
				if err != nil || math.Float64bits(res.Value) != math.Float64bits(want.Value) || res.Provenance.Model.Version != e.Descriptor.Version {
					t.Errorf("served %+v (%v), learner %+v", res, err, want)
				}
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(ctx); err != nil {
		t.Fatal(err)
	}
	// 1000, 2000, and the final 500.
	if len(published) != 3 {
		t.Fatalf("published %d versions, want 3", len(published))
	}
	wantTrig := []Trigger{TriggerRecords, TriggerRecords, TriggerFinal}
	for i, d := range published {
		if d.Version != uint64(i+1) || d.Labels[LabelTrigger] != string(wantTrig[i]) || d.Labels["trainer"] != "test" {
			t.Errorf("version %d: %+v", i, d.Labels)
		}
		if i > 0 && (d.Parent != published[i-1].SHA256 || d.Labels[LabelParentVersion] != strconv.Itoa(i)) {
			t.Errorf("version %d: parent %q (%s), want %q", d.Version, d.Parent, d.Labels[LabelParentVersion], published[i-1].SHA256)
		}
		if d.Labels[LabelLoss] == "" || d.Labels[LabelAccuracy] == "" || d.Labels[LabelWindowAccuracy] == "" {
			t.Errorf("version %d lacks metrics: %v", d.Version, d.Labels)
		}
	}
	if published[0].Parent != "" || published[2].Labels[LabelRecords] != "2500" || published[2].Labels[LabelWindowRecords] != "500" {
		t.Errorf("labels: %v / %v", published[0].Labels, published[2].Labels)
	}
	if ref, _ := srv.Current("m"); ref.Version != 3 {
		t.Errorf("server runs %v, want v3", ref)
	}
	if st := tr.Stats(); st.Published != 3 || st.Records != 2500 || st.Live != published[2].SHA256 {
		t.Errorf("stats %+v", st)
	}
}

// TestTrainerRetrainsOnDrift flips the concept at record 4000 and checks
// that the detector fires soon after, never before, and that the
// retrained version serves the new concept well.
func TestTrainerRetrainsOnDrift(t *testing.T) {
	ctx := context.Background()
	srv, _ := serving.NewServer()
	defer srv.Close()
	const change = 4000
	data := conceptStream(8000, change, 2)
	det, _ := NewPageHinkley(PHLambda(20))
	l, _ := NewLearner(Logistic, 3)
	var drifts []int64
	var versions []serving.Descriptor
	tr, err := NewTrainer("m", l, &sliceSource{data: data}, ServerPublisher(srv),
		OnDrift(det), RetrainOnDrift(300), EveryRecords(2000),
		WithObserver(func(e Event) {
			switch e.Kind {
			case EventDrift:
				drifts = append(drifts, e.Records)
			case EventPublished:
				versions = append(versions, e.Descriptor)
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("drift at record %d detected at %v; versions published at %v", change, drifts, recordsOf(versions))
	if len(drifts) != 1 || drifts[0] <= change || drifts[0] > change+400 {
		t.Fatalf("drift events at %v, want exactly one within 400 records after %d", drifts, change)
	}
	var retrained *serving.Descriptor
	for i := range versions {
		if versions[i].Labels[LabelTrigger] == string(TriggerDrift) {
			retrained = &versions[i]
		}
	}
	if retrained == nil {
		t.Fatal("no version published for the drift")
	}
	m, err := serving.Load(ctx, *retrained)
	if err != nil {
		t.Fatal(err)
	}
	correct := 0
	for _, s := range data[change+1000:] {
		p, _ := m.Predict(ctx, s.Features)
		if (p.Value >= 0.5) == (s.Target == 1) {
			correct++
		}
	}
	acc := float64(correct) / float64(len(data)-change-1000)
	t.Logf("the retrained version (records %s) scores %.3f on the new concept", retrained.Labels[LabelRecords], acc)
	if acc < 0.9 {
		t.Errorf("retrained model accuracy %.3f on the new concept, want at least 0.9", acc)
	}
}

func recordsOf(ds []serving.Descriptor) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Labels[LabelTotalRecords]+"/"+d.Labels[LabelTrigger])
	}
	return out
}

// TestTrainerResumesAfterCrash runs a trainer that crashes mid-stream,
// restarts it from its checkpoint and the source's committed position,
// and checks that it ends bit-identical to a trainer that never crashed,
// with the same published lineage.
func TestTrainerResumesAfterCrash(t *testing.T) {
	ctx := context.Background()
	data := conceptStream(5000, 2500, 3)
	run := func(src *sliceSource, path string) (*Learner, []serving.Descriptor, error) {
		var pubs []serving.Descriptor
		pub := PublisherFunc(func(_ context.Context, d serving.Descriptor) error {
			pubs = append(pubs, d)
			return nil
		})
		det, _ := NewPageHinkley(PHLambda(20))
		l, _ := NewLearner(Logistic, 3)
		tr, err := NewTrainer("m", l, src, pub, EveryRecords(700), OnDrift(det), RetrainOnDrift(200), WithCheckpoint(path, 250))
		if err != nil {
			return nil, nil, err
		}
		return l, pubs, tr.Run(ctx)
	}
	dir := t.TempDir()
	ref, refPubs, err := run(&sliceSource{data: data}, filepath.Join(dir, "ref"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "crash")
	src := &sliceSource{data: data, failAt: 3333}
	if _, _, err := run(src, path); !errors.Is(err, errCrash) {
		t.Fatalf("first run: %v, want the simulated crash", err)
	}
	lost := 3333 - src.committed
	t.Logf("crashed at record 3333; last commit at %d, so %d records are replayed", src.committed, lost)
	if lost < 0 || lost > 250 {
		t.Errorf("a crash lost %d records, want at most the checkpoint interval", lost)
	}
	got, gotPubs, err := run(src.restart(), path)
	if err != nil {
		t.Fatal(err)
	}
	sameBits(t, "weights after resuming", got.w, ref.w)
	sameBits(t, "predictions after resuming", predictAll(t, got, data[:100]), predictAll(t, ref, data[:100]))
	if got.Metrics() != ref.Metrics() {
		t.Errorf("metrics %+v, want %+v", got.Metrics(), ref.Metrics())
	}
	last, refLast := gotPubs[len(gotPubs)-1], refPubs[len(refPubs)-1]
	if last.Version != refLast.Version || last.SHA256 != refLast.SHA256 || last.Parent != refLast.Parent {
		t.Errorf("last version after resuming: v%d %s parent %s; uninterrupted: v%d %s parent %s",
			last.Version, last.SHA256[:8], last.Parent, refLast.Version, refLast.SHA256[:8], refLast.Parent)
	}
}

func TestTrainerPublishFailureKeepsLineage(t *testing.T) {
	fail := true
	var ok []serving.Descriptor
	pub := PublisherFunc(func(_ context.Context, d serving.Descriptor) error {
		if fail {
			fail = false
			return errors.New("broker down")
		}
		ok = append(ok, d)
		return nil
	})
	l, _ := NewLearner(Logistic, 3)
	var failures int
	tr, _ := NewTrainer("m", l, &sliceSource{data: conceptStream(300, 1<<30, 4)}, pub, EveryRecords(100),
		WithObserver(func(e Event) {
			if e.Kind == EventPublishFailed {
				failures++
			}
		}))
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if failures != 1 || len(ok) != 2 || ok[0].Version != 2 || ok[1].Version != 3 || ok[0].Parent != "" || ok[1].Parent != ok[0].SHA256 ||
		ok[0].Labels[LabelParentVersion] != "" || ok[1].Labels[LabelParentVersion] != "2" {
		t.Fatalf("failures %d, published %v", failures, recordsOf(ok))
	}
}

func TestTrainerRefusesCorruptCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c")
	os.WriteFile(path, []byte("MSCKPT01 not really"), 0o600)
	l, _ := NewLearner(Linear, 1)
	_, err := NewTrainer("m", l, &sliceSource{}, PublisherFunc(func(context.Context, serving.Descriptor) error { return nil }), WithCheckpoint(path, 10))
	if !errors.Is(err, serving.ErrCorruptState) {
		t.Fatalf("NewTrainer over a corrupt checkpoint: %v", err)
	}
}

func TestTrainerStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	src := SourceFunc(func(ctx context.Context) (Sample, error) {
		n++
		if n == 50 {
			cancel()
		}
		if err := ctx.Err(); err != nil {
			return Sample{}, err
		}
		return Sample{Features: []float64{1}, Target: 1}, nil
	})
	l, _ := NewLearner(Linear, 1)
	path := filepath.Join(t.TempDir(), "c")
	tr, _ := NewTrainer("m", l, src, PublisherFunc(func(context.Context, serving.Descriptor) error { return nil }), WithCheckpoint(path, 1000))
	if err := tr.Run(ctx); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	if _, err := restoreLearner(path); err == nil {
		t.Fatal("the shutdown checkpoint holds a trainer, not a bare learner, and should not restore as one")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no checkpoint saved on shutdown: %v", err)
	}
}

// chanSource is a Source over a channel; it loses nothing when its
// context ends.
type chanSource chan Sample

func (c chanSource) Next(ctx context.Context) (Sample, error) {
	select {
	case s, ok := <-c:
		if !ok {
			return Sample{}, io.EOF
		}
		return s, nil
	case <-ctx.Done():
		return Sample{}, ctx.Err()
	}
}

func TestTrainerEveryInterval(t *testing.T) {
	src := make(chanSource)
	published := make(chan serving.Descriptor, 10)
	pub := PublisherFunc(func(_ context.Context, d serving.Descriptor) error {
		published <- d
		return nil
	})
	l, _ := NewLearner(Linear, 1)
	tr, err := NewTrainer("m", l, src, pub, EveryInterval(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- tr.Run(context.Background()) }()
	for i := 0; i < 5; i++ {
		src <- Sample{Features: []float64{float64(i)}, Target: float64(i)}
	}
	// The source now idles; the interval trigger must publish the five
	// records without waiting for more.
	n := 0
	for d := range published {
		n++
		if d.Labels[LabelTrigger] != string(TriggerInterval) {
			t.Errorf("version %d: trigger %v", d.Version, d.Labels[LabelTrigger])
		}
		if d.Labels[LabelRecords] == "5" {
			break
		}
	}
	close(src)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Nothing new was learned, so no final version follows.
	if len(published) != 0 {
		t.Errorf("%d extra versions published", len(published))
	}
	if st := tr.Stats(); st.Published != int64(n) {
		t.Errorf("stats %+v", st)
	}
}

// Without a checkpoint, the only durable state is the published
// versions: a shutdown must not commit the records learned since the
// last one, or a restart would never see them again.
func TestTrainerShutdownWithoutCheckpointCommitsOnlyPublished(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	data := &sliceSource{data: conceptStream(1000, 1<<30, 5)}
	// Stop with 50 records learned past the second version.
	src := committingSource{SourceFunc(func(ctx context.Context) (Sample, error) {
		if data.next == 250 {
			cancel()
		}
		return data.Next(ctx)
	}), data}
	var published int
	pub := PublisherFunc(func(context.Context, serving.Descriptor) error { published++; return nil })
	l, _ := NewLearner(Logistic, 3)
	tr, err := NewTrainer("m", l, src, pub, EveryRecords(100), WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if published != 2 || tr.Stats().Records != 250 {
		t.Fatalf("published %d, learned %d; want 2 versions and 250 records", published, tr.Stats().Records)
	}
	if data.committed != 200 {
		t.Errorf("committed up to %d after a shutdown without checkpoint, want 200 (the last published version)", data.committed)
	}
	// With nothing learned since the last version, the shutdown commits.
	ctx, cancel = context.WithCancel(context.Background())
	data = &sliceSource{data: conceptStream(1000, 1<<30, 5)}
	src.Source = SourceFunc(func(ctx context.Context) (Sample, error) {
		if data.next == 200 {
			cancel()
		}
		return data.Next(ctx)
	})
	src.c = data
	l, _ = NewLearner(Logistic, 3)
	tr, _ = NewTrainer("m", l, src, pub, EveryRecords(100), WithLogger(quietLogger))
	if err := tr.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if data.committed != 200 {
		t.Errorf("committed up to %d, want 200", data.committed)
	}
}

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// committingSource pairs a Source with another's Commit.
type committingSource struct {
	Source
	c Committer
}

func (c committingSource) Commit(ctx context.Context) error { return c.c.Commit(ctx) }

// A checkpoint that could never be written is refused up front, not
// after the trainer has learned its first n records.
func TestTrainerRefusesUnwritableCheckpointPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	nop := PublisherFunc(func(context.Context, serving.Descriptor) error { return nil })
	for name, path := range map[string]string{
		"missing directory": filepath.Join(dir, "missing", "c"),
		"file as directory": filepath.Join(file, "c"),
	} {
		l, _ := NewLearner(Linear, 1)
		if _, err := NewTrainer("m", l, &sliceSource{}, nop, WithCheckpoint(path, 10)); !errors.Is(err, serving.ErrConfig) {
			t.Errorf("%s: %v, want serving.ErrConfig", name, err)
		}
	}
	if _, err := NewTrainer("m", func() *Learner { l, _ := NewLearner(Linear, 1); return l }(), &sliceSource{}, nop,
		WithCheckpoint(filepath.Join(dir, "missing", "c"), 10)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing directory: %v, want fs.ErrNotExist too", err)
	}
}
